// SPDX-License-Identifier: MIT
//
// The client's message code against messages built here the way the kernel
// builds them (uapi/linux/ktlsaccel.h): every attribute lands in its field,
// the multi-attr latency buckets keep their order, a wrong length is a
// protocol error rather than garbage, unknown attributes are ignored, and
// requests carry exactly the attributes that were set.

#include "cli_fixtures.h"
#include "control_msg.hpp"

#include <linux/ktlsaccel.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <gtest/gtest.h>

#include <map>
#include <vector>
#include <memory>

using namespace ktlsaccel;

namespace {

constexpr int kFamily = 0x1d;

struct MsgDeleter {
	void operator()(nl_msg *m) const { nlmsg_free(m); }
};
using Msg = std::unique_ptr<nl_msg, MsgDeleter>;

Msg new_msg(int cmd)
{
	Msg m(nlmsg_alloc());
	genlmsg_put(m.get(), 0, 0, kFamily, 0, 0, static_cast<std::uint8_t>(cmd),
		    KTLSACCEL_GENL_VERSION);
	return m;
}

/* nla_put_u64_64bit: a pad attribute first when the u64 would be misaligned. */
void put_u64(nl_msg *m, int type, std::uint64_t v, int pad)
{
	nla_put(m, pad, 0, nullptr);
	nla_put_u64(m, type, v);
}

void put_stats(nl_msg *m, int type, const control::stats &s)
{
	nlattr *n = nla_nest_start(m, type);
	const int pad = KTLSACCEL_A_STATS_PAD;
	put_u64(m, KTLSACCEL_A_STATS_SUBMITTED, s.submitted, pad);
	put_u64(m, KTLSACCEL_A_STATS_COMPLETED, s.completed, pad);
	put_u64(m, KTLSACCEL_A_STATS_ERRORS, s.errors, pad);
	put_u64(m, KTLSACCEL_A_STATS_BACKLOGGED, s.backlogged, pad);
	put_u64(m, KTLSACCEL_A_STATS_REJECTED, s.rejected, pad);
	put_u64(m, KTLSACCEL_A_STATS_INLINED, s.inlined, pad);
	put_u64(m, KTLSACCEL_A_STATS_FAULTS, s.faults, pad);
	put_u64(m, KTLSACCEL_A_STATS_BYTES, s.bytes, pad);
	nla_put_u32(m, KTLSACCEL_A_STATS_IN_FLIGHT, s.in_flight);
	nla_put_u32(m, KTLSACCEL_A_STATS_MAX_IN_FLIGHT, s.max_in_flight);
	put_u64(m, KTLSACCEL_A_STATS_INLINE_WAITER, s.inline_waiter, pad);
	put_u64(m, KTLSACCEL_A_STATS_INLINE_LONE, s.inline_lone, pad);
	put_u64(m, KTLSACCEL_A_STATS_INLINE_FULL, s.inline_full, pad);
	put_u64(m, KTLSACCEL_A_STATS_INLINE_POLICY, s.inline_policy, pad);
	put_u64(m, KTLSACCEL_A_STATS_HELD, s.held, pad);
	for (auto b : s.latency)
		put_u64(m, KTLSACCEL_A_STATS_LATENCY, b, pad);
	nla_nest_end(m, n);
}

Msg device_msg(const control::device_info &d)
{
	Msg m = new_msg(KTLSACCEL_CMD_DEV_GET);
	nl_msg *p = m.get();
	nla_put_u32(p, KTLSACCEL_A_DEV_PRIORITY, d.priority);
	nla_put_u32(p, KTLSACCEL_A_DEV_QUEUES, d.queues);
	nla_put_u32(p, KTLSACCEL_A_DEV_DEPTH, d.depth);
	nla_put_u32(p, KTLSACCEL_A_DEV_DISPATCH, static_cast<std::uint32_t>(d.dispatch));
	nla_put_u32(p, KTLSACCEL_A_DEV_LATENCY_US, d.latency_us);
	put_u64(p, KTLSACCEL_A_DEV_THROUGHPUT, d.throughput, KTLSACCEL_A_DEV_PAD);
	nla_put_u32(p, KTLSACCEL_A_DEV_INLINE_THRESHOLD, d.inline_threshold);
	nla_put_u32(p, KTLSACCEL_A_DEV_DECRYPT, static_cast<std::uint32_t>(d.decrypt));
	nla_put_u32(p, KTLSACCEL_A_DEV_FLOWS, d.flows);
	nla_put_u32(p, KTLSACCEL_A_DEV_INLINE, static_cast<std::uint32_t>(d.inline_mode));
	for (const auto &b : d.backends) {
		nlattr *n = nla_nest_start(p, KTLSACCEL_A_DEV_BACKEND);
		nla_put_string(p, KTLSACCEL_A_BACKEND_ALG, b.alg.c_str());
		nla_put_u32(p, KTLSACCEL_A_BACKEND_MODE, static_cast<std::uint32_t>(b.mode));
		if (!b.driver.empty())
			nla_put_string(p, KTLSACCEL_A_BACKEND_DRIVER, b.driver.c_str());
		nla_nest_end(p, n);
	}
	nlattr *f = nla_nest_start(p, KTLSACCEL_A_DEV_FAULT);
	nla_put_u32(p, KTLSACCEL_A_FAULT_RATE, d.fault.rate);
	nla_put_u32(p, KTLSACCEL_A_FAULT_ERRNO, d.fault.error);
	nla_put_u32(p, KTLSACCEL_A_FAULT_OPS, static_cast<std::uint32_t>(d.fault.ops));
	nla_put_u32(p, KTLSACCEL_A_FAULT_DELAY_US, d.fault.delay_us);
	if (d.fault.stall_queue)
		nla_put_u32(p, KTLSACCEL_A_FAULT_STALL_QUEUE, *d.fault.stall_queue);
	nla_nest_end(p, f);
	put_stats(p, KTLSACCEL_A_DEV_STATS, d.stats);
	return m;
}

void expect_stats_eq(const control::stats &a, const control::stats &b)
{
	EXPECT_EQ(a.submitted, b.submitted);
	EXPECT_EQ(a.completed, b.completed);
	EXPECT_EQ(a.errors, b.errors);
	EXPECT_EQ(a.backlogged, b.backlogged);
	EXPECT_EQ(a.rejected, b.rejected);
	EXPECT_EQ(a.inlined, b.inlined);
	EXPECT_EQ(a.faults, b.faults);
	EXPECT_EQ(a.bytes, b.bytes);
	EXPECT_EQ(a.in_flight, b.in_flight);
	EXPECT_EQ(a.max_in_flight, b.max_in_flight);
	EXPECT_EQ(a.inline_waiter, b.inline_waiter);
	EXPECT_EQ(a.inline_lone, b.inline_lone);
	EXPECT_EQ(a.inline_full, b.inline_full);
	EXPECT_EQ(a.inline_policy, b.inline_policy);
	EXPECT_EQ(a.held, b.held);
	EXPECT_EQ(a.latency, b.latency);
}

// The attributes of a request message, by type (top level).
std::map<int, nlattr *> attrs_of(nl_msg *m)
{
	std::map<int, nlattr *> out;
	nlattr *a;
	int rem;
	nlmsg_for_each_attr(a, nlmsg_hdr(m), GENL_HDRLEN, rem)
		out[nla_type(a)] = a;
	return out;
}

} // namespace

TEST(ControlMessages, DeviceReplyParsesIntoEveryField)
{
	control::device_info want = testfix::sample_device();
	for (std::size_t i = 0; i < want.stats.latency.size(); i++)
		want.stats.latency[i] = 100 + i; /* order matters */
	auto m = device_msg(want);
	auto got = detail::parse_device(m.get());
	ASSERT_TRUE(got) << got.error().message();
	EXPECT_EQ(got->priority, want.priority);
	EXPECT_EQ(got->queues, want.queues);
	EXPECT_EQ(got->depth, want.depth);
	EXPECT_EQ(got->dispatch, want.dispatch);
	EXPECT_EQ(got->latency_us, want.latency_us);
	EXPECT_EQ(got->throughput, want.throughput);
	EXPECT_EQ(got->inline_threshold, want.inline_threshold);
	EXPECT_EQ(got->decrypt, want.decrypt);
	EXPECT_EQ(got->flows, want.flows);
	EXPECT_EQ(got->inline_mode, control::inline_policy::never);
	ASSERT_EQ(got->backends.size(), 3u) << "one nest per algorithm, in order";
	for (std::size_t i = 0; i < 3; i++) {
		EXPECT_EQ(got->backends[i].alg, want.backends[i].alg);
		EXPECT_EQ(got->backends[i].mode, want.backends[i].mode);
		EXPECT_EQ(got->backends[i].driver, want.backends[i].driver);
	}
	EXPECT_TRUE(got->backends[1].driver.empty()) << "no DRIVER: the CPU";
	EXPECT_EQ(got->fault.rate, want.fault.rate);
	EXPECT_EQ(got->fault.error, want.fault.error);
	EXPECT_EQ(got->fault.ops, want.fault.ops);
	EXPECT_EQ(got->fault.delay_us, want.fault.delay_us);
	EXPECT_EQ(got->fault.stall_queue, want.fault.stall_queue);
	expect_stats_eq(got->stats, want.stats);
}

TEST(ControlMessages, AbsentStallQueueMeansNone)
{
	control::device_info want = testfix::sample_device();
	want.fault.stall_queue.reset();
	auto m = device_msg(want);
	auto got = detail::parse_device(m.get());
	ASSERT_TRUE(got);
	EXPECT_FALSE(got->fault.stall_queue);
}

TEST(ControlMessages, WrongAttributeLengthIsAProtocolError)
{
	Msg m = new_msg(KTLSACCEL_CMD_DEV_GET);
	std::uint16_t shorty = 4;
	nla_put(m.get(), KTLSACCEL_A_DEV_QUEUES, sizeof(shorty), &shorty);
	auto got = detail::parse_device(m.get());
	ASSERT_FALSE(got);
	EXPECT_EQ(got.error().code, control::errc::protocol);
}

TEST(ControlMessages, UnknownAttributesFromANewerModuleAreIgnored)
{
	Msg m = new_msg(KTLSACCEL_CMD_DEV_GET);
	nla_put_u32(m.get(), KTLSACCEL_A_DEV_QUEUES, 8);
	nla_put_u32(m.get(), KTLSACCEL_A_DEV_MAX + 5, 99);
	auto got = detail::parse_device(m.get());
	ASSERT_TRUE(got) << got.error().message();
	EXPECT_EQ(got->queues, 8u);
}

TEST(ControlMessages, QueueDumpPartParses)
{
	control::queue_info want = testfix::sample_queues()[2];
	Msg m = new_msg(KTLSACCEL_CMD_QUEUE_GET);
	nla_put_u32(m.get(), KTLSACCEL_A_QUEUE_INDEX, want.index);
	nla_put_u32(m.get(), KTLSACCEL_A_QUEUE_RING, want.ring);
	nla_put_u32(m.get(), KTLSACCEL_A_QUEUE_BACKLOG, want.backlog);
	put_stats(m.get(), KTLSACCEL_A_QUEUE_STATS, want.stats);
	auto got = detail::parse_queue(m.get());
	ASSERT_TRUE(got) << got.error().message();
	EXPECT_EQ(got->index, want.index);
	EXPECT_EQ(got->ring, want.ring);
	EXPECT_EQ(got->backlog, want.backlog);
	expect_stats_eq(got->stats, want.stats);
}

TEST(ControlMessages, QueueWithoutIndexIsRejected)
{
	Msg m = new_msg(KTLSACCEL_CMD_QUEUE_GET);
	nla_put_u32(m.get(), KTLSACCEL_A_QUEUE_RING, 1);
	EXPECT_FALSE(detail::parse_queue(m.get()));
}

TEST(ControlMessages, FlowDumpPartParses)
{
	control::flow_info want = testfix::sample_flows()[1];
	Msg m = new_msg(KTLSACCEL_CMD_FLOW_GET);
	put_u64(m.get(), KTLSACCEL_A_FLOW_ID, want.id, KTLSACCEL_A_FLOW_PAD);
	nla_put_u32(m.get(), KTLSACCEL_A_FLOW_PID, want.pid);
	nla_put_string(m.get(), KTLSACCEL_A_FLOW_COMM, want.comm.c_str());
	nla_put_string(m.get(), KTLSACCEL_A_FLOW_ALG, want.alg.c_str());
	nla_put_u32(m.get(), KTLSACCEL_A_FLOW_KEY_BITS, want.key_bits);
	nla_put_u32(m.get(), KTLSACCEL_A_FLOW_DIRECTION, static_cast<std::uint32_t>(want.direction));
	put_stats(m.get(), KTLSACCEL_A_FLOW_STATS, want.stats);
	nla_put_string(m.get(), KTLSACCEL_A_FLOW_BACKEND, "ktlsaccel-testcard-rfc7539-chacha20-poly1305");
	auto got = detail::parse_flow(m.get());
	ASSERT_TRUE(got) << got.error().message();
	EXPECT_EQ(got->id, want.id);
	EXPECT_EQ(got->pid, want.pid);
	EXPECT_EQ(got->comm, want.comm);
	EXPECT_EQ(got->alg, want.alg);
	EXPECT_EQ(got->key_bits, want.key_bits);
	EXPECT_EQ(got->direction, want.direction);
	EXPECT_EQ(got->backend, "ktlsaccel-testcard-rfc7539-chacha20-poly1305");
	expect_stats_eq(got->stats, want.stats);
}

TEST(ControlMessages, BackendNestWithoutAlgorithmIsAProtocolError)
{
	Msg m = new_msg(KTLSACCEL_CMD_DEV_GET);
	nlattr *n = nla_nest_start(m.get(), KTLSACCEL_A_DEV_BACKEND);
	nla_put_u32(m.get(), KTLSACCEL_A_BACKEND_MODE, KTLSACCEL_BACKEND_CPU);
	nla_nest_end(m.get(), n);
	auto got = detail::parse_device(m.get());
	ASSERT_FALSE(got);
	EXPECT_EQ(got.error().code, make_error_code(control::errc::protocol));
}

TEST(ControlMessages, ConfigRequestCarriesInlineModeAndOneNestPerBackend)
{
	control::config_change c;
	c.inline_mode = control::inline_policy::never;
	c.backends = {{"gcm(aes)", control::backend_mode::driver, "ktlsaccel-testcard-gcm-aes"},
		      {"ccm(aes)", control::backend_mode::cpu, "ignored without mode driver"}};
	EXPECT_FALSE(c.empty());
	Msg m = new_msg(KTLSACCEL_CMD_DEV_SET);
	ASSERT_EQ(detail::put_config(m.get(), c), 0);
	std::vector<nlattr *> nests;
	nlattr *inl = nullptr, *a;
	int rem;
	nlmsg_for_each_attr(a, nlmsg_hdr(m.get()), GENL_HDRLEN, rem) {
		if (nla_type(a) == KTLSACCEL_A_DEV_BACKEND)
			nests.push_back(a);
		else if (nla_type(a) == KTLSACCEL_A_DEV_INLINE)
			inl = a;
		else
			ADD_FAILURE() << "unexpected attribute " << nla_type(a);
	}
	ASSERT_NE(inl, nullptr);
	EXPECT_EQ(nla_get_u32(inl), static_cast<std::uint32_t>(KTLSACCEL_INLINE_NEVER));
	ASSERT_EQ(nests.size(), 2u);
	nlattr *tb[KTLSACCEL_A_BACKEND_MAX + 1];
	ASSERT_EQ(nla_parse_nested(tb, KTLSACCEL_A_BACKEND_MAX, nests[0], nullptr), 0);
	EXPECT_STREQ(nla_get_string(tb[KTLSACCEL_A_BACKEND_ALG]), "gcm(aes)");
	EXPECT_EQ(nla_get_u32(tb[KTLSACCEL_A_BACKEND_MODE]), static_cast<std::uint32_t>(KTLSACCEL_BACKEND_DRIVER));
	ASSERT_NE(tb[KTLSACCEL_A_BACKEND_DRIVER], nullptr);
	EXPECT_STREQ(nla_get_string(tb[KTLSACCEL_A_BACKEND_DRIVER]), "ktlsaccel-testcard-gcm-aes");
	ASSERT_EQ(nla_parse_nested(tb, KTLSACCEL_A_BACKEND_MAX, nests[1], nullptr), 0);
	EXPECT_STREQ(nla_get_string(tb[KTLSACCEL_A_BACKEND_ALG]), "ccm(aes)");
	EXPECT_EQ(nla_get_u32(tb[KTLSACCEL_A_BACKEND_MODE]), static_cast<std::uint32_t>(KTLSACCEL_BACKEND_CPU));
	EXPECT_EQ(tb[KTLSACCEL_A_BACKEND_DRIVER], nullptr);
}

TEST(ControlMessages, ConfigRequestCarriesOnlyWhatIsSet)
{
	control::config_change c;
	c.queues = 8;
	c.throughput = 5000000000ull;
	c.decrypt = control::decrypt_policy::inline_;
	Msg m = new_msg(KTLSACCEL_CMD_DEV_SET);
	ASSERT_EQ(detail::put_config(m.get(), c), 0);
	auto a = attrs_of(m.get());
	ASSERT_EQ(a.size(), 3u);
	EXPECT_EQ(nla_get_u32(a.at(KTLSACCEL_A_DEV_QUEUES)), 8u);
	EXPECT_EQ(nla_len(a.at(KTLSACCEL_A_DEV_THROUGHPUT)), 8);
	EXPECT_EQ(nla_get_u64(a.at(KTLSACCEL_A_DEV_THROUGHPUT)), 5000000000ull);
	EXPECT_EQ(nla_get_u32(a.at(KTLSACCEL_A_DEV_DECRYPT)),
		  static_cast<std::uint32_t>(KTLSACCEL_DECRYPT_INLINE));
}

TEST(ControlMessages, FaultRequestIsOneNest)
{
	control::fault_change c;
	c.rate = 250;
	c.error = EIO;
	c.ops = control::fault_ops::both;
	c.stall_queue = 0; /* queue 0 is a value, not "absent" */
	Msg m = new_msg(KTLSACCEL_CMD_FAULT_SET);
	ASSERT_EQ(detail::put_fault(m.get(), c), 0);
	auto a = attrs_of(m.get());
	ASSERT_EQ(a.size(), 1u);
	nlattr *tb[KTLSACCEL_A_FAULT_MAX + 1];
	ASSERT_EQ(nla_parse_nested(tb, KTLSACCEL_A_FAULT_MAX, a.at(KTLSACCEL_A_DEV_FAULT), nullptr), 0);
	EXPECT_EQ(nla_get_u32(tb[KTLSACCEL_A_FAULT_RATE]), 250u);
	EXPECT_EQ(nla_get_u32(tb[KTLSACCEL_A_FAULT_ERRNO]), static_cast<std::uint32_t>(EIO));
	EXPECT_EQ(nla_get_u32(tb[KTLSACCEL_A_FAULT_OPS]),
		  static_cast<std::uint32_t>(KTLSACCEL_FAULT_OPS_BOTH));
	EXPECT_EQ(tb[KTLSACCEL_A_FAULT_DELAY_US], nullptr);
	ASSERT_NE(tb[KTLSACCEL_A_FAULT_STALL_QUEUE], nullptr);
	EXPECT_EQ(nla_get_u32(tb[KTLSACCEL_A_FAULT_STALL_QUEUE]), 0u);
}

TEST(ControlMessages, EnumValuesMatchTheUapi)
{
	EXPECT_EQ(static_cast<int>(control::dispatch_policy::spread), KTLSACCEL_DISPATCH_SPREAD);
	EXPECT_EQ(static_cast<int>(control::dispatch_policy::flow), KTLSACCEL_DISPATCH_FLOW);
	EXPECT_EQ(static_cast<int>(control::decrypt_policy::inline_), KTLSACCEL_DECRYPT_INLINE);
	EXPECT_EQ(static_cast<int>(control::decrypt_policy::async), KTLSACCEL_DECRYPT_ASYNC);
	EXPECT_EQ(static_cast<int>(control::fault_ops::decrypt), KTLSACCEL_FAULT_OPS_DECRYPT);
	EXPECT_EQ(static_cast<int>(control::fault_ops::encrypt), KTLSACCEL_FAULT_OPS_ENCRYPT);
	EXPECT_EQ(static_cast<int>(control::fault_ops::both), KTLSACCEL_FAULT_OPS_BOTH);
	EXPECT_EQ(static_cast<int>(control::flow_direction::none), KTLSACCEL_DIRECTION_NONE);
	EXPECT_EQ(static_cast<int>(control::flow_direction::tx), KTLSACCEL_DIRECTION_TX);
	EXPECT_EQ(static_cast<int>(control::flow_direction::rx), KTLSACCEL_DIRECTION_RX);
	EXPECT_EQ(static_cast<int>(control::flow_direction::both), KTLSACCEL_DIRECTION_BOTH);
	EXPECT_EQ(static_cast<int>(control::inline_policy::auto_), KTLSACCEL_INLINE_AUTO);
	EXPECT_EQ(static_cast<int>(control::inline_policy::never), KTLSACCEL_INLINE_NEVER);
	EXPECT_EQ(static_cast<int>(control::backend_mode::auto_), KTLSACCEL_BACKEND_AUTO);
	EXPECT_EQ(static_cast<int>(control::backend_mode::cpu), KTLSACCEL_BACKEND_CPU);
	EXPECT_EQ(static_cast<int>(control::backend_mode::driver), KTLSACCEL_BACKEND_DRIVER);
	EXPECT_EQ(static_cast<int>(control::reset_engine), KTLSACCEL_RESET_ENGINE);
	EXPECT_EQ(static_cast<int>(control::reset_flows), KTLSACCEL_RESET_FLOWS);
	EXPECT_EQ(static_cast<int>(control::reset_all), KTLSACCEL_RESET_ALL);
	EXPECT_EQ(control::latency_buckets, static_cast<std::size_t>(KTLSACCEL_LATENCY_BUCKETS));
}

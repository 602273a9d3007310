// SPDX-License-Identifier: MIT
//
// The attribute trees of uapi/linux/ktlsaccel.h, parsed with libnl policies
// (lengths are checked there) into the structs of control.hpp. Attributes the
// client does not know (a newer module) are ignored; a missing attribute
// leaves its field at the default.

#include "control_msg.hpp"

#include <linux/ktlsaccel.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <initializer_list>
#include <utility>

namespace ktlsaccel::detail {

namespace {

control_failure protocol_error(std::string what)
{
	return {make_error_code(control::errc::protocol), std::move(what)};
}

// A libnl policy table: types by attribute number, the rest NLA_UNSPEC.
template <std::size_t N> struct Policy {
	nla_policy p[N]{};
	Policy(std::initializer_list<std::pair<int, std::uint16_t>> types)
	{
		for (auto [attr, type] : types)
			p[attr].type = type;
	}
};

const Policy<KTLSACCEL_A_STATS_MAX + 1> stats_policy{
	{KTLSACCEL_A_STATS_SUBMITTED, NLA_U64},
	{KTLSACCEL_A_STATS_COMPLETED, NLA_U64},
	{KTLSACCEL_A_STATS_ERRORS, NLA_U64},
	{KTLSACCEL_A_STATS_BACKLOGGED, NLA_U64},
	{KTLSACCEL_A_STATS_REJECTED, NLA_U64},
	{KTLSACCEL_A_STATS_INLINED, NLA_U64},
	{KTLSACCEL_A_STATS_FAULTS, NLA_U64},
	{KTLSACCEL_A_STATS_BYTES, NLA_U64},
	{KTLSACCEL_A_STATS_IN_FLIGHT, NLA_U32},
	{KTLSACCEL_A_STATS_MAX_IN_FLIGHT, NLA_U32},
	{KTLSACCEL_A_STATS_LATENCY, NLA_U64},
	{KTLSACCEL_A_STATS_INLINE_WAITER, NLA_U64},
	{KTLSACCEL_A_STATS_INLINE_LONE, NLA_U64},
	{KTLSACCEL_A_STATS_INLINE_FULL, NLA_U64},
	{KTLSACCEL_A_STATS_INLINE_POLICY, NLA_U64},
	{KTLSACCEL_A_STATS_HELD, NLA_U64},
};

const Policy<KTLSACCEL_A_BACKEND_MAX + 1> backend_policy{
	{KTLSACCEL_A_BACKEND_ALG, NLA_STRING},
	{KTLSACCEL_A_BACKEND_MODE, NLA_U32},
	{KTLSACCEL_A_BACKEND_DRIVER, NLA_STRING},
};

const Policy<KTLSACCEL_A_FAULT_MAX + 1> fault_policy{
	{KTLSACCEL_A_FAULT_RATE, NLA_U32},
	{KTLSACCEL_A_FAULT_ERRNO, NLA_U32},
	{KTLSACCEL_A_FAULT_OPS, NLA_U32},
	{KTLSACCEL_A_FAULT_DELAY_US, NLA_U32},
	{KTLSACCEL_A_FAULT_STALL_QUEUE, NLA_U32},
};

const Policy<KTLSACCEL_A_DEV_MAX + 1> dev_policy{
	{KTLSACCEL_A_DEV_PRIORITY, NLA_U32},
	{KTLSACCEL_A_DEV_QUEUES, NLA_U32},
	{KTLSACCEL_A_DEV_DEPTH, NLA_U32},
	{KTLSACCEL_A_DEV_DISPATCH, NLA_U32},
	{KTLSACCEL_A_DEV_LATENCY_US, NLA_U32},
	{KTLSACCEL_A_DEV_THROUGHPUT, NLA_U64},
	{KTLSACCEL_A_DEV_INLINE_THRESHOLD, NLA_U32},
	{KTLSACCEL_A_DEV_DECRYPT, NLA_U32},
	{KTLSACCEL_A_DEV_FLOWS, NLA_U32},
	{KTLSACCEL_A_DEV_FAULT, NLA_NESTED},
	{KTLSACCEL_A_DEV_STATS, NLA_NESTED},
	{KTLSACCEL_A_DEV_RESET, NLA_U32},
	{KTLSACCEL_A_DEV_INLINE, NLA_U32},
	{KTLSACCEL_A_DEV_BACKEND, NLA_NESTED},
};

const Policy<KTLSACCEL_A_QUEUE_MAX + 1> queue_policy{
	{KTLSACCEL_A_QUEUE_INDEX, NLA_U32},
	{KTLSACCEL_A_QUEUE_RING, NLA_U32},
	{KTLSACCEL_A_QUEUE_BACKLOG, NLA_U32},
	{KTLSACCEL_A_QUEUE_STATS, NLA_NESTED},
};

const Policy<KTLSACCEL_A_FLOW_MAX + 1> flow_policy{
	{KTLSACCEL_A_FLOW_ID, NLA_U64},
	{KTLSACCEL_A_FLOW_PID, NLA_U32},
	{KTLSACCEL_A_FLOW_COMM, NLA_STRING},
	{KTLSACCEL_A_FLOW_ALG, NLA_STRING},
	{KTLSACCEL_A_FLOW_KEY_BITS, NLA_U32},
	{KTLSACCEL_A_FLOW_DIRECTION, NLA_U32},
	{KTLSACCEL_A_FLOW_STATS, NLA_NESTED},
	{KTLSACCEL_A_FLOW_BACKEND, NLA_STRING},
};

template <class T> void get(nlattr *a, T &field)
{
	if (!a)
		return;
	if constexpr (sizeof(T) == 8)
		field = static_cast<T>(nla_get_u64(a));
	else
		field = static_cast<T>(nla_get_u32(a));
}

void get(nlattr *a, std::string &field)
{
	if (a)
		field = nla_get_string(a);
}

// genlmsg_parse into tb[0..maxtype], or a protocol error naming the message.
template <std::size_t N>
control_result<void> parse_genl(nl_msg *msg, nlattr *(&tb)[N], const Policy<N> &policy,
				const char *what)
{
	int rc = genlmsg_parse(nlmsg_hdr(msg), 0, tb, N - 1, policy.p);
	if (rc < 0)
		return std::unexpected(protocol_error(std::string("malformed ") + what +
						      " message: " + nl_geterror(rc)));
	return {};
}

control_result<control::fault> parse_fault(nlattr *nest)
{
	nlattr *tb[KTLSACCEL_A_FAULT_MAX + 1];
	if (nla_parse_nested(tb, KTLSACCEL_A_FAULT_MAX, nest, fault_policy.p) < 0)
		return std::unexpected(protocol_error("malformed fault nest"));
	control::fault f;
	get(tb[KTLSACCEL_A_FAULT_RATE], f.rate);
	get(tb[KTLSACCEL_A_FAULT_ERRNO], f.error);
	get(tb[KTLSACCEL_A_FAULT_OPS], f.ops);
	get(tb[KTLSACCEL_A_FAULT_DELAY_US], f.delay_us);
	if (tb[KTLSACCEL_A_FAULT_STALL_QUEUE])
		f.stall_queue = nla_get_u32(tb[KTLSACCEL_A_FAULT_STALL_QUEUE]);
	return f;
}

control_result<control::backend> parse_backend(nlattr *nest)
{
	nlattr *tb[KTLSACCEL_A_BACKEND_MAX + 1];
	if (nla_parse_nested(tb, KTLSACCEL_A_BACKEND_MAX, nest, backend_policy.p) < 0)
		return std::unexpected(protocol_error("malformed backend nest"));
	if (!tb[KTLSACCEL_A_BACKEND_ALG])
		return std::unexpected(protocol_error("backend nest without an algorithm"));
	control::backend b;
	get(tb[KTLSACCEL_A_BACKEND_ALG], b.alg);
	get(tb[KTLSACCEL_A_BACKEND_MODE], b.mode);
	get(tb[KTLSACCEL_A_BACKEND_DRIVER], b.driver);
	return b;
}

// Parses an optional stats nest into `out`.
control_result<void> get_stats(nlattr *nest, control::stats &out)
{
	if (!nest)
		return {};
	auto s = parse_stats(nest);
	if (!s)
		return std::unexpected(s.error());
	out = *s;
	return {};
}

} // namespace

control_result<control::stats> parse_stats(const nlattr *nest)
{
	auto *n = const_cast<nlattr *>(nest);
	nlattr *tb[KTLSACCEL_A_STATS_MAX + 1];
	if (nla_parse_nested(tb, KTLSACCEL_A_STATS_MAX, n, stats_policy.p) < 0)
		return std::unexpected(protocol_error("malformed stats nest"));
	control::stats s;
	get(tb[KTLSACCEL_A_STATS_SUBMITTED], s.submitted);
	get(tb[KTLSACCEL_A_STATS_COMPLETED], s.completed);
	get(tb[KTLSACCEL_A_STATS_ERRORS], s.errors);
	get(tb[KTLSACCEL_A_STATS_BACKLOGGED], s.backlogged);
	get(tb[KTLSACCEL_A_STATS_REJECTED], s.rejected);
	get(tb[KTLSACCEL_A_STATS_INLINED], s.inlined);
	get(tb[KTLSACCEL_A_STATS_FAULTS], s.faults);
	get(tb[KTLSACCEL_A_STATS_BYTES], s.bytes);
	get(tb[KTLSACCEL_A_STATS_IN_FLIGHT], s.in_flight);
	get(tb[KTLSACCEL_A_STATS_MAX_IN_FLIGHT], s.max_in_flight);
	get(tb[KTLSACCEL_A_STATS_INLINE_WAITER], s.inline_waiter);
	get(tb[KTLSACCEL_A_STATS_INLINE_LONE], s.inline_lone);
	get(tb[KTLSACCEL_A_STATS_INLINE_FULL], s.inline_full);
	get(tb[KTLSACCEL_A_STATS_INLINE_POLICY], s.inline_policy);
	get(tb[KTLSACCEL_A_STATS_HELD], s.held);

	/* LATENCY is a multi-attr: nla_parse kept only the last one. */
	std::size_t bucket = 0;
	nlattr *a;
	int rem;
	nla_for_each_nested(a, n, rem) {
		if (nla_type(a) != KTLSACCEL_A_STATS_LATENCY)
			continue;
		if (bucket < s.latency.size())
			s.latency[bucket] = nla_get_u64(a);
		bucket++;
	}
	return s;
}

control_result<control::device_info> parse_device(nl_msg *msg)
{
	nlattr *tb[KTLSACCEL_A_DEV_MAX + 1];
	if (auto r = parse_genl(msg, tb, dev_policy, "device"); !r)
		return std::unexpected(r.error());
	control::device_info d;
	get(tb[KTLSACCEL_A_DEV_PRIORITY], d.priority);
	get(tb[KTLSACCEL_A_DEV_QUEUES], d.queues);
	get(tb[KTLSACCEL_A_DEV_DEPTH], d.depth);
	get(tb[KTLSACCEL_A_DEV_DISPATCH], d.dispatch);
	get(tb[KTLSACCEL_A_DEV_LATENCY_US], d.latency_us);
	get(tb[KTLSACCEL_A_DEV_THROUGHPUT], d.throughput);
	get(tb[KTLSACCEL_A_DEV_INLINE_THRESHOLD], d.inline_threshold);
	get(tb[KTLSACCEL_A_DEV_DECRYPT], d.decrypt);
	get(tb[KTLSACCEL_A_DEV_FLOWS], d.flows);
	get(tb[KTLSACCEL_A_DEV_INLINE], d.inline_mode);
	/* BACKEND is a multi-attr (one per algorithm): walk them all. */
	nlattr *a;
	int rem;
	nlmsg_for_each_attr(a, nlmsg_hdr(msg), GENL_HDRLEN, rem) {
		if (nla_type(a) != KTLSACCEL_A_DEV_BACKEND)
			continue;
		auto b = parse_backend(a);
		if (!b)
			return std::unexpected(b.error());
		d.backends.push_back(std::move(*b));
	}
	if (tb[KTLSACCEL_A_DEV_FAULT]) {
		auto f = parse_fault(tb[KTLSACCEL_A_DEV_FAULT]);
		if (!f)
			return std::unexpected(f.error());
		d.fault = *f;
	}
	if (auto r = get_stats(tb[KTLSACCEL_A_DEV_STATS], d.stats); !r)
		return std::unexpected(r.error());
	return d;
}

control_result<control::queue_info> parse_queue(nl_msg *msg)
{
	nlattr *tb[KTLSACCEL_A_QUEUE_MAX + 1];
	if (auto r = parse_genl(msg, tb, queue_policy, "queue"); !r)
		return std::unexpected(r.error());
	if (!tb[KTLSACCEL_A_QUEUE_INDEX])
		return std::unexpected(protocol_error("queue message without an index"));
	control::queue_info q;
	get(tb[KTLSACCEL_A_QUEUE_INDEX], q.index);
	get(tb[KTLSACCEL_A_QUEUE_RING], q.ring);
	get(tb[KTLSACCEL_A_QUEUE_BACKLOG], q.backlog);
	if (auto r = get_stats(tb[KTLSACCEL_A_QUEUE_STATS], q.stats); !r)
		return std::unexpected(r.error());
	return q;
}

control_result<control::flow_info> parse_flow(nl_msg *msg)
{
	nlattr *tb[KTLSACCEL_A_FLOW_MAX + 1];
	if (auto r = parse_genl(msg, tb, flow_policy, "flow"); !r)
		return std::unexpected(r.error());
	if (!tb[KTLSACCEL_A_FLOW_ID])
		return std::unexpected(protocol_error("flow message without an id"));
	control::flow_info f;
	get(tb[KTLSACCEL_A_FLOW_ID], f.id);
	get(tb[KTLSACCEL_A_FLOW_PID], f.pid);
	get(tb[KTLSACCEL_A_FLOW_COMM], f.comm);
	get(tb[KTLSACCEL_A_FLOW_ALG], f.alg);
	get(tb[KTLSACCEL_A_FLOW_KEY_BITS], f.key_bits);
	get(tb[KTLSACCEL_A_FLOW_DIRECTION], f.direction);
	get(tb[KTLSACCEL_A_FLOW_BACKEND], f.backend);
	if (auto r = get_stats(tb[KTLSACCEL_A_FLOW_STATS], f.stats); !r)
		return std::unexpected(r.error());
	return f;
}

namespace {

template <class T> int put(nl_msg *msg, int type, const std::optional<T> &v)
{
	if (!v)
		return 0;
	if constexpr (sizeof(T) == 8)
		return nla_put_u64(msg, type, static_cast<std::uint64_t>(*v));
	else
		return nla_put_u32(msg, type, static_cast<std::uint32_t>(*v));
}

} // namespace

int put_config(nl_msg *msg, const control::config_change &c)
{
	int rc = 0;
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_QUEUES, c.queues);
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_DEPTH, c.depth);
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_DISPATCH, c.dispatch);
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_LATENCY_US, c.latency_us);
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_THROUGHPUT, c.throughput);
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_INLINE_THRESHOLD, c.inline_threshold);
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_DECRYPT, c.decrypt);
	rc = rc ?: put(msg, KTLSACCEL_A_DEV_INLINE, c.inline_mode);
	for (const auto &b : c.backends) {
		if (rc)
			break;
		nlattr *nest = nla_nest_start(msg, KTLSACCEL_A_DEV_BACKEND);
		if (!nest)
			return -NLE_NOMEM;
		rc = nla_put_string(msg, KTLSACCEL_A_BACKEND_ALG, b.alg.c_str());
		rc = rc ?: nla_put_u32(msg, KTLSACCEL_A_BACKEND_MODE, static_cast<std::uint32_t>(b.mode));
		if (!rc && b.mode == control::backend_mode::driver)
			rc = nla_put_string(msg, KTLSACCEL_A_BACKEND_DRIVER, b.driver.c_str());
		rc = rc ?: nla_nest_end(msg, nest);
	}
	return rc;
}

int put_fault(nl_msg *msg, const control::fault_change &c)
{
	nlattr *nest = nla_nest_start(msg, KTLSACCEL_A_DEV_FAULT);
	if (!nest)
		return -NLE_NOMEM;
	int rc = 0;
	rc = rc ?: put(msg, KTLSACCEL_A_FAULT_RATE, c.rate);
	rc = rc ?: put(msg, KTLSACCEL_A_FAULT_ERRNO, c.error);
	rc = rc ?: put(msg, KTLSACCEL_A_FAULT_OPS, c.ops);
	rc = rc ?: put(msg, KTLSACCEL_A_FAULT_DELAY_US, c.delay_us);
	rc = rc ?: put(msg, KTLSACCEL_A_FAULT_STALL_QUEUE, c.stall_queue);
	if (rc)
		return rc;
	return nla_nest_end(msg, nest);
}

} // namespace ktlsaccel::detail

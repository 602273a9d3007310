// SPDX-License-Identifier: MIT
//
// The ktlsaccel generic netlink family under ≥ 10,000 random and malformed
// requests on one raw netlink socket (KTLSACCEL_FUZZ_MESSAGES, default
// 12,000, more on the debug kernel: tests/CMakeLists.txt; a fixed seed,
// KTLSACCEL_FUZZ_SEED to explore others): random commands (out-of-range ones
// too), random attribute types and lengths, attributes overrunning their
// message, nests full of garbage, bad header flags and genl versions, and
// messages whose netlink header is truncated. Every well-formed request gets
// an ack, an error or the end of its dump; a truncated one is dropped
// silently; in both cases the socket keeps working (a DEV_GET probe after
// each batch is answered) and the kernel log stays clean (main.cpp).

#include "control_util.h"
#include "soak_util.hpp"

#include <ktlsaccel/control.hpp>

#include <linux/genetlink.h>
#include <linux/ktlsaccel.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <set>
#include <vector>

using namespace ktlsaccel::vmtest;

namespace {

constexpr unsigned long kDefaultMessages = 12000;
constexpr unsigned long kDefaultSeed = 0x6b746c73;

class RawGenl {
public:
	RawGenl()
	{
		fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
		int one = 1;
		setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
		int rcvbuf = 1 << 20;
		setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		timeval tv{2, 0};
		setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		sockaddr_nl sa{};
		sa.nl_family = AF_NETLINK;
		bind(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
	}
	~RawGenl() { close(fd_); }
	RawGenl(const RawGenl &) = delete;
	RawGenl &operator=(const RawGenl &) = delete;

	bool ok() const { return fd_ >= 0; }

	bool send(const std::vector<std::uint8_t> &msg)
	{
		sockaddr_nl kernel{};
		kernel.nl_family = AF_NETLINK;
		return sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr *>(&kernel),
			      sizeof(kernel)) == static_cast<ssize_t>(msg.size());
	}

	// Reads until the request `seq` is finished: an NLMSG_ERROR (ack or
	// error) or NLMSG_DONE with that sequence number. Late replies to
	// earlier requests are passed over; one from the future, or one to a
	// message the kernel must drop unanswered (`silent`), is a bug.
	// Returns false on timeout.
	bool await(std::uint32_t seq, int *error, std::string *stray,
		   const std::set<std::uint32_t> &silent)
	{
		std::vector<std::uint8_t> buf(1 << 16);
		for (;;) {
			ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
			if (n < 0)
				return false;
			auto *nlh = reinterpret_cast<nlmsghdr *>(buf.data());
			int len = static_cast<int>(n);
			for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
				if (nlh->nlmsg_seq > seq)
					*stray = "reply with seq " + std::to_string(nlh->nlmsg_seq) +
						 " while waiting for " + std::to_string(seq);
				if (silent.contains(nlh->nlmsg_seq))
					*stray = "reply with seq " + std::to_string(nlh->nlmsg_seq) +
						 " to a truncated message, which must be dropped";
				if (nlh->nlmsg_seq != seq)
					continue;
				if (nlh->nlmsg_type == NLMSG_ERROR) {
					*error = -reinterpret_cast<nlmsgerr *>(NLMSG_DATA(nlh))->error;
					return true;
				}
				if (nlh->nlmsg_type == NLMSG_DONE) {
					*error = 0;
					return true;
				}
			}
		}
	}

private:
	int fd_ = -1;
};

// Builds netlink messages byte by byte, so they can be wrong.
class Builder {
public:
	explicit Builder(std::mt19937_64 &rng) : rng_(rng) {}

	std::uint32_t u32() { return static_cast<std::uint32_t>(rng_()); }
	std::uint32_t below(std::uint32_t n) { return u32() % n; }
	bool coin(int one_in) { return below(static_cast<std::uint32_t>(one_in)) == 0; }

	// The genl header; its reserved field is garbage one time in eight
	// unless @clean (the kernel must reject that with EINVAL).
	void header(int family, std::uint16_t flags, std::uint32_t seq, std::uint8_t cmd,
		    std::uint8_t version, bool clean = false)
	{
		b_.assign(NLMSG_HDRLEN + GENL_HDRLEN, 0);
		auto *nlh = reinterpret_cast<nlmsghdr *>(b_.data());
		nlh->nlmsg_type = static_cast<std::uint16_t>(family);
		nlh->nlmsg_flags = flags;
		nlh->nlmsg_seq = seq;
		auto *g = reinterpret_cast<genlmsghdr *>(b_.data() + NLMSG_HDRLEN);
		g->cmd = cmd;
		g->version = version;
		g->reserved = static_cast<std::uint16_t>(!clean && coin(8) ? u32() : 0);
	}

	// An attribute; nla_len may lie (declared != real length).
	void attr(std::uint16_t type, const std::vector<std::uint8_t> &payload,
		  std::optional<std::uint16_t> declared = {})
	{
		nlattr a{};
		a.nla_type = type;
		a.nla_len = declared.value_or(static_cast<std::uint16_t>(NLA_HDRLEN + payload.size()));
		auto *p = reinterpret_cast<std::uint8_t *>(&a);
		b_.insert(b_.end(), p, p + sizeof(a));
		b_.insert(b_.end(), payload.begin(), payload.end());
		b_.resize(NLA_ALIGN(b_.size()), 0);
	}

	std::vector<std::uint8_t> bytes(std::size_t n)
	{
		std::vector<std::uint8_t> v(n);
		for (auto &c : v)
			c = static_cast<std::uint8_t>(rng_());
		return v;
	}

	// A payload that is often the right size for a u32/u64, sometimes not,
	// with values at and beyond the edges of the documented ranges.
	std::vector<std::uint8_t> scalar()
	{
		static const std::uint32_t edges[] = {0, 1, 2, 255, 256, 257, 65536, 65537,
						      1000000, 1000001, 10000001, 0x7fffffff,
						      0xffffffff};
		switch (below(6)) {
		case 0: return bytes(below(12));
		case 1: {
			std::uint64_t v = rng_();
			std::vector<std::uint8_t> out(8);
			std::memcpy(out.data(), &v, 8);
			return out;
		}
		case 2: {
			/* an edge, but never a valid large queue/depth pair */
			std::uint32_t v = edges[below(std::size(edges))];
			if (v == 256 || v == 65536)
				v++;
			std::vector<std::uint8_t> out(4);
			std::memcpy(out.data(), &v, 4);
			return out;
		}
		default: {
			std::uint32_t v = u32() | 0x10000000u; /* large: out of range */
			std::vector<std::uint8_t> out(4);
			std::memcpy(out.data(), &v, 4);
			return out;
		}
		}
	}

	// A nest of random attributes, sometimes nested again.
	std::vector<std::uint8_t> garbage_nest(int depth)
	{
		Builder inner(rng_);
		unsigned n = below(5);
		for (unsigned i = 0; i < n; i++) {
			std::uint16_t type = static_cast<std::uint16_t>(below(10));
			if (coin(4))
				type |= NLA_F_NESTED;
			if (depth > 0 && coin(3))
				inner.attr(type | NLA_F_NESTED, inner.garbage_nest(depth - 1));
			else
				inner.attr(type, inner.scalar());
		}
		return inner.b_;
	}

	std::vector<std::uint8_t> &finish()
	{
		reinterpret_cast<nlmsghdr *>(b_.data())->nlmsg_len = static_cast<std::uint32_t>(b_.size());
		return b_;
	}

	std::vector<std::uint8_t> b_;

private:
	std::mt19937_64 &rng_;
};

enum class Kind {
	random_attrs, wrong_lengths, overrun, nests, flags, short_genl, truncated, count
};

} // namespace

TEST(ControlFuzz, TenThousandsOfMalformedRequestsAllAnsweredSocketStaysUsable)
{
	const int kMessages = static_cast<int>(
		std::max(10000ul, env_ulong("KTLSACCEL_FUZZ_MESSAGES", kDefaultMessages)));
	const unsigned long seed = env_ulong("KTLSACCEL_FUZZ_SEED", kDefaultSeed);
	loaded_module module;
	auto client = ktlsaccel::control::client::open();
	ASSERT_TRUE(client) << client.error().message();
	auto before = client->get_device();
	ASSERT_TRUE(before) << before.error().message();
	const int family = client->family_id();

	RawGenl sock;
	ASSERT_TRUE(sock.ok());
	std::mt19937_64 rng(seed); /* fixed: a failure can be replayed */
	std::printf("fuzz: %d messages, seed %#lx\n", kMessages, seed);
	RecordProperty("seed", std::to_string(seed));
	std::uint32_t seq = 1000;
	int answered = 0, dropped = 0, errors = 0, acks = 0;
	std::string stray;
	/* the sequence numbers of the truncated messages: no reply may carry one */
	std::set<std::uint32_t> silent;

	auto probe = [&] {
		Builder b(rng);
		b.header(family, NLM_F_REQUEST | NLM_F_ACK, ++seq, KTLSACCEL_CMD_DEV_GET, 1, true);
		ASSERT_TRUE(sock.send(b.finish()));
		int err = -1;
		ASSERT_TRUE(sock.await(seq, &err, &stray, silent)) << "probe after fuzzing got no answer";
		ASSERT_EQ(err, 0) << "probe DEV_GET failed: " << std::strerror(err);
	};

	for (int i = 0; i < kMessages; i++) {
		Builder b(rng);
		auto kind = static_cast<Kind>(b.below(static_cast<std::uint32_t>(Kind::count)));
		/* commands 0..KTLSACCEL_CMD_MAX+3, sometimes anything */
		auto cmd = static_cast<std::uint8_t>(b.coin(5) ? b.u32() : b.below(KTLSACCEL_CMD_MAX + 4));
		std::uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
		if (b.coin(6))
			flags |= NLM_F_DUMP;
		std::uint8_t version = KTLSACCEL_GENL_VERSION;
		bool expect_reply = true;
		++seq;

		switch (kind) {
		case Kind::random_attrs: {
			b.header(family, flags, seq, cmd, version);
			unsigned n = b.below(6);
			for (unsigned k = 0; k < n; k++)
				b.attr(static_cast<std::uint16_t>(b.below(KTLSACCEL_A_DEV_MAX + 4)), b.scalar());
			break;
		}
		case Kind::wrong_lengths: {
			b.header(family, flags, seq, cmd, version);
			b.attr(static_cast<std::uint16_t>(b.below(KTLSACCEL_A_DEV_MAX + 1)), b.bytes(b.below(3)));
			b.attr(KTLSACCEL_A_DEV_THROUGHPUT, b.bytes(4));
			b.attr(KTLSACCEL_A_DEV_RESET, b.bytes(b.below(16)));
			break;
		}
		case Kind::overrun: {
			/* nla_len beyond the message, or below the attribute header */
			b.header(family, flags, seq, cmd, version);
			auto payload = b.bytes(b.below(8));
			std::uint16_t lie = b.coin(2) ? static_cast<std::uint16_t>(b.below(4))
						      : static_cast<std::uint16_t>(64 + b.below(4000));
			b.attr(static_cast<std::uint16_t>(b.below(KTLSACCEL_A_DEV_MAX + 1)), payload, lie);
			break;
		}
		case Kind::nests: {
			static const std::uint8_t with_nests[] = {KTLSACCEL_CMD_FAULT_SET,
								  KTLSACCEL_CMD_DEV_SET,
								  KTLSACCEL_CMD_DEV_GET};
			b.header(family, flags & ~NLM_F_DUMP, seq,
				 with_nests[b.below(std::size(with_nests))], version);
			static const std::uint16_t nests[] = {KTLSACCEL_A_DEV_FAULT,
							       KTLSACCEL_A_DEV_STATS,
							       KTLSACCEL_A_DEV_BACKEND};
			std::uint16_t type = nests[b.below(std::size(nests))];
			if (b.coin(2))
				type |= NLA_F_NESTED;
			b.attr(type, b.garbage_nest(3));
			break;
		}
		case Kind::flags: {
			/* random flag bits (REQUEST and ACK kept so an answer is due),
			 * random genl version */
			flags = static_cast<std::uint16_t>(b.u32()) | NLM_F_REQUEST | NLM_F_ACK;
			version = static_cast<std::uint8_t>(b.u32());
			b.header(family, flags, seq, cmd, version);
			if (b.coin(2))
				b.attr(KTLSACCEL_A_DEV_RESET, b.scalar());
			break;
		}
		case Kind::short_genl: {
			/* a netlink header, then less than a genl header */
			b.header(family, flags, seq, cmd, version);
			b.b_.resize(NLMSG_HDRLEN + b.below(GENL_HDRLEN));
			break;
		}
		case Kind::truncated: {
			/* a header that claims more than was sent, less than a header,
			 * or a datagram shorter than nlmsghdr: the kernel drops these */
			b.header(family, flags, seq, cmd, version);
			b.attr(KTLSACCEL_A_DEV_QUEUES, b.scalar());
			auto &m = b.finish();
			switch (b.below(3)) {
			case 0:
				reinterpret_cast<nlmsghdr *>(m.data())->nlmsg_len += 4 + b.below(100);
				break;
			case 1:
				reinterpret_cast<nlmsghdr *>(m.data())->nlmsg_len = b.below(NLMSG_HDRLEN);
				break;
			default:
				m.resize(b.below(NLMSG_HDRLEN));
				break;
			}
			expect_reply = false;
			silent.insert(seq);
			break;
		}
		case Kind::count:
			break;
		}
		auto &msg = kind == Kind::truncated ? b.b_ : b.finish();
		if (msg.empty())
			msg.push_back(0);
		ASSERT_TRUE(sock.send(msg)) << "message " << i << ": " << std::strerror(errno);

		if (expect_reply) {
			int err = -1;
			ASSERT_TRUE(sock.await(seq, &err, &stray, silent))
				<< "message " << i << " (kind " << static_cast<int>(kind) << ", cmd "
				<< int(cmd) << ", flags 0x" << std::hex << flags << ") got no answer";
			answered++;
			(err ? errors : acks)++;
		} else {
			dropped++;
		}
		if (i % 100 == 99 || kind == Kind::truncated)
			probe();
		if (HasFatalFailure())
			return;
	}
	EXPECT_EQ(stray, "");
	EXPECT_GE(answered + dropped, 10000);
	RecordProperty("messages", answered + dropped);
	RecordProperty("answered", answered);
	RecordProperty("errors", errors);
	RecordProperty("dropped_truncated", dropped);
	std::printf("fuzz: %d messages, %d answered (%d errors, %d acks), %d truncated dropped\n",
		    answered + dropped, answered, errors, acks, dropped);

	/* The module still works, and what the fuzz changed can be undone. */
	restore_config(*before);
	EXPECT_TRUE(client->get_device());
}

TEST(ControlFuzz, UnknownFlagBitsAndOutOfRangeValuesAreRefusedWithExtack)
{
	loaded_module module;
	auto client = ktlsaccel::control::client::open();
	ASSERT_TRUE(client) << client.error().message();

	auto r = client->reset_stats(1u << 7);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), std::errc::invalid_argument);
	EXPECT_NE(client->extack(), "") << "no extack message for an unknown reset bit";

	/* Out of a policy's range: the core's ERANGE, with its extack. */
	ktlsaccel::control::config_change c;
	c.queues = 300;
	r = client->set_config(c);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), std::errc::result_out_of_range);
	EXPECT_NE(client->extack(), "");

	ktlsaccel::control::fault_change f;
	f.error = 12; /* ENOMEM: neither EBADMSG nor EIO */
	r = client->set_fault(f);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), std::errc::invalid_argument);
	EXPECT_NE(client->extack(), "");
}

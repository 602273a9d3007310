// SPDX-License-Identifier: MIT
//
// Send coalescing (issue 20) with ktlsaccel.ko loaded: many 1-16 KiB
// writes through a connection with coalescing on arrive byte-exact, the
// module's counters for the sending socket's flow show more than one of
// their records in flight at once, and a writer that then stops without
// flushing still has its last bytes delivered (the library's timer closes
// the record it left open).

#include "lib_util.hpp"
#include "module_util.h"
#include "vm.h"

#include <ktlsaccel/control.hpp>
#include <ktlsaccel/ktlsaccel.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <thread>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;
using namespace std::chrono_literals;

namespace {

class LibCoalescingWithModule : public testing::TestWithParam<tls_version> {};

// 1 to 16 KiB pieces of data, in a fixed pseudo-random order.
std::vector<std::size_t> piece_sizes(std::size_t total)
{
	std::vector<std::size_t> sizes;
	std::uint32_t x = 2463534242u;
	for (std::size_t done = 0; done < total;) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		std::size_t n = std::min<std::size_t>(1024 + x % (15 * 1024 + 1), total - done);
		sizes.push_back(n);
		done += n;
	}
	return sizes;
}

struct run_result {
	std::uint32_t max_in_flight = 0;
	bool delivered = false;
};

/*
 * Writes data in pieces on the client, which then stops: no flush, no
 * shutdown, no further call while the server reads. The server's reads
 * time out after `bound`: data held open past that counts as lost.
 */
run_result run_pieces(tls_version v, const std::optional<coalescing> &mode,
		      const std::vector<std::byte> &data, std::chrono::seconds bound)
{
	run_result out;
	auto watch = flow_watch::start();
	if (!watch)
		return out;
	auto p = handshake_pair(v, cipher::aes_128_gcm);
	if (!p.client || !p.server) {
		ADD_FAILURE() << "handshake: " << (!p.client ? p.client.error() : p.server.error()).message();
		return out;
	}
	EXPECT_TRUE(p.client->info().kernel_offload);
	if (auto r = p.client->set_coalescing(mode); !r) {
		ADD_FAILURE() << "set_coalescing: " << r.error().message();
		return out;
	}
	timeval tv{static_cast<time_t>(bound.count()), 0};
	EXPECT_EQ(setsockopt(p.server_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);

	std::thread writer([&] {
		std::size_t off = 0;
		for (auto n : piece_sizes(data.size())) {
			auto r = p.client->send_all(std::span(data).subspan(off, n));
			EXPECT_TRUE(r) << r.error().message();
			if (!r)
				return;
			off += n;
		}
	});
	auto got = recv_exactly(*p.server, data.size());
	writer.join();
	out.delivered = got.size() == data.size();
	EXPECT_EQ(got.size(), data.size())
		<< "the writer's last bytes did not arrive within " << bound.count() << " s";
	EXPECT_TRUE(got == data) << "received bytes differ";

	/* The server read every record, so every encryption has completed. */
	auto flows = watch->flows();
	for (const auto &f : flows)
		if (f.direction == control::flow_direction::tx)
			out.max_in_flight = std::max(out.max_in_flight, f.stats.max_in_flight);
	EXPECT_GE(flow_bytes(flows, control::flow_direction::tx), data.size())
		<< "the module did not see the records\n" << watch->describe_all();
	EXPECT_TRUE(p.client->shutdown());
	return out;
}

TEST_P(LibCoalescingWithModule, SmallWritesKeepRecordsInFlightAndAQuietWriterIsDelivered)
{
	loaded_module module;
	/* as in LibWithModule (test_lib_module.cpp) */
	ASSERT_NO_FATAL_FAILURE(set_pipeline_latency(20000));

	const auto v = GetParam();
	const auto data = pattern(1 << 20, 31);
	/* far beyond max_delay: the timer's wake-up under TCG, not a speed */
	constexpr auto bound = 120s;

	/*
	 * 20 ms: longer than the writer's gaps between pieces even under TCG,
	 * where 1 ms made the library take it for quiet now and then (and
	 * close records early, which is right, but shallows the pipeline).
	 */
	auto held = run_pieces(v, coalescing{.max_delay = 20ms}, data, bound);
	/* the same writes without coalescing, for comparison: one record each */
	auto plain = run_pieces(v, std::nullopt, data, bound);

	RecordProperty("max_in_flight_coalesced", std::to_string(held.max_in_flight));
	RecordProperty("max_in_flight_plain", std::to_string(plain.max_in_flight));
	std::printf("library, %s, 1 MiB in 1-16 KiB writes: max %u records in flight "
		    "coalesced, %u without\n",
		    v == tls_version::tls12 ? "TLS 1.2" : "TLS 1.3", held.max_in_flight,
		    plain.max_in_flight);
	EXPECT_TRUE(held.delivered);
	EXPECT_GT(held.max_in_flight, 1u)
		<< "coalesced small writes should have several records in flight";
}

/*
 * Request/response: once two records in a row were closed by a recv()
 * holding a single send(), the first send() after a recv() is written at
 * once. Without the timer thread a held record never leaves without a
 * call, so "the server can read it" proves it was not held; a second
 * send() before the next recv() (a burst) is held again until flush().
 */
TEST_P(LibCoalescingWithModule, RequestResponseWritesAtOnceAndABurstIsHeldAgain)
{
	auto p = handshake_pair(GetParam(), cipher::aes_128_gcm);
	ASSERT_TRUE(p.client && p.server)
		<< "handshake: " << (!p.client ? p.client.error() : p.server.error()).message();
	ASSERT_TRUE(p.client->info().kernel_offload);
	ASSERT_TRUE(p.client->set_coalescing(coalescing{.max_delay = 1s, .timer_thread = false}));
	auto readable = [&](int ms) {
		pollfd pfd{p.server_fd.get(), POLLIN, 0};
		return ::poll(&pfd, 1, ms) == 1;
	};
	auto msg = [](char c, std::size_t n) { return std::vector<std::byte>(n, std::byte(c)); };
	auto send = [&](const std::vector<std::byte> &m) {
		auto r = p.client->send_all(m);
		ASSERT_TRUE(r) << r.error().message();
	};
	auto answer = [&](const std::vector<std::byte> &req) {
		/* the server echoes; the client's recv() closes what it holds */
		std::thread srv([&] {
			EXPECT_EQ(recv_exactly(*p.server, req.size()), req);
			EXPECT_TRUE(p.server->send_all(req));
		});
		EXPECT_EQ(recv_exactly(*p.client, req.size()), req);
		srv.join();
	};

	/* two exchanges: each request held until the client's recv() */
	for (char c : {'a', 'b'}) {
		auto req = msg(c, 300);
		send(req);
		EXPECT_FALSE(readable(200)) << "request " << c << " was not held";
		answer(req);
	}
	/* the third request goes at once: the server reads it before any recv() */
	auto req = msg('c', 300);
	send(req);
	ASSERT_TRUE(readable(10000)) << "a request/response request is still held";
	answer(req);

	/* a burst: the first write goes at once, the second is held... */
	auto first = msg('d', 500), second = msg('e', 700);
	send(first);
	send(second);
	EXPECT_EQ(recv_exactly(*p.server, first.size()), first);
	EXPECT_FALSE(readable(200)) << "the burst's second write was not held";
	/* ...until the application flushes */
	ASSERT_TRUE(p.client->flush());
	EXPECT_EQ(recv_exactly(*p.server, second.size()), second);
}

INSTANTIATE_TEST_SUITE_P(Versions, LibCoalescingWithModule,
			 testing::Values(tls_version::tls12, tls_version::tls13),
			 [](const auto &i) {
				 return std::string(i.param == tls_version::tls12 ? "Tls12" : "Tls13");
			 });

} // namespace

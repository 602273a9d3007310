// SPDX-License-Identifier: MIT
//
// The engine of ktlsaccel.ko seen from AF_ALG: depth reached with AIO,
// the backlog contract of a full ring (and no -ENOSPC), the latency and
// throughput model, the inline threshold and the dispatch policies.
// Results are checked against OpenSSL, counters against the requests made.

#include "module_util.h"
#include "vm.h"

#include <kcapi.h>

#include <gtest/gtest.h>

#include <sys/uio.h>

#include <atomic>
#include <latch>
#include <cerrno>
#include <cstdlib>
#include <thread>

using namespace ktlsaccel::vmtest;

namespace {

const bytes key = from_hex("feffe9928665731c6d6a8f9467308308");
const bytes iv = from_hex("cafebabefacedbaddecaf888");
const bytes aad = from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");

bytes pattern(size_t n, unsigned int seed)
{
	bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = static_cast<uint8_t>(i * 7 + seed);
	return b;
}

kv only_flow(const std::string &driver)
{
	auto f = flows_of(driver);
	if (f.size() != 1)
		throw std::runtime_error("expected one flow of " + driver + ", got " +
					 std::to_string(f.size()));
	return f[0];
}

void expect_idle_and_balanced(const kv &c)
{
	EXPECT_EQ(num(c, "in_flight"), 0u);
	EXPECT_EQ(num(c, "submitted"), num(c, "completed") + num(c, "errors"));
}

struct aio_result {
	unsigned int ok = 0, enospc = 0, other = 0;
	uint64_t flow_max_in_flight = 0;	/* of the one tfm */
};

/*
 * @n AF_ALG AIO encryptions of @len bytes in flight at once on one tfm
 * (one flow). The kernels refuse a second AIO request on an AF_ALG
 * operation socket while one is in flight (EBUSY, "crypto: af_alg -
 * Disallow multiple in-flight AIO requests"), so every request gets its
 * own operation socket on the shared tfm (kcapi_handle_reinit) and its own
 * thread, as libkcapi's one-shot AIO call waits for its events.
 */
aio_result aio_encrypt(unsigned int n, size_t len)
{
	struct kcapi_handle *base;
	aio_result r;
	if (kcapi_aead_init(&base, "ktlsaccel-gcm-aes", KCAPI_INIT_AIO)) {
		ADD_FAILURE() << "kcapi_aead_init";
		return r;
	}
	EXPECT_EQ(kcapi_aead_setkey(base, key.data(), key.size()), 0);
	EXPECT_EQ(kcapi_aead_settaglen(base, 16), 0);

	std::atomic<unsigned int> ok = 0, enospc = 0, other = 0;
	/* Set-up is slow under emulation: submit only once every thread is ready. */
	std::latch ready(n);
	std::vector<std::thread> t;
	for (unsigned int i = 0; i < n; i++) {
		t.emplace_back([&, i] {
			struct kcapi_handle *h;
			if (kcapi_handle_reinit(&h, base, KCAPI_INIT_AIO)) {
				other++;
				ready.count_down();
				return;
			}
			kcapi_aead_setassoclen(h, aad.size());
			bytes in = aad, pt = pattern(len, i);
			in.insert(in.end(), pt.begin(), pt.end());
			bytes out(in.size() + 16);
			struct iovec iniov = {in.data(), in.size()};
			struct iovec outiov = {out.data(), out.size()};
			ready.arrive_and_wait();
			ssize_t ret = kcapi_aead_encrypt_aio(h, &iniov, &outiov, 1, iv.data(),
							     KCAPI_ACCESS_SENDMSG);
			if (ret == -ENOSPC)
				enospc++;
			else if (ret == static_cast<ssize_t>(out.size()) &&
				 bytes(out.begin() + aad.size(), out.end()) ==
					 openssl_gcm_encrypt(key, iv, aad, pt))
				ok++;
			else
				other++;
			kcapi_aead_destroy(h);
		});
	}
	for (auto &th : t)
		th.join();
	/* The flow goes away with its tfm. */
	auto f = only_flow("ktlsaccel-gcm-aes");
	r.flow_max_in_flight = num(f, "max_in_flight");
	expect_idle_and_balanced(f);
	kcapi_aead_destroy(base);
	r.ok = ok;
	r.enospc = enospc;
	r.other = other;
	return r;
}

} // namespace

TEST(ModuleEngine, AioBurstOf64RequestsKeepsAtLeast32InFlight)
{
	/* A 1 s modelled latency keeps each request in the ring long enough. */
	loaded_module mod("queues=2 depth=64");
	reconfigure("latency_us=1000000");
	auto r = aio_encrypt(64, 1024);
	EXPECT_EQ(r.ok, 64u);
	EXPECT_EQ(r.enospc + r.other, 0u);
	auto e = engine_stats();
	uint64_t max = 0;
	for (auto &q : queue_stats())
		max += num(q, "max_in_flight");
	std::printf("AIO: 64 requests on one tfm: max in flight %llu on the flow, "
		    "%llu summed over the queues' peaks\n",
		    (unsigned long long)r.flow_max_in_flight, (unsigned long long)max);
	RecordProperty("max_in_flight", std::to_string(r.flow_max_in_flight));
	EXPECT_GE(r.flow_max_in_flight, 32u);
	EXPECT_GE(max, 32u);
	/* One flow only: the device's peak is at least the flow's. */
	EXPECT_GE(num(e, "max_in_flight"), r.flow_max_in_flight);
	EXPECT_EQ(num(e, "rejected"), 0u);
	expect_idle_and_balanced(e);
}

TEST(ModuleEngine, FullRingNeverRefusesRequestsWithoutBacklogFlag)
{
	/*
	 * AF_ALG AIO requests do not set CRYPTO_TFM_REQ_MAY_BACKLOG. A busy
	 * flow's request must neither be refused (a drop, for a packet user)
	 * nor overtake its flow's earlier ones: it is accepted beyond the depth.
	 */
	loaded_module mod("queues=1 depth=4");
	reconfigure("latency_us=300000");
	auto r = aio_encrypt(32, 256);
	auto e = engine_stats();
	std::printf("AIO into a 4-deep ring: %u done, %u ENOSPC, %llu rejected, peak %llu\n",
		    r.ok, r.enospc, (unsigned long long)num(e, "rejected"),
		    (unsigned long long)num(queue_stats()[0], "max_in_flight"));
	EXPECT_EQ(r.enospc, 0u);
	EXPECT_EQ(r.ok, 32u);
	EXPECT_EQ(r.other, 0u);
	EXPECT_EQ(num(e, "rejected"), 0u);
	EXPECT_EQ(num(e, "backlogged"), 0u);
	EXPECT_GT(num(queue_stats()[0], "max_in_flight"), 4u);
	expect_idle_and_balanced(e);
}

TEST(ModuleEngine, BacklogHoldsRequestsOfAFullRingAndCompletesEveryOne)
{
	/* Synchronous AF_ALG requests do set CRYPTO_TFM_REQ_MAY_BACKLOG. */
	loaded_module mod("queues=1 depth=2");
	reconfigure("latency_us=20000");
	auto start = engine_stats();
	constexpr int threads = 12, rounds = 6;
	std::atomic<int> good = 0;
	std::vector<std::thread> t;
	for (int i = 0; i < threads; i++) {
		t.emplace_back([&, i] {
			aead a("ktlsaccel-gcm-aes");
			if (a.setkey(key))
				return;
			for (int r = 0; r < rounds; r++) {
				bytes pt = pattern(512 + i, r), out;
				if (a.encrypt(iv, aad, pt, 16, out) == 0 &&
				    out == openssl_gcm_encrypt(key, iv, aad, pt))
					good++;
			}
		});
	}
	for (auto &th : t)
		th.join();
	EXPECT_EQ(good, threads * rounds);
	auto e = engine_stats();
	uint64_t backlogged = num(e, "backlogged") - num(start, "backlogged");
	std::printf("backlog: %llu of %d requests were backlogged, max in flight %llu\n",
		    (unsigned long long)backlogged, threads * rounds,
		    (unsigned long long)num(e, "max_in_flight"));
	RecordProperty("backlogged", std::to_string(backlogged));
	EXPECT_GT(backlogged, 0u);
	EXPECT_EQ(num(e, "rejected"), 0u);
	EXPECT_EQ(num(e, "errors"), num(start, "errors"));
	EXPECT_GT(num(e, "max_in_flight"), 2u) << "backlogged requests count as in flight";
	expect_idle_and_balanced(e);
}

TEST(ModuleEngine, ReconfigureDeliversTheOldBacklogWithoutWaitingOutItsLatency)
{
	/*
	 * Six requests on a ring of one at 3 s each: the model would take 18 s
	 * to run them dry, and a reconfiguration waits for the old queues
	 * under the engine and genetlink mutexes. Replaced queues hand back
	 * what they hold as soon as it has run.
	 */
	loaded_module mod("queues=1 depth=1");
	reconfigure("latency_us=3000000");
	constexpr unsigned int n = 6;
	std::atomic<unsigned int> good = 0;
	std::vector<std::thread> t;
	for (unsigned int i = 0; i < n; i++) {
		t.emplace_back([&, i] {
			aead a("ktlsaccel-gcm-aes");
			if (a.setkey(key))
				return;
			bytes pt = pattern(256, i), out;
			if (a.encrypt(iv, aad, pt, 16, out) == 0 &&
			    out == openssl_gcm_encrypt(key, iv, aad, pt))
				good++;
		});
	}
	/* All six in: one in the ring, five backlogged (they count as in flight). */
	uint64_t in_flight = 0;
	for (int i = 0; i < 500 && in_flight < n; i++) {
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
		in_flight = num(engine_stats(), "in_flight");
	}
	uint64_t t0 = now_us();
	reconfigure("queues=2 latency_us=0");
	uint64_t took = now_us() - t0;
	for (auto &th : t)
		th.join();
	std::printf("reconfigure with %llu requests on the old ring (3 s each) took %llu ms\n",
		    (unsigned long long)in_flight, (unsigned long long)(took / 1000));
	RecordProperty("reconfigure_ms", std::to_string(took / 1000));
	EXPECT_EQ(in_flight, n) << "the requests never all reached the engine";
	EXPECT_EQ(good, n);
	EXPECT_LT(took, 6000000u) << "the reconfiguration waited out the modelled latency";
	expect_idle_and_balanced(engine_stats());
}

TEST(ModuleEngine, LatencyModelCompletesNoEarlierThanTheConfiguredLatency)
{
	loaded_module mod;
	reconfigure("latency_us=100000");
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(key), 0);
	bytes pt = pattern(64, 1), out;
	uint64_t t0 = now_us();
	ASSERT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
	uint64_t took = now_us() - t0;
	EXPECT_EQ(out, openssl_gcm_encrypt(key, iv, aad, pt));
	EXPECT_GE(took, 100000u);
	/* Histogram bucket 16 is [65.5 ms, 131 ms). */
	auto f = only_flow("ktlsaccel-gcm-aes");
	std::string hist = f["latency_log2_us"];
	std::vector<uint64_t> buckets;
	for (size_t pos = 0; pos <= hist.size();) {
		size_t comma = hist.find(',', pos);
		if (comma == std::string::npos)
			comma = hist.size();
		buckets.push_back(std::stoull(hist.substr(pos, comma - pos)));
		pos = comma + 1;
	}
	ASSERT_EQ(buckets.size(), 24u);
	uint64_t slow = 0;
	for (size_t i = 16; i < buckets.size(); i++)
		slow += buckets[i];
	EXPECT_EQ(slow, 1u) << hist;
}

TEST(ModuleEngine, ThroughputCapLimitsBytesPerSecondOfAQueue)
{
	/* 1 MB/s: 16 requests of 16 KiB need at least 0.26 s. */
	loaded_module mod("queues=1");
	reconfigure("throughput=1000000");
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(key), 0);
	uint64_t t0 = now_us();
	for (int i = 0; i < 16; i++) {
		bytes pt = pattern(16384, i), out;
		ASSERT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
		EXPECT_EQ(out, openssl_gcm_encrypt(key, iv, aad, pt));
	}
	uint64_t took = now_us() - t0;
	std::printf("16 x 16 KiB at 1 MB/s took %llu ms\n", (unsigned long long)took / 1000);
	EXPECT_GE(took, 16 * (16384 + aad.size()) * 1000000ull / 1000000 - 1000);
}

TEST(ModuleEngine, InlineThresholdRunsSmallRequestsInTheCaller)
{
	/* inline_mode=never: only the threshold decides (AF_ALG waits anyway). */
	loaded_module mod("inline_threshold=64 inline_mode=never");
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(key), 0);
	for (size_t len : {0, 1, 64, 65, 1000}) {
		bytes pt = pattern(len, 3), out;
		ASSERT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
		EXPECT_EQ(out, openssl_gcm_encrypt(key, iv, aad, pt)) << len;
	}
	auto f = only_flow("ktlsaccel-gcm-aes");
	EXPECT_EQ(num(f, "submitted"), 5u);
	EXPECT_EQ(num(f, "inlined"), 3u) << "0, 1 and 64 bytes are <= 64";
	expect_idle_and_balanced(f);
}

TEST(ModuleEngine, SpreadUsesEveryQueueAndFlowPinsAFlowToOne)
{
	loaded_module mod("queues=2 dispatch=spread");
	auto run20 = [] {
		aead a("ktlsaccel-gcm-aes");
		ASSERT_EQ(a.setkey(key), 0);
		for (int i = 0; i < 20; i++) {
			bytes pt = pattern(100, i), out;
			ASSERT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
			EXPECT_EQ(out, openssl_gcm_encrypt(key, iv, aad, pt));
		}
	};
	auto submitted = [] {
		std::vector<uint64_t> v;
		for (auto &q : queue_stats())
			v.push_back(num(q, "submitted"));
		return v;
	};
	auto before = submitted();
	run20();
	auto spread = submitted();
	ASSERT_EQ(spread.size(), 2u);
	EXPECT_EQ(spread[0] - before[0], 10u);
	EXPECT_EQ(spread[1] - before[1], 10u);

	set_knob("dispatch", "flow");
	EXPECT_EQ(get_knob("dispatch"), "flow");
	run20();
	auto pinned = submitted();
	uint64_t d0 = pinned[0] - spread[0], d1 = pinned[1] - spread[1];
	EXPECT_EQ(d0 + d1, 20u);
	EXPECT_TRUE(d0 == 0 || d1 == 0) << d0 << " and " << d1;
}

// SPDX-License-Identifier: MIT
//
// Runtime reconfiguration of ktlsaccel.ko's queues, depth and latency
// (netlink DEV_SET, through testsupport::set_knobs) while
// requests are in flight: none lost, none stuck, every result correct.

#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace ktlsaccel::vmtest;

TEST(ModuleReconfigure, QueuesDepthAndLatencyChangeUnderLoadWithoutLosingARequest)
{
	loaded_module mod("queues=2 depth=8");
	reconfigure("latency_us=2000");
	auto start = engine_stats(); /* the self-tests' forgeries are errors */
	const bytes key = from_hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	const bytes iv = from_hex("0a0b0c0d0e0f101112131415");
	const bytes aad = from_hex("1703030000");
	std::atomic<bool> stop = false;
	std::atomic<unsigned int> good = 0, bad = 0;
	std::vector<std::thread> t;
	for (int i = 0; i < 8; i++) {
		t.emplace_back([&, i] {
			aead a("ktlsaccel-gcm-aes");
			if (a.setkey(key)) {
				bad++;
				return;
			}
			for (unsigned int r = 0; !stop; r++) {
				bytes pt(300 + 97 * i + r % 50, static_cast<uint8_t>(r)), out, back;
				bytes want = openssl_gcm_encrypt(key, iv, aad, pt);
				if (a.encrypt(iv, aad, pt, 16, out) == 0 && out == want &&
				    a.decrypt(iv, aad, out, 16, back) == 0 && back == pt)
					good++;
				else
					bad++;
			}
		});
	}
	const char *configs[] = {
		"queues=1 depth=2",
		"queues=4 depth=64 latency_us=0",
		"queues=3 depth=1 latency_us=5000",
		"queues=1 depth=4 latency_us=1000",
		"queues=2 depth=16 latency_us=100",
	};
	for (const char *c : configs) {
		std::this_thread::sleep_for(std::chrono::milliseconds(400));
		unsigned int before = good;
		EXPECT_NO_THROW(reconfigure(c)) << c;
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		EXPECT_GT(good.load(), before) << "no progress after " << c;
	}
	stop = true;
	for (auto &th : t)
		th.join();
	std::printf("reconfigure under load: %u round trips correct, %u wrong\n",
		    good.load(), bad.load());
	EXPECT_EQ(bad, 0u);
	EXPECT_GT(good, 50u);

	auto e = engine_stats();
	EXPECT_EQ(num(e, "queues"), 2u);
	EXPECT_EQ(num(e, "depth"), 16u);
	EXPECT_EQ(num(e, "latency_us"), 100u);
	EXPECT_EQ(queue_stats().size(), 2u);
	EXPECT_EQ(num(e, "in_flight"), 0u);
	EXPECT_EQ(num(e, "errors"), num(start, "errors"));
	EXPECT_EQ(num(e, "submitted"), num(e, "completed") + num(e, "errors"));
	EXPECT_GE(num(e, "completed") - num(start, "completed"), 2ull * good);
}

TEST(ModuleReconfigure, InvalidConfigurationsAreRefusedAndChangeNothing)
{
	loaded_module mod("queues=2 depth=8");
	for (const char *c : {"queues=0", "depth=0", "queues=100000", "latency_us=20000000",
			      "depth=abc", "colour=blue"})
		EXPECT_THROW(reconfigure(c), std::runtime_error) << c;
	auto e = engine_stats();
	EXPECT_EQ(num(e, "queues"), 2u);
	EXPECT_EQ(num(e, "depth"), 8u);
}

// SPDX-License-Identifier: MIT
//
// Fault injection of ktlsaccel.ko: injected failures reach the caller with
// the configured error and are accounted, a stalled queue holds its
// requests until released, an added delay delays completions.

#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>

using namespace ktlsaccel::vmtest;

namespace {

const bytes key = from_hex("000102030405060708090a0b0c0d0e0f");
const bytes iv = from_hex("000000000000000000000001");
const bytes aad = from_hex("17030300400000000000000001");
const bytes pt(256, 0x5a);

struct outcome {
	unsigned int ok = 0, ebadmsg = 0, eio = 0, other = 0;
};

outcome decrypt_many(unsigned int n)
{
	aead a("ktlsaccel-gcm-aes");
	EXPECT_EQ(a.setkey(key), 0);
	bytes ct = openssl_gcm_encrypt(key, iv, aad, pt);
	outcome o;
	for (unsigned int i = 0; i < n; i++) {
		bytes out;
		int ret = a.decrypt(iv, aad, ct, 16, out);
		if (ret == 0 && out == pt)
			o.ok++;
		else if (ret == -EBADMSG)
			o.ebadmsg++;
		else if (ret == -EIO)
			o.eio++;
		else
			o.other++;
	}
	return o;
}

} // namespace

TEST(ModuleFault, InjectedDecryptFailuresReachTheCallerAndCountersAddUp)
{
	loaded_module mod("decrypt=async");
	set_knob("fault_rate", "300000");
	auto o = decrypt_many(200);
	std::printf("30%% injected: %u ok, %u EBADMSG\n", o.ok, o.ebadmsg);
	EXPECT_EQ(o.other + o.eio, 0u);
	EXPECT_GT(o.ebadmsg, 20u);
	EXPECT_GT(o.ok, 80u);

	/* The errno knob: EIO, an engine failure rather than a forgery. */
	set_knob("fault_errno", "5");
	auto p = decrypt_many(100);
	EXPECT_GT(p.eio, 5u);
	EXPECT_EQ(p.ebadmsg + p.other, 0u);

	/* Encryption is untouched with fault_ops=decrypt (the default). */
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(key), 0);
	for (int i = 0; i < 50; i++) {
		bytes out;
		ASSERT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
	}

	auto e = engine_stats();
	EXPECT_EQ(num(e, "faults"), o.ebadmsg + p.eio);
	EXPECT_EQ(num(e, "in_flight"), 0u);
	EXPECT_EQ(num(e, "submitted"), num(e, "completed") + num(e, "errors"));
	EXPECT_GE(num(e, "errors"), num(e, "faults"));
}

TEST(ModuleFault, InjectedFailuresApplyToInlineDecryptionAndEncryptionWhenAsked)
{
	loaded_module mod("decrypt=inline fault_ops=both fault_errno=5");
	set_knob("fault_rate", "1000000");
	auto o = decrypt_many(20);
	EXPECT_EQ(o.eio, 20u);
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(key), 0);
	bytes out;
	EXPECT_EQ(a.encrypt(iv, aad, pt, 16, out), -EIO);
	EXPECT_EQ(get_knob("fault_ops"), "both");
	set_knob("fault_rate", "0");
	EXPECT_EQ(decrypt_many(5).ok, 5u);
}

TEST(ModuleFault, InvalidFaultErrnoIsRefused)
{
	loaded_module mod;
	EXPECT_THROW(set_knob("fault_errno", "22"), std::runtime_error);
	EXPECT_EQ(get_knob("fault_errno"), "74");
	EXPECT_THROW(set_knob("fault_ops", "sometimes"), std::runtime_error);
}

TEST(ModuleFault, StalledQueueHoldsItsRequestsUntilReleased)
{
	/* AF_ALG waits for its result: queue it anyway, or it would run inline. */
	loaded_module mod("queues=1 inline_mode=never");
	set_knob("fault_stall_queue", "0");
	std::atomic<int> result = 1;
	std::thread t([&] {
		aead a("ktlsaccel-gcm-aes");
		bytes out;
		if (a.setkey(key) == 0)
			result = a.encrypt(iv, aad, pt, 16, out) == 0 &&
				 out == openssl_gcm_encrypt(key, iv, aad, pt) ? 0 : -1;
	});
	/* Wait until the request is on the ring (5 s at most), then a while more. */
	auto q = queue_stats();
	for (int i = 0; i < 500 && !(q.size() == 1 && num(q[0], "ring") == 1); i++) {
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
		q = queue_stats();
	}
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	EXPECT_EQ(result, 1) << "a request finished on a stalled queue";
	q = queue_stats();
	ASSERT_EQ(q.size(), 1u);
	EXPECT_EQ(num(q[0], "ring"), 1u);
	EXPECT_EQ(num(q[0], "in_flight"), 1u);

	set_knob("fault_stall_queue", "-1");
	t.join();
	EXPECT_EQ(result, 0);
	EXPECT_EQ(num(queue_stats()[0], "ring"), 0u);
}

TEST(ModuleFault, AddedDelayPostponesCompletion)
{
	loaded_module mod;
	set_knob("fault_delay_us", "200000");
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(key), 0);
	bytes out;
	uint64_t t0 = now_us();
	ASSERT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
	EXPECT_GE(now_us() - t0, 200000u);
	set_knob("fault_delay_us", "0");
	/* The fastest of three: one slow request on a busy host says nothing. */
	uint64_t fastest = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		t0 = now_us();
		ASSERT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
		fastest = std::min(fastest, now_us() - t0);
	}
	EXPECT_LT(fastest, 200000u);
}

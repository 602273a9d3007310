// SPDX-License-Identifier: MIT
//
// Lifecycle of ktlsaccel.ko: the kernel's module refcount keeps it loaded
// while a tfm uses it, and repeated load/unload cycles leave nothing behind
// (algorithms, threads, slab memory). The same with kTLS sockets as users.

#include "ktls_util.h"
#include "module_util.h"
#include "soak_util.hpp"
#include "vm.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

using namespace ktlsaccel::vmtest;

namespace {

void one_request()
{
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(bytes(16, 1)), 0);
	bytes out;
	ASSERT_EQ(a.encrypt(bytes(12, 2), bytes(13, 3), bytes(100, 4), 16, out), 0);
}

} // namespace

TEST(ModuleLifecycle, UnloadIsRefusedWhileATfmExistsAndWorksOnceItIsFreed)
{
	check_output("mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug");
	check_output("insmod " + module_path().string());
	wait_for_selftests();
	{
		aead a("ktlsaccel-gcm-aes");
		ASSERT_EQ(a.setkey(bytes(16, 1)), 0);
		auto r = run("rmmod ktlsaccel");
		EXPECT_NE(r.status, 0) << r.output;
		EXPECT_TRUE(module_loaded());
	}
	EXPECT_TRUE(unload_module());
	EXPECT_FALSE(module_loaded());
}

TEST(ModuleLifecycle, SixLoadUnloadCyclesLeaveNothingBehind)
{
	/* A first cycle warms caches (crypto templates, debugfs, kcapi). */
	{
		loaded_module mod("queues=4");
		one_request();
	}
	settle_memory();
	long long before = kmalloc_bytes();
	for (int i = 0; i < 6; i++) {
		loaded_module mod("queues=4");
		one_request();
	}
	settle_memory();
	long long after = kmalloc_bytes();
	std::printf("6 load/unload cycles: kmalloc bytes in use %lld -> %lld (%+lld)\n",
		    before, after, after - before);
	RecordProperty("kmalloc_growth", std::to_string(after - before));
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(check_output("grep -c ktlsaccel /proc/crypto || true"), "0\n");
	EXPECT_EQ(check_output("ps -e -o comm= | grep -c '^ktlsaccel/' || true"), "0\n");
	EXPECT_FALSE(std::filesystem::exists("/sys/kernel/debug/ktlsaccel"));
	/*
	 * Each cycle allocates several KiB; the noise from the rest of the
	 * system measured over ten cycles stayed within 14 KiB either way.
	 * 64 KiB is 10.7 KiB a cycle (12.8 KiB with the ten cycles before).
	 */
	EXPECT_LT(after - before, 64 * 1024);
}

/*
 * The same with kTLS as the user: a socket's tfms pin the module, so rmmod
 * fails (delete_module: EAGAIN/EWOULDBLOCK, or EBUSY) while any of them is
 * open, and the failed attempts leave the connections working.
 */
namespace {

struct ktls_pair {
	TcpPair tcp;
	Cipher cipher;
	TlsVersion version;
};

/* a sends with TLS_TX, b receives with TLS_RX (same keys). */
ktls_pair make_ktls_pair(Cipher c, TlsVersion v)
{
	ktls_pair p{tcp_loopback_pair(), c, v};
	auto info = random_crypto_info(c, v);
	EXPECT_EQ(ktls_install(p.tcp.a.get(), TLS_TX, info), 0);
	EXPECT_EQ(ktls_install(p.tcp.b.get(), TLS_RX, info), 0);
	return p;
}

bool transfer_is_exact(ktls_pair &p, std::size_t size)
{
	auto data = random_bytes(size);
	int rx_errno = 0;
	auto got = ktls_transfer(p.tcp.a.get(), p.tcp.b.get(), data, 20000, &rx_errno);
	return rx_errno == 0 && got == data;
}

int try_delete_module()
{
	if (syscall(SYS_delete_module, "ktlsaccel", O_NONBLOCK) == 0)
		return 0;
	return errno;
}

const Cipher all_ciphers[] = {Cipher::aes_128_gcm, Cipher::aes_256_gcm,
			      Cipher::chacha20_poly1305, Cipher::aes_128_ccm};

} // namespace

TEST(ModuleLifecycle, UnloadIsRefusedWhileKtlsSocketsAreOpenAndTheyKeepWorking)
{
	loaded_module mod("queues=2");
	std::vector<ktls_pair> pairs;
	for (auto c : all_ciphers)
		for (auto v : {TlsVersion::tls12, TlsVersion::tls13})
			pairs.push_back(make_ktls_pair(c, v));
	ASSERT_FALSE(HasFailure());
	for (auto &p : pairs)
		ASSERT_TRUE(transfer_is_exact(p, 100000)) << to_string(p.cipher);

	/* Under load too: a transfer runs while rmmod is tried again and again. */
	std::atomic<bool> ok = true;
	std::thread t([&] {
		for (int i = 0; i < 5; i++)
			ok = ok && transfer_is_exact(pairs[i % pairs.size()], 300000);
	});
	int refused = 0;
	for (int i = 0; i < 20; i++) {
		int err = try_delete_module();
		EXPECT_TRUE(err == EAGAIN || err == EWOULDBLOCK || err == EBUSY)
			<< "delete_module: " << (err ? std::strerror(err) : "succeeded");
		refused += err != 0;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	t.join();
	EXPECT_EQ(refused, 20);
	EXPECT_TRUE(ok) << "a transfer failed while rmmod was being refused";
	EXPECT_TRUE(module_loaded());
	for (auto &p : pairs)
		EXPECT_TRUE(transfer_is_exact(p, 50000)) << to_string(p.cipher);

	/* Each socket holds the module: it goes only with the last one. */
	pairs.pop_back();
	EXPECT_NE(try_delete_module(), 0);
	pairs.clear();
	/* the tfms are freed when the sockets are (tls_ctx_free, RCU) */
	EXPECT_TRUE(unload_module());
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(check_output("grep -c ktlsaccel /proc/crypto || true"), "0\n");
}

TEST(ModuleLifecycle, FourLoadUnloadCyclesWithKtlsTrafficLeaveNothingBehind)
{
	auto cycle = [](int i) {
		loaded_module mod(i % 2 ? "queues=1 depth=4" : "queues=3");
		auto c = all_ciphers[i % 4];
		auto v = i % 3 ? TlsVersion::tls13 : TlsVersion::tls12;
		auto p = make_ktls_pair(c, v);
		EXPECT_TRUE(transfer_is_exact(p, 200000)) << to_string(c) << " " << to_string(v);
		/* its TX and RX tfm, both the module's */
		EXPECT_EQ(flow_stats().size(), 2u);
	};
	/* warms tls.ko, the templates and the caches (every cipher once) */
	for (int i = 0; i < 4; i++)
		cycle(i);
	settle_memory();
	long long before = kmalloc_bytes();
	for (int i = 0; i < 4; i++)
		cycle(i);
	settle_memory();
	long long after = kmalloc_bytes();
	std::printf("4 load/unload cycles with kTLS: kmalloc bytes in use %lld -> %lld (%+lld)\n",
		    before, after, after - before);
	RecordProperty("kmalloc_growth", std::to_string(after - before));
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(check_output("ps -e -o comm= | grep -c '^ktlsaccel/' || true"), "0\n");
	/* 32 KiB a cycle (42.7 KiB with the six cycles before) */
	EXPECT_LT(after - before, 128 * 1024);
}

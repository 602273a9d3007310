// SPDX-License-Identifier: MIT
//
// Teardown races around ktlsaccel.ko (the 2024 kTLS CVEs were races of this
// kind): sockets closed while their records are still in the engine, the
// peer resetting the connection meanwhile, a stalled queue holding records
// across a close, and a vCPU taken offline and back while the queues it
// runs have work. What must hold: every byte that a sender's close flushed
// arrives exact, nothing hangs, the counters balance, every tfm is freed,
// and the kernel log stays clean (KASAN and lockdep on the debug kernel).

#include "ktls_util.h"
#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <dirent.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace ktlsaccel::vmtest;
namespace fs = std::filesystem;

namespace {

const Cipher all_ciphers[] = {Cipher::aes_128_gcm, Cipher::aes_256_gcm,
			      Cipher::chacha20_poly1305, Cipher::aes_128_ccm};
const TlsVersion all_versions[] = {TlsVersion::tls12, TlsVersion::tls13};

/* a sends with TLS_TX, b receives with TLS_RX (same keys). */
TcpPair ktls_pair(Cipher c, TlsVersion v)
{
	auto p = tcp_loopback_pair();
	auto info = random_crypto_info(c, v);
	EXPECT_EQ(ktls_install(p.a.get(), TLS_TX, info), 0);
	EXPECT_EQ(ktls_install(p.b.get(), TLS_RX, info), 0);
	return p;
}

std::vector<std::uint8_t> recv_to_eof(int fd, int *err)
{
	std::vector<std::uint8_t> got, buf(1 << 20);
	*err = 0;
	for (;;) {
		ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			return got;
		}
		if (n == 0)
			return got;
		got.insert(got.end(), buf.begin(), buf.begin() + n);
	}
}

void send_all(int fd, const std::vector<std::uint8_t> &data, int flags = 0)
{
	std::size_t off = 0;
	while (off < data.size()) {
		ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | flags);
		ASSERT_GT(n, 0) << std::strerror(errno);
		off += static_cast<std::size_t>(n);
	}
}

/* The engine idle and every tfm freed once the sockets are gone. */
void expect_engine_idle_and_no_flows()
{
	std::size_t flows = 0;
	for (int i = 0; i < 100; i++) {
		flows = flow_stats().size();
		if (!flows)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	EXPECT_EQ(flows, 0u) << "tfms left after every socket was closed";
	auto e = engine_stats();
	EXPECT_EQ(num(e, "in_flight"), 0u);
	EXPECT_EQ(num(e, "submitted"), num(e, "completed") + num(e, "errors"));
	for (auto &q : queue_stats()) {
		EXPECT_EQ(num(q, "ring"), 0u);
		EXPECT_EQ(num(q, "backlog"), 0u);
	}
}

void reset_close(unique_fd &fd)
{
	linger lg{.l_onoff = 1, .l_linger = 0};
	setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	unique_fd gone(fd.release());
}

} // namespace

TEST(ModuleTeardown, CloseRightAfterWritingFlushesEveryRecordStillInTheEngine)
{
	loaded_module mod("queues=2");
	reconfigure("latency_us=20000");
	unsigned int closed_in_flight = 0;
	for (auto c : all_ciphers) {
		for (auto v : all_versions) {
			auto p = ktls_pair(c, v);
			auto data = random_bytes(256 * 1024);
			int err = 0;
			std::vector<std::uint8_t> got;
			/* The receiver reads all along: the sender never waits for it. */
			std::thread rx([&] { got = recv_to_eof(p.b.get(), &err); });
			/*
			 * kTLS waits for its async records at the end of a send()
			 * without MSG_MORE, and in the first send() of a socket
			 * (it learns only then that the tfm is asynchronous); after
			 * that, full records (16 KiB: the data is a multiple) sent
			 * with MSG_MORE are still in the engine when send() returns.
			 */
			send_all(p.a.get(), std::vector<std::uint8_t>(data.begin(), data.begin() + 16384));
			send_all(p.a.get(), std::vector<std::uint8_t>(data.begin() + 16384, data.end()),
				 MSG_MORE);
			closed_in_flight += num(engine_stats(), "in_flight") > 0;
			{
				unique_fd gone(p.a.release());
			}
			rx.join();
			EXPECT_EQ(err, 0) << to_string(c) << " " << to_string(v) << ": " << std::strerror(err);
			EXPECT_TRUE(got == data) << to_string(c) << " " << to_string(v) << ": got "
						 << got.size() << " of " << data.size() << " bytes";
		}
	}
	std::printf("closed with records in flight: %u of 8 connections\n", closed_in_flight);
	EXPECT_GT(closed_in_flight, 0u) << "no close ever raced a record in flight";
	expect_engine_idle_and_no_flows();
}

TEST(ModuleTeardown, PeerResetWhileRecordsAreInFlightFailsTheSenderCleanly)
{
	loaded_module mod("queues=2");
	reconfigure("latency_us=20000");
	for (auto c : all_ciphers) {
		for (auto v : all_versions) {
			auto p = ktls_pair(c, v);
			/* two records: fit the socket buffers of a peer that never reads */
			auto data = random_bytes(32 * 1024);
			send_all(p.a.get(), data);
			reset_close(p.b);
			/* The sender learns of the reset: a send fails, it does not hang. */
			int err = 0;
			for (int i = 0; i < 50 && !err; i++) {
				if (::send(p.a.get(), data.data(), 16384, MSG_NOSIGNAL) < 0)
					err = errno;
				std::this_thread::sleep_for(std::chrono::milliseconds(10));
			}
			EXPECT_TRUE(err == ECONNRESET || err == EPIPE)
				<< to_string(c) << " " << to_string(v) << ": "
				<< (err ? std::strerror(err) : "every send succeeded");
		}
	}
	expect_engine_idle_and_no_flows();
}

TEST(ModuleTeardown, PeerResetDuringAsyncDecryptionEndsTheReceiveCleanly)
{
	loaded_module mod("queues=2 decrypt=async");
	reconfigure("latency_us=20000");
	unsigned int reset_in_flight = 0;
	for (auto c : all_ciphers) {
		/* Only TLS 1.2 decrypts asynchronously (several records per recv). */
		auto p = ktls_pair(c, TlsVersion::tls12);
		auto data = random_bytes(128 * 1024);
		std::atomic<int> rx_err = -1;
		std::vector<std::uint8_t> got;
		std::thread rx([&] {
			int err = 0;
			got = recv_to_eof(p.b.get(), &err);
			rx_err = err;
		});
		send_all(p.a.get(), data);
		std::this_thread::sleep_for(std::chrono::milliseconds(30));
		reset_in_flight += num(engine_stats(), "in_flight") > 0;
		reset_close(p.a);
		rx.join();
		/* A prefix, then the reset (or EOF if the reset raced the end). */
		EXPECT_TRUE(rx_err == 0 || rx_err == ECONNRESET) << to_string(c) << ": "
								 << std::strerror(rx_err);
		EXPECT_LE(got.size(), data.size());
		EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()))
			<< to_string(c) << ": the bytes received before the reset differ";
	}
	std::printf("reset with decryptions in flight: %u of %zu connections\n", reset_in_flight,
		    std::size(all_ciphers));
	EXPECT_GT(reset_in_flight, 0u) << "no reset ever raced a decryption in flight";
	expect_engine_idle_and_no_flows();
}

TEST(ModuleTeardown, CloseWaitsForAStalledQueueAndLosesNothing)
{
	/* Every record through the queue, lone ones too, so the stall holds them. */
	loaded_module mod("queues=1 inline_mode=never");
	auto p = ktls_pair(Cipher::aes_128_gcm, TlsVersion::tls13);
	auto data = random_bytes(3 * 16384);
	int err = 0;
	std::vector<std::uint8_t> got;
	std::thread rx([&] { got = recv_to_eof(p.b.get(), &err); });
	/* The first send() of a socket waits for its records (see above). */
	EXPECT_EQ(::send(p.a.get(), data.data(), 16384, MSG_NOSIGNAL), 16384);

	set_knob("fault_stall_queue", "0");
	/*
	 * Released from another thread whatever happens here: kTLS waits for
	 * its records uninterruptibly, a stall nobody lifts is a hung task.
	 */
	std::atomic<std::uint64_t> released_at{0};
	std::thread release([&] {
		std::this_thread::sleep_for(std::chrono::milliseconds(1500));
		released_at = now_us();
		set_knob("fault_stall_queue", "-1");
	});
	/* two full records with MSG_MORE: send() returns without waiting for them */
	EXPECT_EQ(::send(p.a.get(), data.data() + 16384, 2 * 16384, MSG_NOSIGNAL | MSG_MORE),
		  2 * 16384);
	auto q = queue_stats();
	unsigned int held = q.size() == 1 ? num(q[0], "ring") : 0;
	auto t0 = now_us();
	{
		unique_fd gone(p.a.release());
	}
	auto closed_at = now_us();
	auto waited = closed_at - t0;
	release.join();
	rx.join();
	{
		unique_fd gone(p.b.release());
	}
	std::printf("close() with %u records on a stalled queue returned after %llu ms\n", held,
		    static_cast<unsigned long long>(waited / 1000));
	EXPECT_GT(held, 0u) << "the stalled queue held no record";
	EXPECT_GE(closed_at, released_at.load()) << "close() returned before the queue was released";
	EXPECT_EQ(err, 0) << std::strerror(err);
	EXPECT_TRUE(got == data) << "got " << got.size() << " of " << data.size() << " bytes";
	expect_engine_idle_and_no_flows();
}

namespace {

const char *const cpu1_online = "/sys/devices/system/cpu/cpu1/online";

void set_cpu1(bool on)
{
	std::ofstream f(cpu1_online);
	f << (on ? "1" : "0");
	f.flush();
	if (!f)
		throw std::runtime_error(std::string("cannot write ") + cpu1_online);
}

/* Puts every ktlsaccel/N worker on CPU 1. */
unsigned int pin_workers_to_cpu1()
{
	unsigned int n = 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	for (auto &d : fs::directory_iterator("/proc")) {
		std::string name = d.path().filename();
		if (name.find_first_not_of("0123456789") != std::string::npos)
			continue;
		std::ifstream f(d.path() / "comm");
		std::string comm;
		std::getline(f, comm);
		if (comm.starts_with("ktlsaccel/") &&
		    sched_setaffinity(std::stoi(name), sizeof(set), &set) == 0)
			n++;
	}
	return n;
}

struct cpu1_back_online {
	~cpu1_back_online()
	{
		try {
			set_cpu1(true);
		} catch (...) {
		}
	}
};

} // namespace

TEST(ModuleTeardown, Cpu1OfflineAndBackWhileItsQueuesHaveWork)
{
	if (!fs::exists(cpu1_online))
		GTEST_SKIP() << "this guest cannot take cpu1 offline (" << cpu1_online << " missing)";
	loaded_module mod("queues=2");
	reconfigure("latency_us=2000");
	cpu1_back_online guard;

	std::atomic<bool> stop = false;
	std::atomic<unsigned int> transfers = 0, bad = 0;
	std::vector<std::thread> t;
	const std::pair<Cipher, TlsVersion> combos[] = {
		{Cipher::aes_128_gcm, TlsVersion::tls12}, {Cipher::chacha20_poly1305, TlsVersion::tls13},
		{Cipher::aes_128_ccm, TlsVersion::tls12}, {Cipher::aes_256_gcm, TlsVersion::tls13}};
	for (auto [c, v] : combos) {
		t.emplace_back([&, c, v] {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(1, &set);
			sched_setaffinity(0, sizeof(set), &set);
			auto p = ktls_pair(c, v);
			while (!stop) {
				auto data = random_bytes(256 * 1024);
				int rx_errno = 0;
				auto got = ktls_transfer(p.a.get(), p.b.get(), data, 65536, &rx_errno);
				if (rx_errno || got != data)
					bad++;
				transfers++;
			}
		});
	}
	unsigned int offline_with_work = 0, cycles = 5;
	for (unsigned int i = 0; i < cycles; i++) {
		EXPECT_GT(pin_workers_to_cpu1(), 0u);
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		unsigned int work = 0;
		for (auto &q : queue_stats())
			work += num(q, "ring") + num(q, "backlog");
		offline_with_work += work > 0;
		set_cpu1(false);
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		set_cpu1(true);
	}
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	stop = true;
	for (auto &th : t)
		th.join();
	std::printf("cpu1 offline %u times (%u with records in the queues), %u transfers, %u bad\n",
		    cycles, offline_with_work, transfers.load(), bad.load());
	EXPECT_EQ(bad, 0u);
	EXPECT_GE(transfers, 4u);
	EXPECT_GT(offline_with_work, 0u) << "cpu1 never went offline while records were queued";
	expect_engine_idle_and_no_flows();
}

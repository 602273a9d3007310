// SPDX-License-Identifier: MIT
//
// The Mbed TLS backend (ktlsaccel::mbedtls) against real userspace TLS and
// the OpenSSL backend, TLS 1.2 x AES-128-GCM, AES-256-GCM and
// ChaCha20-Poly1305, with the kernel's own AEAD and with ktlsaccel.ko
// loaded (one load for all of those cases):
//  - Mbed TLS-backed client <-> `openssl s_server`, bulk data byte-exact
//    both ways (KTLSACCEL_TEST_BULK_MIB, default 4 MiB), ended by
//    close_notify;
//  - OpenSSL-backed client <-> Mbed TLS-backed server, both ways, both
//    close_notifys;
//  - a corrupted record from the peer is bad_record_mac;
//  - with the module's accelerator model on, one 1 MiB write keeps many
//    records in flight (the number is printed and recorded);
//  - TLS 1.2 resumption through shared Mbed TLS contexts, with each other
//    and with the OpenSSL backend (LibMbedtlsResume).
#ifdef KTLSACCEL_HAVE_MBEDTLS

#include "lib_util.hpp"
#include "module_util.h"
#include "vm.h"

#include <ktlsaccel/control.hpp>
#include <ktlsaccel/mbedtls.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <thread>

namespace fs = std::filesystem;
using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;
using testing::HasSubstr;

namespace {

/* Mbed TLS's names of the ECDSA suites (the test PKI's leaf is P-256). */
std::string mbedtls_suite(cipher c)
{
	switch (c) {
	case cipher::aes_128_gcm: return "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256";
	case cipher::aes_256_gcm: return "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384";
	case cipher::chacha20_poly1305: return "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256";
	case cipher::aes_128_ccm: return "TLS-ECDHE-ECDSA-WITH-AES-128-CCM";
	}
	return {};
}

options mbed_options(role r, cipher c)
{
	options o = lib_options(r, tls_version::tls12, c);
	o.cipher_list = mbedtls_suite(c);
	return o;
}

std::string cipher_test_name(const testing::TestParamInfo<cipher> &i)
{
	switch (i.param) {
	case cipher::aes_128_gcm: return "Aes128Gcm";
	case cipher::aes_256_gcm: return "Aes256Gcm";
	case cipher::chacha20_poly1305: return "Chacha20Poly1305";
	case cipher::aes_128_ccm: return "Aes128Ccm";
	}
	return "";
}

const std::vector<std::byte> &bulk_data()
{
	static const auto d = pattern(bulk_size(), 11);
	return d;
}

class MbedtlsCases : public testing::TestWithParam<cipher> {
protected:
	fs::path dir;
	bool with_module = false;

	void SetUp() override
	{
		dir = scratch_dir() / "mbedtls" / testing::UnitTest::GetInstance()->current_test_info()->name();
		fs::create_directories(dir);
		(void)test_pki();
	}
	void TearDown() override { fs::remove_all(dir); }

	process::spec s_server(std::uint16_t port) const
	{
		return openssl_s_server(port, tls_version::tls12, GetParam(), dir / "s_server.err");
	}

	std::optional<connection> mbedtls_side(int fd, role r, const std::string &peer_log = "") const
	{
		auto conn = mbedtls::handshake(fd, mbed_options(r, GetParam()));
		if (!conn) {
			ADD_FAILURE() << "Mbed TLS backend: " << conn.error().message() << "\n"
				      << (peer_log.empty() ? "" : file_text(dir / peer_log));
			return std::nullopt;
		}
		EXPECT_TRUE(conn->info().kernel_offload);
		EXPECT_EQ(conn->info().version, tls_version::tls12);
		EXPECT_EQ(conn->info().cipher_type, GetParam());
		EXPECT_EQ(conn->info().cipher_suite, mbedtls_suite(GetParam()));
		return std::move(*conn);
	}

	static void expect_bulk(const std::vector<std::byte> &got, const char *who)
	{
		EXPECT_EQ(got.size(), bulk_data().size()) << who;
		EXPECT_TRUE(got == bulk_data()) << who << " received different data";
	}

	void client_sends_bulk_to_openssl_server()
	{
		auto port = free_port();
		auto spec = s_server(port);
		spec.stdout_file = dir / "received.bin";
		process srv(spec);
		auto fd = tcp_connect(port, openssl_start_patience);
		auto conn = mbedtls_side(fd.get(), role::client, "s_server.err");
		ASSERT_TRUE(conn);
		auto sent = conn->send_all(bulk_data());
		ASSERT_TRUE(sent) << sent.error().message();
		/* our close_notify ends s_server's read loop */
		ASSERT_TRUE(conn->shutdown());
		EXPECT_EQ(srv.wait(), 0) << file_text(dir / "s_server.err");
		expect_bulk(read_file(dir / "received.bin"), "s_server");
	}

	void client_receives_bulk_from_openssl_server()
	{
		auto port = free_port();
		process srv(s_server(port));
		auto fd = tcp_connect(port, openssl_start_patience);
		auto conn = mbedtls_side(fd.get(), role::client, "s_server.err");
		ASSERT_TRUE(conn);
		/* data after the handshake, as in test_lib_interop.cpp */
		std::thread feeder([&] { srv.feed_stdin(bulk_data()); });
		std::error_code end;
		auto got = recv_to_end(*conn, &end);
		if (end)
			::shutdown(fd.get(), SHUT_RDWR);
		feeder.join();
		expect_bulk(got, "the Mbed TLS backend");
		EXPECT_FALSE(end) << "expected s_server's close_notify, got: " << end.message();
		(void)conn->shutdown();
		EXPECT_EQ(srv.wait(), 0) << file_text(dir / "s_server.err");
	}

	void openssl_client_and_mbedtls_server_both_ways()
	{
		std::optional<flow_watch> watch;
		if (with_module) {
			watch = flow_watch::start();
			ASSERT_TRUE(watch);
		}
		auto l = tcp_listen();
		std::promise<std::optional<connection>> server_conn;
		unique_fd server_fd;
		std::thread acceptor([&] {
			server_fd = tcp_accept(l);
			server_conn.set_value(mbedtls_side(server_fd.get(), role::server));
		});
		auto client_fd = tcp_connect(l.port);
		auto client = connection::handshake(client_fd.get(),
						    lib_options(role::client, tls_version::tls12, GetParam()));
		if (!client)
			::shutdown(client_fd.get(), SHUT_RDWR);
		acceptor.join();
		auto server = server_conn.get_future().get();
		ASSERT_TRUE(client) << "OpenSSL backend: " << client.error().message();
		ASSERT_TRUE(server);
		ASSERT_TRUE(client->info().kernel_offload);
		EXPECT_EQ(client->info().cipher_type, GetParam());

		/* client -> server, then server -> client, 16 MiB each */
		std::thread tx([&] { EXPECT_TRUE(client->send_all(bulk_data())); });
		auto got = recv_exactly(*server, bulk_data().size());
		tx.join();
		expect_bulk(got, "the Mbed TLS-backed server");
		std::thread tx2([&] {
			EXPECT_TRUE(server->send_all(bulk_data()));
			EXPECT_TRUE(server->shutdown());
		});
		std::error_code end;
		auto back = recv_to_end(*client, &end);
		tx2.join();
		expect_bulk(back, "the OpenSSL-backed client");
		EXPECT_FALSE(end) << "expected the server's close_notify, got: " << end.message();
		ASSERT_TRUE(client->shutdown());
		std::byte b[16];
		auto r = server->recv(b);
		ASSERT_TRUE(r) << r.error().message();
		EXPECT_EQ(*r, 0u) << "the client's close_notify should end the server's stream";

		if (watch) {
			/* the module's flows carried both directions' records */
			std::uint64_t bytes = 0;
			for (const auto &f : watch->flows())
				if (f.alg == cipher_kernel_name(GetParam()))
					bytes += f.stats.bytes;
			EXPECT_GE(bytes, 2 * bulk_data().size())
				<< "ktlsaccel.ko did not see the records ("
				<< kernel_aead_driver(GetParam()).value_or("?") << " chosen)\n"
				<< watch->describe_all();
		}
	}

	void corrupted_record_from_peer_is_bad_record_mac()
	{
		auto l = tcp_listen();
		auto ctx = peer_ctx(role::server, tls_version::tls12, GetParam());
		ASSERT_TRUE(ctx);
		std::promise<unsigned long> peer_saw;
		std::thread t([&] {
			auto fd = tcp_accept(l);
			ssl_ptr ssl(SSL_new(ctx.get()));
			SSL_set_fd(ssl.get(), fd.get());
			if (SSL_accept(ssl.get()) != 1)
				return peer_saw.set_value(0);
			/* encrypt into memory, flip a bit of the tag, send it raw */
			BIO *mem = BIO_new(BIO_s_mem());
			BIO *sock = SSL_get_wbio(ssl.get());
			BIO_up_ref(sock);
			SSL_set0_wbio(ssl.get(), mem);
			SSL_write(ssl.get(), "good bytes, bad tag", 19);
			char *p;
			long len = BIO_get_mem_data(mem, &p);
			std::vector<char> rec(p, p + len);
			rec.back() ^= 0x01;
			::send(fd.get(), rec.data(), rec.size(), MSG_NOSIGNAL);
			SSL_set0_wbio(ssl.get(), sock);
			timeval tv{10, 0};
			setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			char buf[16];
			size_t n;
			ERR_clear_error();
			SSL_read_ex(ssl.get(), buf, sizeof(buf), &n);
			peer_saw.set_value(ERR_peek_last_error());
		});
		auto fd = tcp_connect(l.port);
		auto conn = mbedtls_side(fd.get(), role::client);
		if (!conn) {
			fd.reset();
			t.join();
			return;
		}
		std::byte buf[64];
		auto r = conn->recv(buf);
		ASSERT_FALSE(r) << "a corrupted record was accepted";
		EXPECT_EQ(r.error(), errc::bad_record_mac);
		EXPECT_THAT(r.error().message(), HasSubstr("failed authentication"));
		auto seen = peer_saw.get_future().get();
		EXPECT_EQ(ERR_GET_REASON(seen), SSL_AD_REASON_OFFSET + SSL_AD_BAD_RECORD_MAC)
			<< "the peer did not receive bad_record_mac";
		fd.reset();
		t.join();
	}
};

class LibMbedtls : public MbedtlsCases {};

/* The same cases with ktlsaccel.ko loaded once for all of them. */
class LibMbedtlsModule : public MbedtlsCases {
protected:
	static inline std::unique_ptr<loaded_module> module_;

	static void SetUpTestSuite() { module_ = std::make_unique<loaded_module>(); }
	static void TearDownTestSuite() { module_.reset(); }
	void SetUp() override
	{
		MbedtlsCases::SetUp();
		with_module = true;
		ASSERT_TRUE(module_loaded());
	}
};

#define MBEDTLS_BOTH(name, method)                            \
	TEST_P(LibMbedtls, name) { method(); }                \
	TEST_P(LibMbedtlsModule, name) { method(); }

MBEDTLS_BOTH(ClientSendsBulkToOpensslServer, client_sends_bulk_to_openssl_server)
MBEDTLS_BOTH(ClientReceivesBulkFromOpensslServer, client_receives_bulk_from_openssl_server)
MBEDTLS_BOTH(OpensslClientAndMbedtlsServerBothWays, openssl_client_and_mbedtls_server_both_ways)
MBEDTLS_BOTH(CorruptedRecordFromPeerIsBadRecordMac, corrupted_record_from_peer_is_bad_record_mac)

/*
 * The reason this backend exists: Mbed TLS encrypts one record at a time;
 * through kTLS and the module one connection's records overlap. With a
 * modelled pipeline latency of 20 ms a record stays in the ring long enough
 * to be counted even on an emulated CPU under KASAN (see LibWithModule).
 */
TEST_P(LibMbedtlsModule, OneMiBWriteKeepsManyRecordsInFlight)
{
	auto ctl = control::client::open();
	ASSERT_TRUE(ctl) << ctl.error().message();
	auto dev = ctl->get_device();
	ASSERT_TRUE(dev) << dev.error().message();
	control::config_change model;
	model.latency_us = 20000;
	model.depth = 256;
	ASSERT_TRUE(ctl->set_config(model));
	struct restore {
		control::client &c;
		control::device_info d;
		~restore()
		{
			control::config_change back;
			back.latency_us = d.latency_us;
			back.depth = d.depth;
			(void)c.set_config(back);
		}
	} restore_config{*ctl, *dev};
	/* only this connection's flows count, not earlier tests' */
	auto watch = flow_watch::start();
	ASSERT_TRUE(watch);

	auto p = handshake_pair(
		[&](int fd) { return mbedtls::handshake(fd, mbed_options(role::client, GetParam())); },
		[&](int fd) {
			return connection::handshake(fd, lib_options(role::server, tls_version::tls12,
								     GetParam()));
		});
	auto &client = p.client;
	auto &server = p.server;
	ASSERT_TRUE(client) << client.error().message();
	ASSERT_TRUE(server) << server.error().message();

	/* one 1 MiB send(): 64 records */
	const auto data = pattern(1 << 20, 23);
	ASSERT_NO_FATAL_FAILURE(expect_one_way(*client, *server, data));

	/* the sending socket's TX flow, read while it is still open */
	std::uint32_t depth = 0;
	std::uint64_t bytes = 0;
	for (const auto &f : watch->flows()) {
		if (f.alg != cipher_kernel_name(GetParam()) || f.direction != control::flow_direction::tx ||
		    f.stats.bytes < data.size())
			continue;
		depth = std::max(depth, f.stats.max_in_flight);
		bytes += f.stats.bytes;
	}
	RecordProperty("max_in_flight", std::to_string(depth));
	std::printf("Mbed TLS backend, TLS 1.2 %s, one 1 MiB write, latency %u us, depth %u: "
		    "max %u records in flight on its TX flow\n",
		    std::string(cipher_name(GetParam())).c_str(), *model.latency_us, *model.depth,
		    depth);
	ASSERT_GE(bytes, data.size()) << "no TX flow of this process carried the write\n"
				       << watch->describe_all();
	EXPECT_GT(depth, 8u) << "a 1 MiB write should keep many of its 64 records in flight";
}

/* The C adopt API, as a C program uses it, against the example server on Mbed TLS. */
TEST(LibMbedtlsTools, ExampleMbedtlsClientTalksToMbedtlsServer)
{
	auto server = build_dir() / "examples/ktlsaccel-example-server";
	auto client = build_dir() / "examples/ktlsaccel-example-mbedtls-client";
	ASSERT_TRUE(fs::exists(server) && fs::exists(client)) << "examples are not built";
	const auto &k = test_pki();
	auto port = std::to_string(free_port());
	auto s = server_spec({server, port, k.cert, k.key, "--backend", "mbedtls"},
			     "example-mbedtls-server");
	process srv(s);
	auto r = run_retrying(client.string() + " localhost " + port + " " + k.ca.string() +
			      " 'hello from Mbed TLS'");
	EXPECT_EQ(r.status, 0) << r.output << file_text(s.stderr_file);
	EXPECT_THAT(r.output, HasSubstr("hello from Mbed TLS"));
	EXPECT_THAT(file_text(s.stdout_file), HasSubstr("kernel TLS: yes"));
	EXPECT_THAT(file_text(s.stdout_file), HasSubstr("TLS-ECDHE-ECDSA-WITH-"));
}

TEST(LibMbedtlsTools, PerfWithMbedtlsBackendBothDirections)
{
	auto perf = build_dir() / "tools/perf/ktlsaccel-perf";
	ASSERT_TRUE(fs::exists(perf)) << perf << " is not built";
	const auto &k = test_pki();
	for (bool reverse : {false, true}) {
		SCOPED_TRACE(reverse ? "server sends" : "client sends");
		auto port = std::to_string(free_port());
		auto s = server_spec({perf, "-p", port, "--backend", "mbedtls", "--cipher", "chacha20",
				      "server", "--bind", "127.0.0.1", "--cert", k.cert, "--key", k.key,
				      "--once"},
				     "perf-mbedtls-server");
		process srv(s);
		ASSERT_TRUE(wait_for_text(s.stdout_file, "listening")) << file_text(s.stderr_file);
		auto r = run(perf.string() + " -p " + port + " --backend mbedtls --cipher chacha20 client "
			     "localhost --ca " + k.ca.string() + " -n 8M" + (reverse ? " -R" : ""));
		EXPECT_EQ(r.status, 0) << r.output;
		EXPECT_THAT(r.output, HasSubstr("TLSv1.2 TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"));
		EXPECT_THAT(r.output, HasSubstr("records in the kernel (kTLS)"));
		EXPECT_THAT(r.output, HasSubstr(reverse ? "received 8.0 MiB" : "sent 8.0 MiB"));
		EXPECT_EQ(srv.wait(std::chrono::seconds(60)), 0) << file_text(s.stderr_file);
		EXPECT_THAT(file_text(s.stdout_file),
			    HasSubstr(reverse ? "sent 8.0 MiB" : "received 8.0 MiB"));
	}
}

/*
 * TLS 1.2 resumption through ktlsaccel::mbedtls::context (issue 20), with
 * the records in the kernel after each handshake: Mbed TLS on both ends
 * (a ticket: Mbed TLS's client asks for one), and each Mbed TLS end
 * against the OpenSSL backend's ktlsaccel::context, whose info().resumed
 * is SSL_session_reused(), OpenSSL's own verdict. Against OpenSSL both by
 * ticket and, with OpenSSL's tickets off (SSL_OP_NO_TICKET), by session
 * ID from Mbed TLS's cache or OpenSSL's.
 */
class LibMbedtlsResume : public testing::TestWithParam<cipher> {
protected:
	static constexpr std::size_t payload = 48 * 1024;

	/* the server sends down, the client reads it and sends up; byte-exact, then close_notify */
	static void exchange(connection &client, connection &server, std::uint32_t seed)
	{
		exchange_both_ways(client, server, payload, seed);
		EXPECT_TRUE(client.shutdown());
		EXPECT_EQ(recv_exactly(server, 1).size(), 0u) << "no close_notify";
	}

	/* the test PKI's server certificate as DER, read by OpenSSL */
	static const std::vector<std::uint8_t> &leaf_der()
	{
		static const std::vector<std::uint8_t> der = [] {
			std::vector<std::uint8_t> out;
			std::unique_ptr<FILE, int (*)(FILE *)> f(fopen(test_pki().cert.c_str(), "r"),
								 fclose);
			X509 *x = f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr;
			unsigned char *buf = nullptr;
			int len = x ? i2d_X509(x, &buf) : -1;
			if (len > 0)
				out.assign(buf, buf + len);
			OPENSSL_free(buf);
			X509_free(x);
			return out;
		}();
		return der;
	}

	void check(handshaken_pair &p, int i, std::uint32_t seed)
	{
		ASSERT_TRUE(p.client) << "client: " << p.client.error().message();
		ASSERT_TRUE(p.server) << "server: " << p.server.error().message();
		EXPECT_TRUE(p.client->info().kernel_offload);
		EXPECT_TRUE(p.server->info().kernel_offload);
		EXPECT_EQ(p.client->info().version, tls_version::tls12);
		EXPECT_EQ(p.client->info().cipher_type, GetParam());
		EXPECT_EQ(p.server->info().cipher_type, GetParam());
		EXPECT_EQ(p.client->info().resumed, i > 0) << "client: resumed?";
		EXPECT_EQ(p.server->info().resumed, i > 0) << "server: resumed?";
		EXPECT_EQ(p.client->info().server_name, "localhost");
		EXPECT_EQ(p.server->info().server_name, "localhost");
		/* a resumed session carries the certificate the full handshake checked */
		ASSERT_FALSE(leaf_der().empty()) << "cannot read " << test_pki().cert;
		EXPECT_EQ(p.client->info().peer_certificate, leaf_der()) << "client: the server's certificate";
		EXPECT_EQ(p.client->info().peer_subject, "CN=localhost");
		EXPECT_TRUE(p.server->info().peer_certificate.empty()) << "no client certificate was sent";
		ASSERT_NO_FATAL_FAILURE(exchange(*p.client, *p.server, seed));
	}
};

TEST_P(LibMbedtlsResume, BothEndsResumeThroughSharedContexts)
{
	auto sctx = mbedtls::context::create(mbed_options(role::server, GetParam()));
	auto cctx = mbedtls::context::create(mbed_options(role::client, GetParam()));
	ASSERT_TRUE(sctx) << sctx.error().message();
	ASSERT_TRUE(cctx) << cctx.error().message();
	for (int i = 0; i < 3; i++) {
		SCOPED_TRACE("connection " + std::to_string(i));
		auto p = handshake_pair([&](int fd) { return mbedtls::handshake(fd, *cctx); },
					[&](int fd) { return mbedtls::handshake(fd, *sctx); });
		ASSERT_NO_FATAL_FAILURE(check(p, i, 400 + i));
		EXPECT_EQ(cctx->cached_sessions(), 1u);
	}
}

TEST_P(LibMbedtlsResume, MbedtlsClientResumesWithOpensslServer)
{
	for (bool tickets : {true, false}) {
		SCOPED_TRACE(tickets ? "by ticket" : "by session ID");
		auto sctx = context::create(lib_options(role::server, tls_version::tls12, GetParam()));
		ASSERT_TRUE(sctx) << sctx.error().message();
		if (!tickets)
			SSL_CTX_set_options(sctx->native_handle(), SSL_OP_NO_TICKET);
		auto cctx = mbedtls::context::create(mbed_options(role::client, GetParam()));
		ASSERT_TRUE(cctx) << cctx.error().message();
		for (int i = 0; i < 3; i++) {
			SCOPED_TRACE("connection " + std::to_string(i));
			auto p = handshake_pair([&](int fd) { return mbedtls::handshake(fd, *cctx); },
						[&](int fd) { return connection::handshake(fd, *sctx); });
			ASSERT_NO_FATAL_FAILURE(check(p, i, 500 + i));
		}
	}
}

TEST_P(LibMbedtlsResume, MbedtlsServerResumesOpensslClient)
{
	for (bool tickets : {true, false}) {
		SCOPED_TRACE(tickets ? "by ticket" : "by session ID");
		auto sctx = mbedtls::context::create(mbed_options(role::server, GetParam()));
		ASSERT_TRUE(sctx) << sctx.error().message();
		auto cctx = context::create(lib_options(role::client, tls_version::tls12, GetParam()));
		ASSERT_TRUE(cctx) << cctx.error().message();
		if (!tickets)
			SSL_CTX_set_options(cctx->native_handle(), SSL_OP_NO_TICKET);
		for (int i = 0; i < 3; i++) {
			SCOPED_TRACE("connection " + std::to_string(i));
			auto p = handshake_pair([&](int fd) { return connection::handshake(fd, *cctx); },
						[&](int fd) { return mbedtls::handshake(fd, *sctx); });
			ASSERT_NO_FATAL_FAILURE(check(p, i, 600 + i));
		}
	}
}

const auto ciphers = testing::Values(cipher::aes_128_gcm, cipher::aes_256_gcm,
				     cipher::chacha20_poly1305);
INSTANTIATE_TEST_SUITE_P(Tls12, LibMbedtlsResume, ciphers, cipher_test_name);
INSTANTIATE_TEST_SUITE_P(Tls12, LibMbedtls, ciphers, cipher_test_name);
INSTANTIATE_TEST_SUITE_P(Tls12, LibMbedtlsModule, ciphers, cipher_test_name);

} // namespace

#endif /* KTLSACCEL_HAVE_MBEDTLS */

// SPDX-License-Identifier: MIT
//
// ktlsaccel::mbedtls::context on the host (issue 20), which has no kTLS: a
// handshake that gets to its end fails at the hand-over with
// errc::kernel_tls_unavailable, and that error is how these tests know the
// handshake itself succeeded. Covered here:
//  - the handshake timeout against a silent and a trickling peer, on
//    blocking and non-blocking sockets, in C++ and C;
//  - one context shared by many handshakes, also from several threads;
//  - TLS 1.2 resumption judged by OpenSSL on the other end (userspace, so
//    it finishes its handshake here): our server resumes OpenSSL's client
//    by ticket and by session ID, our client resumes with OpenSSL's server
//    by ticket and by session ID;
//  - bad input gives errors that name what is wrong.
// The kernel path (records in kTLS, info().resumed) is tests/vm/test_lib_mbedtls.cpp.
#ifdef KTLSACCEL_HAVE_MBEDTLS

#include <ktlsaccel/ktlsaccel.h>
#include <ktlsaccel/ktlsaccel.hpp>
#include <ktlsaccel/ktlsaccel_mbedtls.h>
#include <ktlsaccel/mbedtls.hpp>

#include <openssl/ssl.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit_tls.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace ktlsaccel;
using namespace std::chrono_literals;

namespace {

using namespace unit;

/* The host's verdict on a handshake that finished: the kernel did not take it. */
void expect_handshake_done(const result<connection> &r, const char *who)
{
	ASSERT_FALSE(r) << who << ": the host has no kTLS, yet the hand-over worked";
	EXPECT_EQ(r.error(), errc::kernel_tls_unavailable) << who << ": " << r.error().message();
}

options mbed_server()
{
	auto o = server_options(tls_version::tls12);
	o.allow_userspace_fallback = false;
	return o;
}

options mbed_client()
{
	auto o = client_options(tls_version::tls12);
	o.allow_userspace_fallback = false;
	return o;
}

struct ssl_ctx_free_t {
	void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free_t>;

/* OpenSSL in userspace, TLS 1.2 only, a suite both sides and kTLS know. */
ssl_ctx_ptr openssl_ctx(bool server, bool tickets)
{
	ssl_ctx_ptr c(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
	if (!c)
		return c;
	SSL_CTX_set_min_proto_version(c.get(), TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(c.get(), TLS1_2_VERSION);
	SSL_CTX_set_cipher_list(c.get(), "ECDHE-ECDSA-AES128-GCM-SHA256");
	if (!tickets)
		SSL_CTX_set_options(c.get(), SSL_OP_NO_TICKET);
	if (server) {
		static const unsigned char sid[] = "mbedtls-unit";
		SSL_CTX_set_session_id_context(c.get(), sid, sizeof(sid) - 1);
		if (SSL_CTX_use_certificate_chain_file(c.get(), (pki_dir() / "leaf.pem").c_str()) != 1 ||
		    SSL_CTX_use_PrivateKey_file(c.get(), (pki_dir() / "leaf.key").c_str(),
						SSL_FILETYPE_PEM) != 1)
			c.reset();
	} else {
		SSL_CTX_set_verify(c.get(), SSL_VERIFY_PEER, nullptr);
		if (SSL_CTX_load_verify_locations(c.get(), (pki_dir() / "ca.pem").c_str(), nullptr) != 1)
			c.reset();
	}
	return c;
}

/*
 * OpenSSL's side of one handshake: 1 resumed, 0 full, -1 failed. The
 * session stays resumable (OpenSSL drops one whose SSL is freed before a
 * shutdown), and a client keeps it in *saved.
 */
int openssl_side(SSL_CTX *ctx, int fd, bool server, SSL_SESSION **saved = nullptr)
{
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (!server) {
		SSL_set_tlsext_host_name(ssl, "localhost");
		if (saved && *saved)
			SSL_set_session(ssl, *saved);
	}
	int ok = server ? SSL_accept(ssl) : SSL_connect(ssl);
	int reused = ok == 1 ? SSL_session_reused(ssl) : -1;
	if (ok == 1 && saved) {
		SSL_SESSION_free(*saved);
		*saved = SSL_get1_session(ssl);
	}
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(ssl);
	return reused;
}

/*
 * Ends the peer's side of the connection after 20 s unless dropped first:
 * a handshake whose timeout does not work then fails on EOF with another
 * error, instead of hanging the test.
 */
class watchdog {
public:
	explicit watchdog(int peer_fd)
		: t_([this, peer_fd] {
			  std::unique_lock lock(m_);
			  if (!cv_.wait_for(lock, 20s, [this] { return done_; }))
				  ::shutdown(peer_fd, SHUT_RDWR);
		  })
	{
	}
	~watchdog()
	{
		{
			std::lock_guard lock(m_);
			done_ = true;
		}
		cv_.notify_all();
		t_.join();
	}

private:
	std::mutex m_;
	std::condition_variable cv_;
	bool done_ = false;
	std::thread t_;
};

/* A file of text, in a fresh folder under pki_dir(). */
fs::path write_file(const std::string &name, const std::string &text)
{
	auto p = pki_dir() / name;
	FILE *f = std::fopen(p.c_str(), "w");
	if (f) {
		std::fputs(text.c_str(), f);
		std::fclose(f);
	}
	return p;
}

} // namespace

TEST(MbedtlsContext, HandshakeIsBoundedByDefault)
{
	auto ctx = mbedtls::context::create(mbed_client());
	ASSERT_TRUE(ctx) << ctx.error().message();
	EXPECT_EQ(ctx->settings().handshake_timeout, 60s);
	EXPECT_EQ(ctx->cached_sessions(), 0u);
}

// A peer that accepts TCP and never answers: the handshake gives up, with
// the socket blocking or not, through a shared context or the one-off call.
TEST(MbedtlsContext, HandshakeTimesOutOnASilentPeer)
{
	for (auto r : {role::client, role::server}) {
		for (bool nonblocking : {false, true}) {
			for (bool shared : {true, false}) {
				SCOPED_TRACE(std::string(r == role::client ? "client" : "server") +
					     (nonblocking ? ", non-blocking" : ", blocking") +
					     (shared ? ", context" : ", options"));
				tcp_pair p;
				int fd = r == role::client ? p.client : p.server;
				watchdog w(r == role::client ? p.server : p.client);
				if (nonblocking) {
					ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
				}
				auto o = r == role::client ? mbed_client() : mbed_server();
				o.handshake_timeout = 300ms;
				result<connection> c = std::unexpected(std::error_code());
				if (shared) {
					auto ctx = mbedtls::context::create(o);
					ASSERT_TRUE(ctx) << ctx.error().message();
					c = mbedtls::handshake(fd, *ctx);
				} else {
					c = mbedtls::handshake(fd, o);
				}
				ASSERT_FALSE(c);
				EXPECT_EQ(c.error(), errc::timeout) << c.error().message();
				EXPECT_TRUE(c.error() == std::errc::timed_out);
			}
		}
	}
}

// A client that sends its first record a byte every 50 ms, well within the
// timeout each, for 2 s, then closes: the limit is the handshake's, not one
// read's (one read's would see the close instead).
TEST(MbedtlsContext, TricklingPeerDoesNotExtendTheDeadline)
{
	tcp_pair p;
	auto o = mbed_server();
	o.handshake_timeout = 300ms;
	auto ctx = mbedtls::context::create(o);
	ASSERT_TRUE(ctx) << ctx.error().message();
	std::atomic<bool> stop = false;
	std::thread trickle([&] {
		/* a handshake record header announcing 512 bytes, then some of them */
		const unsigned char bytes[] = {0x16, 0x03, 0x01, 0x02, 0x00};
		for (int i = 0; i < 40 && !stop; i++) {
			unsigned char b = i < 5 ? bytes[i] : 0;
			if (::send(p.client, &b, 1, MSG_NOSIGNAL) != 1)
				break;
			std::this_thread::sleep_for(50ms);
		}
		::shutdown(p.client, SHUT_WR);
	});
	auto c = mbedtls::handshake(p.server, *ctx);
	stop = true;
	trickle.join();
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error(), errc::timeout) << c.error().message();
}

// Zero: no limit. A handshake with a peer that answers late still finishes.
TEST(MbedtlsContext, ZeroTimeoutWaitsForTheSlowPeer)
{
	auto so = mbed_server();
	so.handshake_timeout = 0ms;
	auto sctx = mbedtls::context::create(so);
	auto cctx = mbedtls::context::create(mbed_client());
	ASSERT_TRUE(sctx && cctx);
	tcp_pair p;
	auto srv = std::async(std::launch::async, [&] { return mbedtls::handshake(p.server, *sctx); });
	/* longer than the tests' short timeouts; no assertion on time */
	std::this_thread::sleep_for(400ms);
	auto c = mbedtls::handshake(p.client, *cctx);
	expect_handshake_done(c, "client");
	expect_handshake_done(srv.get(), "server");
}

// One pair of contexts for many handshakes, one after another and from
// several threads at once: every one gets to the hand-over.
TEST(MbedtlsContext, ContextIsReusableAcrossManyHandshakes)
{
	auto sctx = mbedtls::context::create(mbed_server());
	auto cctx = mbedtls::context::create(mbed_client());
	ASSERT_TRUE(sctx) << sctx.error().message();
	ASSERT_TRUE(cctx) << cctx.error().message();
	std::atomic<int> done = 0;
	auto run = [&](int n) {
		for (int i = 0; i < n; i++) {
			tcp_pair p;
			auto srv = std::async(std::launch::async,
					      [&] { return mbedtls::handshake(p.server, *sctx); });
			auto c = mbedtls::handshake(p.client, *cctx);
			if (!c && c.error() != errc::kernel_tls_unavailable)
				::shutdown(p.client, SHUT_RDWR);
			auto s = srv.get();
			expect_handshake_done(c, "client");
			expect_handshake_done(s, "server");
			if (!c && !s && c.error() == errc::kernel_tls_unavailable &&
			    s.error() == errc::kernel_tls_unavailable)
				done++;
		}
	};
	run(10);
	EXPECT_EQ(cctx->cached_sessions(), 1u) << "one server name, one session";
	EXPECT_EQ(sctx->cached_sessions(), 0u);
	std::vector<std::thread> threads;
	for (int t = 0; t < 4; t++)
		threads.emplace_back(run, 5);
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(done.load(), 30);
	/* a session per server name (no verification: the leaf is only "localhost") */
	auto co = mbed_client();
	co.verify_peer = false;
	auto any = mbedtls::context::create(co);
	ASSERT_TRUE(any) << any.error().message();
	for (const char *name : {"one.example", "two.example", "one.example"}) {
		tcp_pair p;
		auto srv = std::async(std::launch::async,
				      [&] { return mbedtls::handshake(p.server, *sctx); });
		expect_handshake_done(mbedtls::handshake(p.client, *any, name), name);
		expect_handshake_done(srv.get(), "server");
	}
	EXPECT_EQ(any->cached_sessions(), 2u);
}

// Our server, OpenSSL's client keeping its session: OpenSSL says whether it
// resumed, by ticket (its default) and by session ID (tickets off).
TEST(MbedtlsContext, ServerResumesAnOpenSslClient)
{
	for (bool tickets : {true, false}) {
		SCOPED_TRACE(tickets ? "ticket" : "session ID");
		auto sctx = mbedtls::context::create(mbed_server());
		ASSERT_TRUE(sctx) << sctx.error().message();
		auto cctx = openssl_ctx(false, tickets);
		ASSERT_TRUE(cctx);
		SSL_SESSION *saved = nullptr;
		for (int i = 0; i < 3; i++) {
			SCOPED_TRACE("connection " + std::to_string(i));
			tcp_pair p;
			auto cli = std::async(std::launch::async,
					      [&] { return openssl_side(cctx.get(), p.client, false, &saved); });
			auto s = mbedtls::handshake(p.server, *sctx);
			if (!s && s.error() != errc::kernel_tls_unavailable)
				::shutdown(p.server, SHUT_RDWR);
			EXPECT_EQ(cli.get(), i > 0 ? 1 : 0) << "OpenSSL's client: resumed?";
			expect_handshake_done(s, "server");
		}
		SSL_SESSION_free(saved);
	}
}

// Our client against OpenSSL's server (its session cache, or its tickets).
TEST(MbedtlsContext, ClientResumesWithAnOpenSslServer)
{
	for (bool tickets : {true, false}) {
		SCOPED_TRACE(tickets ? "ticket" : "session ID");
		auto sctx = openssl_ctx(true, tickets);
		ASSERT_TRUE(sctx);
		auto cctx = mbedtls::context::create(mbed_client());
		ASSERT_TRUE(cctx) << cctx.error().message();
		for (int i = 0; i < 3; i++) {
			SCOPED_TRACE("connection " + std::to_string(i));
			tcp_pair p;
			auto srv = std::async(std::launch::async,
					      [&] { return openssl_side(sctx.get(), p.server, true); });
			auto c = mbedtls::handshake(p.client, *cctx);
			if (!c && c.error() != errc::kernel_tls_unavailable)
				::shutdown(p.client, SHUT_RDWR);
			EXPECT_EQ(srv.get(), i > 0 ? 1 : 0) << "OpenSSL's server: resumed?";
			expect_handshake_done(c, "client");
			EXPECT_EQ(cctx->cached_sessions(), 1u);
		}
	}
}

// A context of its own (the one-off call) resumes nothing.
TEST(MbedtlsContext, OneOffHandshakeResumesNothing)
{
	auto sctx = openssl_ctx(true, true);
	ASSERT_TRUE(sctx);
	for (int i = 0; i < 2; i++) {
		tcp_pair p;
		auto srv = std::async(std::launch::async,
				      [&] { return openssl_side(sctx.get(), p.server, true); });
		auto c = mbedtls::handshake(p.client, mbed_client());
		EXPECT_EQ(srv.get(), 0) << "connection " << i;
		expect_handshake_done(c, "client");
	}
}

TEST(MbedtlsContext, BadInputIsNamed)
{
	auto o = mbed_server();
	o.cert_file = pki_dir() / "missing.pem";
	auto c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error().category(), mbedtls::category());
	EXPECT_NE(c.error().message().find("certificate file (cert_file)"), std::string::npos)
		<< c.error().message();
	EXPECT_TRUE(c.error() == std::errc::invalid_argument) << c.error().message();

	o = mbed_server();
	o.key_file = pki_dir() / "missing.key";
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_NE(c.error().message().find("key file (key_file)"), std::string::npos)
		<< c.error().message();

	/* a good key, but not the certificate's (the CA's) */
	o = mbed_server();
	o.key_file = pki_dir() / "ca.key";
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_NE(c.error().message().find("does not match the certificate"), std::string::npos)
		<< c.error().message();
	EXPECT_TRUE(c.error() == std::errc::invalid_argument);

	/* not PEM at all */
	o = mbed_server();
	o.key_file = write_file("garbage.key", "not a key\n");
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_NE(c.error().message().find("key file (key_file)"), std::string::npos)
		<< c.error().message();

	o = mbed_client();
	o.ca_file = pki_dir() / "missing-ca.pem";
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_NE(c.error().message().find("CA file (ca_file)"), std::string::npos)
		<< c.error().message();

	o = mbed_client();
	o.cipher_list = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256:NO-SUCH-SUITE";
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_NE(c.error().message().find("cipher_list"), std::string::npos) << c.error().message();
	EXPECT_TRUE(c.error() == std::errc::invalid_argument);

	o = mbed_server();
	o.cert_file.clear();
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error(), errc::invalid_argument);

	o = mbed_client();
	o.handshake_timeout = -1ms;
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error(), errc::invalid_argument);

	o = mbed_client();
	o.alpn = {"h2", ""};
	c = mbedtls::context::create(o);
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error(), errc::invalid_argument);

	/* a verifying client context without a default name: each handshake needs one */
	o = mbed_client();
	o.server_name.clear();
	auto ctx = mbedtls::context::create(o);
	ASSERT_TRUE(ctx) << ctx.error().message();
	tcp_pair p;
	auto h = mbedtls::handshake(p.client, *ctx);
	ASSERT_FALSE(h);
	EXPECT_EQ(h.error(), errc::invalid_argument);
	h = mbedtls::handshake(-1, *ctx, "localhost");
	ASSERT_FALSE(h);
	EXPECT_EQ(h.error(), errc::invalid_argument);
}

TEST(MbedtlsContext, CApi)
{
	struct ktlsaccel_mbedtls_ctx *ctx = nullptr;
	EXPECT_EQ(ktlsaccel_mbedtls_ctx_new(nullptr, 0, &ctx), -EINVAL);
	EXPECT_EQ(ctx, nullptr);

	const std::string cert = (pki_dir() / "leaf.pem").string();
	const std::string missing = (pki_dir() / "missing.key").string();
	struct ktlsaccel_options o = {};
	o.server = 1;
	o.cert_file = cert.c_str();
	o.key_file = missing.c_str();
	o.no_verify = 1;
	EXPECT_EQ(ktlsaccel_mbedtls_ctx_new(&o, sizeof(o), &ctx), -EINVAL);
	EXPECT_NE(std::string(ktlsaccel_last_error()).find("key_file"), std::string::npos)
		<< ktlsaccel_last_error();

	const std::string key = (pki_dir() / "leaf.key").string();
	o.key_file = key.c_str();
	o.handshake_timeout_ms = 300;
	ASSERT_EQ(ktlsaccel_mbedtls_ctx_new(&o, sizeof(o), &ctx), 0) << ktlsaccel_last_error();
	struct ktlsaccel_conn *conn = reinterpret_cast<struct ktlsaccel_conn *>(1);
	EXPECT_EQ(ktlsaccel_mbedtls_handshake(nullptr, 0, nullptr, &conn), -EINVAL);
	EXPECT_EQ(conn, nullptr);
	EXPECT_EQ(ktlsaccel_mbedtls_handshake(ctx, 0, nullptr, nullptr), -EINVAL);
	{
		tcp_pair p;
		watchdog w(p.client);
		EXPECT_EQ(ktlsaccel_mbedtls_handshake(ctx, p.server, nullptr, &conn), -ETIMEDOUT)
			<< ktlsaccel_last_error();
		EXPECT_EQ(conn, nullptr);
	}
	ktlsaccel_mbedtls_ctx_free(ctx);
	/* a client at the other end (and the default timeout): the handshake
	 * gets to the kernel, which has no kTLS */
	o.handshake_timeout_ms = 0;
	ASSERT_EQ(ktlsaccel_mbedtls_ctx_new(&o, sizeof(o), &ctx), 0) << ktlsaccel_last_error();
	{
		tcp_pair p;
		auto cctx = mbedtls::context::create(mbed_client());
		ASSERT_TRUE(cctx);
		auto cli = std::async(std::launch::async,
				      [&] { return mbedtls::handshake(p.client, *cctx); });
		int r = ktlsaccel_mbedtls_handshake(ctx, p.server, nullptr, &conn);
		EXPECT_NE(r, 0);
		EXPECT_NE(r, -ETIMEDOUT) << ktlsaccel_last_error();
		expect_handshake_done(cli.get(), "client");
	}
	ktlsaccel_mbedtls_ctx_free(ctx);
	ktlsaccel_mbedtls_ctx_free(nullptr);
}

#endif /* KTLSACCEL_HAVE_MBEDTLS */

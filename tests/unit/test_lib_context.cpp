// SPDX-License-Identifier: MIT
//
// ktlsaccel::context on the host (issue 20), where there is no kTLS and
// connections continue in OpenSSL (allow_userspace_fallback): sessions are
// resumed through a shared context, TLS 1.2 and 1.3, on both ends; the
// handshake times out on a silent peer; the step-wise handshake runs on
// non-blocking sockets; the SSL_CTX hook and the C calls. The kernel path
// of the same is tests/vm/test_lib_resume.cpp.
#include <ktlsaccel/ktlsaccel.h>
#include <ktlsaccel/ktlsaccel.hpp>

#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit_tls.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>

namespace fs = std::filesystem;
using namespace ktlsaccel;

namespace {

using namespace unit;

struct both {
	result<connection> client, server;
};

/*
 * One connection through the two contexts: the server sends `down`, the
 * client reads it (a TLS 1.3 client reads the tickets that came before it
 * that way), then answers with `up`.
 */
both connect_and_echo(const context &sctx, const context &cctx, const std::string &down,
		      const std::string &up)
{
	tcp_pair p;
	auto srv = std::async(std::launch::async, [&] {
		auto s = connection::handshake(p.server, sctx);
		if (s && !s->send_all(std::as_bytes(std::span(down))))
			ADD_FAILURE() << "server send";
		if (s) {
			std::string got(up.size(), '\0');
			std::size_t have = 0;
			while (have < got.size()) {
				auto n = s->recv(std::as_writable_bytes(std::span(got)).subspan(have));
				if (!n || *n == 0)
					break;
				have += *n;
			}
			EXPECT_EQ(got, up);
		}
		return s;
	});
	auto c = connection::handshake(p.client, cctx);
	if (c) {
		std::string got(down.size(), '\0');
		std::size_t have = 0;
		while (have < got.size()) {
			auto n = c->recv(std::as_writable_bytes(std::span(got)).subspan(have));
			if (!n || *n == 0)
				break;
			have += *n;
		}
		EXPECT_EQ(got, down);
		EXPECT_TRUE(c->send_all(std::as_bytes(std::span(up))));
	} else {
		::shutdown(p.client, SHUT_RDWR);
	}
	auto s = srv.get();
	return {std::move(c), std::move(s)};
}

} // namespace

TEST(LibContext, ResumesTls12AndTls13OnBothEnds)
{
	for (auto v : {tls_version::tls12, tls_version::tls13}) {
		SCOPED_TRACE(tls_version_name(v));
		auto sctx = context::create(server_options(v));
		auto cctx = context::create(client_options(v));
		ASSERT_TRUE(sctx) << sctx.error().message();
		ASSERT_TRUE(cctx) << cctx.error().message();
		EXPECT_EQ(cctx->cached_sessions(), 0u);

		auto first = connect_and_echo(*sctx, *cctx, "first down", "first up");
		ASSERT_TRUE(first.client) << first.client.error().message();
		ASSERT_TRUE(first.server) << first.server.error().message();
		EXPECT_FALSE(first.client->info().resumed);
		EXPECT_FALSE(first.server->info().resumed);
		EXPECT_EQ(first.client->info().version, v);
		EXPECT_EQ(cctx->cached_sessions(), 1u) << "the client kept no session";

		for (int i = 0; i < 2; i++) {
			auto again = connect_and_echo(*sctx, *cctx, "again down " + std::to_string(i),
						      "again up " + std::to_string(i));
			ASSERT_TRUE(again.client) << again.client.error().message();
			ASSERT_TRUE(again.server) << again.server.error().message();
			EXPECT_TRUE(again.client->info().resumed);
			EXPECT_TRUE(again.server->info().resumed);
			EXPECT_EQ(again.client->info().version, v);
			/* a resumed session still names the server and its certificate */
			EXPECT_EQ(again.server->info().server_name, "localhost");
		}
	}
}

TEST(LibContext, OptionsHandshakeNeverResumes)
{
	auto so = server_options(), co = client_options();
	auto sctx = context::create(so);
	ASSERT_TRUE(sctx);
	for (int i = 0; i < 2; i++) {
		tcp_pair p;
		auto srv = std::async(std::launch::async,
				      [&] { return connection::handshake(p.server, *sctx); });
		auto c = connection::handshake(p.client, co);
		auto s = srv.get();
		ASSERT_TRUE(c) << c.error().message();
		ASSERT_TRUE(s) << s.error().message();
		EXPECT_FALSE(c->info().resumed);
	}
}

TEST(LibContext, NativeHandleCustomisesTheSslCtx)
{
	auto sctx = context::create(server_options(tls_version::tls12));
	auto cctx = context::create(client_options(tls_version::tls12));
	ASSERT_TRUE(sctx && cctx);
	SSL_CTX *native = sctx->native_handle();
	ASSERT_NE(native, nullptr);
	/* no session cache and no tickets: nothing left to resume */
	SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
	for (int i = 0; i < 2; i++) {
		auto r = connect_and_echo(*sctx, *cctx, "down", "up");
		ASSERT_TRUE(r.client) << r.client.error().message();
		ASSERT_TRUE(r.server) << r.server.error().message();
		EXPECT_FALSE(r.server->info().resumed);
		EXPECT_FALSE(r.client->info().resumed);
	}
}

TEST(LibContext, ServerWithoutCertificateIsRefused)
{
	auto o = server_options();
	o.key_file.clear();
	auto c = context::create(o);
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error(), errc::invalid_argument);
}

// Safe by default: a handshake is bounded unless the application says not.
TEST(LibContext, HandshakeIsBoundedByDefault)
{
	EXPECT_EQ(options{}.handshake_timeout, std::chrono::seconds(60));
	auto ctx = context::create(client_options());
	ASSERT_TRUE(ctx);
	EXPECT_EQ(ctx->settings().handshake_timeout, std::chrono::seconds(60));
}

// A peer that accepts TCP and never answers: the handshake gives up.
TEST(LibContext, HandshakeTimesOutOnASilentPeer)
{
	for (auto r : {role::client, role::server}) {
		tcp_pair p;
		auto o = r == role::client ? client_options() : server_options();
		o.handshake_timeout = std::chrono::milliseconds(200);
		auto ctx = context::create(o);
		ASSERT_TRUE(ctx);
		auto c = connection::handshake(r == role::client ? p.client : p.server, *ctx);
		ASSERT_FALSE(c);
		EXPECT_EQ(c.error(), errc::timeout) << c.error().message();
		EXPECT_TRUE(c.error() == std::errc::timed_out);
	}
}

// The whole handshake in one thread on non-blocking sockets: each side is
// stepped when poll() says its socket is ready for what it wants.
TEST(LibContext, StepwiseHandshakeOnNonBlockingSockets)
{
	tcp_pair p;
	fcntl(p.client, F_SETFL, O_NONBLOCK);
	fcntl(p.server, F_SETFL, O_NONBLOCK);
	auto sctx = context::create(server_options());
	auto cctx = context::create(client_options());
	ASSERT_TRUE(sctx && cctx);
	auto hc = handshake_state::start(p.client, *cctx);
	auto hs = handshake_state::start(p.server, *sctx);
	ASSERT_TRUE(hc && hs);
	using want = handshake_state::want;
	want wc = want::write, ws = want::read;
	int rounds = 0;
	while (wc != want::done || ws != want::done) {
		ASSERT_LT(++rounds, 100) << "the handshake does not progress";
		pollfd pfd[2] = {
			{p.client, short(wc == want::read ? POLLIN : POLLOUT), 0},
			{p.server, short(ws == want::read ? POLLIN : POLLOUT), 0},
		};
		ASSERT_GT(poll(pfd, 2, 10000), 0) << "both sides wait for each other";
		if (wc != want::done && pfd[0].revents) {
			auto w = hc->step();
			ASSERT_TRUE(w) << w.error().message();
			wc = *w;
		}
		if (ws != want::done && pfd[1].revents) {
			auto w = hs->step();
			ASSERT_TRUE(w) << w.error().message();
			ws = *w;
		}
	}
	auto c = hc->finish();
	auto s = hs->finish();
	ASSERT_TRUE(c) << c.error().message();
	ASSERT_TRUE(s) << s.error().message();
	EXPECT_FALSE(hc->finish()) << "finish() twice";

	/* five bytes in one record: one read takes one, four are pending */
	const std::string msg = "hello";
	ASSERT_TRUE(c->send_all(std::as_bytes(std::span(msg))));
	pollfd pfd{p.server, POLLIN, 0};
	ASSERT_EQ(poll(&pfd, 1, 10000), 1);
	std::byte one[1];
	auto n = s->recv(one);
	ASSERT_TRUE(n) << n.error().message();
	ASSERT_EQ(*n, 1u);
	EXPECT_EQ(s->pending(), 4u);
	std::byte rest[16];
	n = s->recv(rest);
	ASSERT_TRUE(n);
	EXPECT_EQ(*n, 4u);
	EXPECT_EQ(s->pending(), 0u);
	EXPECT_EQ(std::memcmp(rest, "ello", 4), 0);
}

TEST(LibContext, CApiHandshakeInfoAndResumption)
{
	std::string ca = pki_dir() / "ca.pem", cert = pki_dir() / "leaf.pem",
		    key = pki_dir() / "leaf.key";
	ktlsaccel_options so = {}, co = {};
	so.server = 1;
	so.cert_file = cert.c_str();
	so.key_file = key.c_str();
	so.no_verify = 1;
	so.alpn = "h2,http/1.1";
	so.allow_userspace_fallback = 1;
	co.server_name = "localhost";
	co.ca_file = ca.c_str();
	co.alpn = "http/1.1";
	co.version = 0x0303;
	co.allow_userspace_fallback = 1;

	ktlsaccel_ctx *sctx = nullptr, *cctx = nullptr;
	ktlsaccel_options bad = co;
	bad.version = 0x0302;
	EXPECT_EQ(ktlsaccel_ctx_new(&bad, sizeof(bad), &cctx), -EINVAL);
	EXPECT_EQ(cctx, nullptr);
	bad = co;
	bad.alpn = "h2,";
	EXPECT_EQ(ktlsaccel_ctx_new(&bad, sizeof(bad), &cctx), -EINVAL);
	ASSERT_EQ(ktlsaccel_ctx_new(&so, sizeof(so), &sctx), 0) << ktlsaccel_last_error();
	ASSERT_EQ(ktlsaccel_ctx_new(&co, sizeof(co), &cctx), 0) << ktlsaccel_last_error();
	EXPECT_NE(ktlsaccel_ctx_ssl_ctx(sctx), nullptr);
	EXPECT_EQ(ktlsaccel_handshake(cctx, -1, nullptr, nullptr), -EINVAL);

	for (int i = 0; i < 2; i++) {
		tcp_pair p;
		auto srv = std::async(std::launch::async, [&] {
			ktlsaccel_conn *c = nullptr;
			int r = ktlsaccel_handshake(sctx, p.server, nullptr, &c);
			EXPECT_EQ(r, 0) << ktlsaccel_last_error();
			char buf[8] = {};
			EXPECT_EQ(ktlsaccel_recv(c, buf, sizeof(buf), 0), 4);
			EXPECT_STREQ(buf, "ping");
			ktlsaccel_info info = {};
			EXPECT_EQ(ktlsaccel_conn_info(c, &info, sizeof(info)), 0);
			EXPECT_EQ(info.resumed, i == 1);
			return c;
		});
		ktlsaccel_conn *c = nullptr;
		ASSERT_EQ(ktlsaccel_handshake(cctx, p.client, "localhost", &c), 0)
			<< ktlsaccel_last_error();
		EXPECT_EQ(ktlsaccel_send(c, "ping", 4, 0), 4);
		ktlsaccel_conn *s = srv.get();
		ktlsaccel_info info = {};
		ASSERT_EQ(ktlsaccel_conn_info(c, &info, sizeof(info)), 0);
		EXPECT_EQ(info.version, 0x0303u);
		EXPECT_STREQ(info.alpn, "http/1.1");
		ASSERT_NE(info.cipher_suite, nullptr);
		EXPECT_NE(std::string(info.cipher_suite).find("TLS_ECDHE_"), std::string::npos);
		EXPECT_EQ(info.resumed, i == 1);
		EXPECT_EQ(ktlsaccel_conn_pending(c), 0);
		EXPECT_EQ(ktlsaccel_conn_info(c, nullptr, sizeof(info)), -EINVAL);
		ktlsaccel_conn_free(c);
		ktlsaccel_conn_free(s);
	}
	ktlsaccel_ctx_free(cctx);
	ktlsaccel_ctx_free(sctx);
}

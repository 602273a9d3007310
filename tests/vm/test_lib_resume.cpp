// SPDX-License-Identifier: MIT
//
// Session resumption through a shared ktlsaccel::context with the records
// in the kernel (issue 20): TLS 1.2 (session ticket) and TLS 1.3 (PSK from
// a NewSessionTicket that arrives after the hand-over, read by kTLS and
// handed back to OpenSSL by recv()). Each end is also checked against
// OpenSSL itself on the other, whose SSL_session_reused() is the verdict
// of an implementation other than ours.
#include "lib_util.hpp"
#include "vm.h"

#include <ktlsaccel/ktlsaccel.hpp>

#include <openssl/ssl.h>

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <future>
#include <thread>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;

namespace {

struct resume_case {
	tls_version version;
	cipher cipher_type;
};

class LibResume : public testing::TestWithParam<resume_case> {};

std::string case_name(const testing::TestParamInfo<resume_case> &i)
{
	std::string v = i.param.version == tls_version::tls12 ? "Tls12_" : "Tls13_";
	switch (i.param.cipher_type) {
	case cipher::aes_128_gcm: return v + "Aes128Gcm";
	case cipher::aes_256_gcm: return v + "Aes256Gcm";
	case cipher::chacha20_poly1305: return v + "Chacha20Poly1305";
	case cipher::aes_128_ccm: return v + "Aes128Ccm";
	}
	return v;
}

constexpr std::size_t payload = 48 * 1024;

void exchange(connection &client, connection &server, std::uint32_t seed)
{
	exchange_both_ways(client, server, payload, seed);
}

} // namespace

TEST_P(LibResume, BothEndsResumeThroughSharedContexts)
{
	const auto [v, c] = GetParam();
	auto sctx = context::create(lib_options(role::server, v, c));
	auto cctx = context::create(lib_options(role::client, v, c));
	ASSERT_TRUE(sctx) << sctx.error().message();
	ASSERT_TRUE(cctx) << cctx.error().message();
	for (int i = 0; i < 3; i++) {
		SCOPED_TRACE("connection " + std::to_string(i));
		auto p = handshake_pair([&](int fd) { return connection::handshake(fd, *cctx); },
					[&](int fd) { return connection::handshake(fd, *sctx); });
		ASSERT_TRUE(p.client) << p.client.error().message();
		ASSERT_TRUE(p.server) << p.server.error().message();
		EXPECT_TRUE(p.client->info().kernel_offload);
		EXPECT_TRUE(p.server->info().kernel_offload);
		EXPECT_EQ(p.client->info().version, v);
		EXPECT_EQ(p.client->info().cipher_type, c);
		EXPECT_EQ(p.client->info().resumed, i > 0);
		EXPECT_EQ(p.server->info().resumed, i > 0);
		ASSERT_NO_FATAL_FAILURE(exchange(*p.client, *p.server, 100 + i));
		EXPECT_TRUE(p.client->shutdown());
		EXPECT_EQ(recv_exactly(*p.server, 1).size(), 0u) << "no close_notify";
		/* TLS 1.3: the ticket came through the kernel, after the hand-over */
		EXPECT_EQ(cctx->cached_sessions(), 1u);
	}
}

// Our client against OpenSSL's server: OpenSSL says whether it resumed.
TEST_P(LibResume, ClientResumesWithAnOpenSslServer)
{
	const auto [v, c] = GetParam();
	auto sctx = peer_ctx(role::server, v, c);
	static const unsigned char sid[] = "resume-test";
	SSL_CTX_set_session_id_context(sctx.get(), sid, sizeof(sid) - 1);
	auto cctx = context::create(lib_options(role::client, v, c));
	ASSERT_TRUE(cctx) << cctx.error().message();
	for (int i = 0; i < 2; i++) {
		SCOPED_TRACE("connection " + std::to_string(i));
		const auto down = pattern(payload, 200 + i);
		auto l = tcp_listen();
		auto server = std::async(std::launch::async, [&] {
			auto fd = tcp_accept(l);
			ssl_ptr ssl(SSL_new(sctx.get()));
			SSL_set_fd(ssl.get(), fd.get());
			if (SSL_accept(ssl.get()) != 1)
				return -1;
			size_t n = 0;
			if (SSL_write_ex(ssl.get(), down.data(), down.size(), &n) != 1 ||
			    n != down.size())
				return -2;
			char end;
			/* the client's close_notify */
			(void)SSL_read(ssl.get(), &end, 1);
			SSL_shutdown(ssl.get());
			return SSL_session_reused(ssl.get());
		});
		auto fd = tcp_connect(l.port);
		auto conn = connection::handshake(fd.get(), *cctx);
		if (!conn)
			::shutdown(fd.get(), SHUT_RDWR);
		ASSERT_TRUE(conn) << conn.error().message();
		EXPECT_TRUE(conn->info().kernel_offload);
		EXPECT_TRUE(recv_exactly(*conn, down.size()) == down);
		EXPECT_TRUE(conn->shutdown());
		EXPECT_EQ(server.get(), i > 0 ? 1 : 0) << "OpenSSL's server: resumed?";
		EXPECT_EQ(conn->info().resumed, i > 0);
	}
}

// OpenSSL's client, keeping its own session, against our server.
TEST_P(LibResume, ServerResumesAnOpenSslClient)
{
	const auto [v, c] = GetParam();
	auto sctx = context::create(lib_options(role::server, v, c));
	ASSERT_TRUE(sctx) << sctx.error().message();
	auto cctx = peer_ctx(role::client, v, c);
	SSL_SESSION *saved = nullptr;
	for (int i = 0; i < 2; i++) {
		SCOPED_TRACE("connection " + std::to_string(i));
		const auto down = pattern(payload, 300 + i);
		auto l = tcp_listen();
		auto client = std::async(std::launch::async, [&] {
			auto fd = tcp_connect(l.port);
			ssl_ptr ssl(SSL_new(cctx.get()));
			SSL_set_fd(ssl.get(), fd.get());
			SSL_set_tlsext_host_name(ssl.get(), "localhost");
			if (saved)
				SSL_set_session(ssl.get(), saved);
			if (SSL_connect(ssl.get()) != 1)
				return -1;
			std::vector<std::byte> got(down.size());
			size_t have = 0, n = 0;
			while (have < got.size() &&
			       SSL_read_ex(ssl.get(), got.data() + have, got.size() - have, &n) == 1)
				have += n;
			if (got != down)
				return -2;
			/* TLS 1.3: the tickets were read with the data */
			SSL_SESSION_free(saved);
			saved = SSL_get1_session(ssl.get());
			SSL_shutdown(ssl.get());
			return SSL_session_reused(ssl.get());
		});
		auto fd = tcp_accept(l);
		auto conn = connection::handshake(fd.get(), *sctx);
		if (!conn)
			::shutdown(fd.get(), SHUT_RDWR);
		ASSERT_TRUE(conn) << conn.error().message();
		EXPECT_TRUE(conn->info().kernel_offload);
		EXPECT_TRUE(conn->send_all(down));
		EXPECT_TRUE(conn->shutdown());
		EXPECT_EQ(client.get(), i > 0 ? 1 : 0) << "OpenSSL's client: resumed?";
		EXPECT_EQ(conn->info().resumed, i > 0);
	}
	SSL_SESSION_free(saved);
}

INSTANTIATE_TEST_SUITE_P(Lib, LibResume,
			 testing::Values(resume_case{tls_version::tls12, cipher::aes_256_gcm},
					 resume_case{tls_version::tls13, cipher::aes_128_gcm},
					 resume_case{tls_version::tls13, cipher::chacha20_poly1305},
					 resume_case{tls_version::tls13, cipher::aes_128_ccm}),
			 case_name);

// SPDX-License-Identifier: MIT
//
// The handshake half of the library on the host, which has no kTLS: with
// allow_userspace_fallback the connection continues in OpenSSL and says
// why. Covers options (ALPN, SNI/host check, version pinning) without a VM.
#include <ktlsaccel/ktlsaccel.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit_tls.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace ktlsaccel;

namespace {

using namespace unit;

void expect_kernel_or_reason(const connection &c)
{
	if (!c.info().kernel_offload) {
		EXPECT_EQ(c.info().offload_error, errc::kernel_tls_unavailable)
			<< c.info().offload_error.message();
	}
}

} // namespace

TEST(HandshakeFallback, DataFlowsAndAlpnIsNegotiated)
{
	for (auto v : {tls_version::tls12, tls_version::tls13}) {
		SCOPED_TRACE(tls_version_name(v));
		tcp_pair p;
		auto so = server_options();
		so.alpn = {"h2", "http/1.1"};
		so.version = v;
		auto co = client_options();
		co.alpn = {"http/1.1"};
		auto server = std::async(std::launch::async, [&] {
			return connection::handshake(p.server, so);
		});
		auto client = connection::handshake(p.client, co);
		auto srv = server.get();
		ASSERT_TRUE(client) << client.error().message();
		ASSERT_TRUE(srv) << srv.error().message();
		EXPECT_EQ(client->info().alpn, "http/1.1");
		EXPECT_EQ(srv->info().alpn, "http/1.1");
		EXPECT_EQ(client->info().version, v);
		expect_kernel_or_reason(*client);
		expect_kernel_or_reason(*srv);

		std::string msg = "through whichever record layer";
		ASSERT_TRUE(client->send_all(std::as_bytes(std::span(msg))));
		ASSERT_TRUE(client->shutdown());
		/* All of it, however the reads split it; EOF before the end is
		 * a failure, not a shorter match. */
		std::string got(msg.size(), '\0');
		std::size_t have = 0;
		while (have < got.size()) {
			auto n = srv->recv(std::as_writable_bytes(std::span(got).subspan(have)));
			ASSERT_TRUE(n) << n.error().message();
			if (*n == 0)
				break;
			have += *n;
		}
		got.resize(have);
		EXPECT_EQ(got, msg);
	}
}

TEST(HandshakeFallback, PeekIsRefusedAndShutdownIsIdempotent)
{
	tcp_pair p;
	auto server = std::async(std::launch::async, [&] {
		return connection::handshake(p.server, server_options());
	});
	auto client = connection::handshake(p.client, client_options());
	auto srv = server.get();
	ASSERT_TRUE(client) << client.error().message();
	ASSERT_TRUE(srv) << srv.error().message();

	std::string msg = "peeked";
	ASSERT_TRUE(client->send_all(std::as_bytes(std::span(msg))));
	std::string got(msg.size(), '\0');
	auto peek = srv->recv(std::as_writable_bytes(std::span(got)), MSG_PEEK);
	ASSERT_FALSE(peek);
	EXPECT_EQ(peek.error(), errc::invalid_argument);
	/* refused before any I/O: the connection goes on */
	std::size_t have = 0;
	while (have < got.size()) {
		auto n = srv->recv(std::as_writable_bytes(std::span(got).subspan(have)));
		ASSERT_TRUE(n) << n.error().message();
		ASSERT_NE(*n, 0u);
		have += *n;
	}
	EXPECT_EQ(got, msg);

	ASSERT_TRUE(client->shutdown());
	EXPECT_TRUE(client->shutdown());
	auto late = client->send(std::as_bytes(std::span(msg)));
	ASSERT_FALSE(late);
	EXPECT_EQ(late.error(), errc::connection_closed);
}

TEST(HandshakeFallback, WithoutFallbackTheReasonIsTheError)
{
	tcp_pair p;
	auto so = server_options();
	auto co = client_options();
	co.allow_userspace_fallback = false;
	auto server = std::async(std::launch::async, [&] { return connection::handshake(p.server, so); });
	auto client = connection::handshake(p.client, co);
	if (client && client->info().kernel_offload)
		GTEST_SKIP() << "this host has kernel TLS";
	ASSERT_FALSE(client);
	EXPECT_EQ(client.error(), errc::kernel_tls_unavailable);
	EXPECT_NE(client.error().message().find("kernel TLS is not available"), std::string::npos);
	shutdown(p.client, SHUT_RDWR);
	(void)server.get();
}

TEST(HandshakeFallback, ServerWithoutCertificateIsInvalid)
{
	tcp_pair p;
	options o;
	o.role = role::server;
	auto r = connection::handshake(p.server, o);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), std::errc::invalid_argument);
}

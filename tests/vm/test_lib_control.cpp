// SPDX-License-Identifier: MIT
//
// Control records and failures, against an OpenSSL peer in this process
// that can misbehave on purpose: close_notify both ways, a corrupted
// record, a fatal alert, session tickets, KeyUpdate, certificate errors,
// and the userspace fallback.
#include "lib_util.hpp"
#include "vm.h"

#include <ktlsaccel/ktlsaccel.hpp>

#include <openssl/err.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cstring>
#include <future>
#include <thread>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;
using testing::HasSubstr;

namespace {

std::string version_name(const testing::TestParamInfo<tls_version> &i)
{
	return i.param == tls_version::tls12 ? "Tls12" : "Tls13";
}

std::span<const std::byte> as_bytes(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

std::string as_string(const std::vector<std::byte> &v)
{
	return {reinterpret_cast<const char *>(v.data()), v.size()};
}

// An OpenSSL server on an accepted socket, run by a thread.
struct openssl_server {
	listener l = tcp_listen();
	unique_fd fd;
	ssl_ctx_ptr ctx;
	ssl_ptr ssl;

	openssl_server(tls_version v, cipher c = cipher::aes_128_gcm) : ctx(peer_ctx(role::server, v, c)) {}

	bool accept()
	{
		fd = tcp_accept(l);
		ssl.reset(SSL_new(ctx.get()));
		SSL_set_fd(ssl.get(), fd.get());
		return SSL_accept(ssl.get()) == 1;
	}

	// One TLS record from the socket, undecrypted.
	std::vector<std::uint8_t> read_raw_record()
	{
		std::vector<std::uint8_t> rec(5);
		if (::recv(fd.get(), rec.data(), 5, MSG_WAITALL) != 5)
			return {};
		std::size_t len = std::size_t(rec[3]) << 8 | rec[4];
		rec.resize(5 + len);
		if (::recv(fd.get(), rec.data() + 5, len, MSG_WAITALL) != static_cast<ssize_t>(len))
			return {};
		return rec;
	}
};

result<connection> lib_client(std::uint16_t port, tls_version v, unique_fd &fd,
			      cipher c = cipher::aes_128_gcm)
{
	fd = tcp_connect(port);
	return connection::handshake(fd.get(), lib_options(role::client, v, c));
}

class LibControl : public testing::TestWithParam<tls_version> {};

} // namespace

TEST_P(LibControl, CloseNotifyBothWays)
{
	openssl_server peer(GetParam());
	std::promise<int> peer_read;
	std::thread t([&] {
		if (!peer.accept())
			return peer_read.set_value(-1);
		char buf[16];
		size_t n;
		int r = SSL_read_ex(peer.ssl.get(), buf, sizeof(buf), &n);
		/* OpenSSL tells close_notify (ZERO_RETURN) from a TCP EOF */
		peer_read.set_value(SSL_get_error(peer.ssl.get(), r));
		SSL_shutdown(peer.ssl.get());
	});
	unique_fd fd;
	auto conn = lib_client(peer.l.port, GetParam(), fd);
	ASSERT_TRUE(conn) << conn.error().message();
	ASSERT_TRUE(conn->shutdown());
	EXPECT_EQ(peer_read.get_future().get(), SSL_ERROR_ZERO_RETURN)
		<< "the OpenSSL peer did not see our close_notify";
	std::byte buf[16];
	auto r = conn->recv(buf);
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_EQ(*r, 0u) << "the peer's close_notify should be a clean end of stream";
	auto again = conn->recv(buf);
	ASSERT_TRUE(again);
	EXPECT_EQ(*again, 0u);
	auto send_after = conn->send(as_bytes("late"));
	EXPECT_FALSE(send_after);
	t.join();
}

TEST_P(LibControl, CorruptedRecordFromPeerIsBadRecordMac)
{
	openssl_server peer(GetParam());
	std::promise<unsigned long> peer_saw;
	std::thread t([&] {
		if (!peer.accept())
			return peer_saw.set_value(0);
		/* encrypt into memory, flip a bit of the tag, send the record raw */
		BIO *mem = BIO_new(BIO_s_mem());
		BIO *sock = SSL_get_wbio(peer.ssl.get());
		BIO_up_ref(sock);
		SSL_set0_wbio(peer.ssl.get(), mem);
		SSL_write(peer.ssl.get(), "good bytes, bad tag", 19);
		char *p;
		long len = BIO_get_mem_data(mem, &p);
		std::vector<char> rec(p, p + len);
		rec.back() ^= 0x01;
		::send(peer.fd.get(), rec.data(), rec.size(), MSG_NOSIGNAL);
		SSL_set0_wbio(peer.ssl.get(), sock);
		/* the library answers with a bad_record_mac alert */
		timeval tv{5, 0};
		setsockopt(peer.fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		char buf[16];
		size_t n;
		ERR_clear_error();
		SSL_read_ex(peer.ssl.get(), buf, sizeof(buf), &n);
		peer_saw.set_value(ERR_peek_last_error());
	});
	unique_fd fd;
	auto conn = lib_client(peer.l.port, GetParam(), fd);
	ASSERT_TRUE(conn) << conn.error().message();
	std::byte buf[64];
	auto r = conn->recv(buf);
	ASSERT_FALSE(r) << "a corrupted record was accepted";
	EXPECT_EQ(r.error(), errc::bad_record_mac);
	EXPECT_EQ(r.error(), std::errc::bad_message);
	EXPECT_THAT(r.error().message(), HasSubstr("failed authentication"));
	auto again = conn->recv(buf);
	ASSERT_FALSE(again);
	EXPECT_EQ(again.error(), errc::bad_record_mac);
	auto seen = peer_saw.get_future().get();
	EXPECT_EQ(ERR_GET_REASON(seen), SSL_AD_REASON_OFFSET + SSL_AD_BAD_RECORD_MAC)
		<< "the peer did not receive bad_record_mac: " << ERR_error_string(seen, nullptr);
	fd.reset();
	t.join();
}

TEST_P(LibControl, FatalAlertFromPeerIsNamed)
{
	openssl_server peer(GetParam());
	std::thread t([&] {
		if (!peer.accept())
			return;
		/* corrupt what the library sent: OpenSSL answers bad_record_mac */
		auto rec = peer.read_raw_record();
		if (rec.empty())
			return;
		rec.back() ^= 0x01;
		BIO *mem = BIO_new(BIO_s_mem());
		BIO_write(mem, rec.data(), static_cast<int>(rec.size()));
		SSL_set0_rbio(peer.ssl.get(), mem);
		char buf[64];
		size_t n;
		SSL_read_ex(peer.ssl.get(), buf, sizeof(buf), &n);
	});
	unique_fd fd;
	auto conn = lib_client(peer.l.port, GetParam(), fd);
	ASSERT_TRUE(conn) << conn.error().message();
	ASSERT_TRUE(conn->send_all(as_bytes("this record will be corrupted")));
	std::byte buf[64];
	auto r = conn->recv(buf);
	ASSERT_FALSE(r) << "expected the peer's fatal alert";
	EXPECT_EQ(r.error().category(), alert_category());
	EXPECT_EQ(r.error().value(), SSL_AD_BAD_RECORD_MAC);
	EXPECT_THAT(r.error().message(), HasSubstr("bad_record_mac"));
	EXPECT_EQ(error_to_errno(r.error()), EPROTO);
	t.join();
}

TEST_P(LibControl, UntrustedServerCertificateIsNamed)
{
	openssl_server peer(GetParam());
	std::thread t([&] { peer.accept(); });
	auto fd = tcp_connect(peer.l.port);
	auto o = lib_options(role::client, GetParam(), cipher::aes_128_gcm);
	o.ca_file = "/etc/ssl/certs/ca-certificates.crt";	/* not our test CA */
	auto conn = connection::handshake(fd.get(), o);
	ASSERT_FALSE(conn);
	EXPECT_EQ(conn.error().category(), verify_category());
	EXPECT_THAT(conn.error().message(), HasSubstr("local issuer certificate"));
	fd.reset();
	t.join();
}

TEST_P(LibControl, WrongServerNameIsRefused)
{
	openssl_server peer(GetParam());
	std::thread t([&] { peer.accept(); });
	auto fd = tcp_connect(peer.l.port);
	auto o = lib_options(role::client, GetParam(), cipher::aes_128_gcm);
	o.server_name = "not-localhost.example";
	auto conn = connection::handshake(fd.get(), o);
	ASSERT_FALSE(conn);
	EXPECT_EQ(conn.error().category(), verify_category());
	EXPECT_THAT(conn.error().message(), HasSubstr("mismatch"));
	fd.reset();
	t.join();
}

TEST_P(LibControl, CbcSuiteFailsClearlyOrFallsBackToUserspace)
{
	/* TLS 1.2 only: every TLS 1.3 suite is an AEAD kTLS has */
	if (GetParam() != tls_version::tls12)
		GTEST_SKIP() << "TLS 1.3 has no suite without a kTLS equivalent";
	for (bool fallback : {false, true}) {
		SCOPED_TRACE(fallback ? "with fallback" : "without fallback");
		openssl_server peer(GetParam());
		SSL_CTX_set_cipher_list(peer.ctx.get(), "ECDHE-ECDSA-AES128-SHA256");
		std::promise<std::string> peer_got;
		std::thread t([&] {
			if (!peer.accept())
				return peer_got.set_value("");
			char buf[64];
			size_t n = 0;
			SSL_read_ex(peer.ssl.get(), buf, sizeof(buf), &n);
			peer_got.set_value(std::string(buf, n));
			SSL_write(peer.ssl.get(), "pong", 4);
			SSL_shutdown(peer.ssl.get());
		});
		auto fd = tcp_connect(peer.l.port);
		auto o = lib_options(role::client, GetParam(), cipher::aes_128_gcm);
		o.cipher_list = "ECDHE-ECDSA-AES128-SHA256";
		o.allow_userspace_fallback = fallback;
		auto conn = connection::handshake(fd.get(), o);
		if (!fallback) {
			ASSERT_FALSE(conn);
			EXPECT_EQ(conn.error(), errc::cipher_unsupported);
			EXPECT_THAT(conn.error().message(), HasSubstr("no kernel TLS equivalent"));
			fd.reset();
			t.join();
			continue;
		}
		ASSERT_TRUE(conn) << conn.error().message();
		EXPECT_FALSE(conn->info().kernel_offload);
		EXPECT_EQ(conn->info().offload_error, errc::cipher_unsupported);
		ASSERT_TRUE(conn->send_all(as_bytes("ping")));
		EXPECT_EQ(peer_got.get_future().get(), "ping");
		std::error_code end;
		auto got = recv_to_end(*conn, &end);
		EXPECT_EQ(as_string(got), "pong");
		EXPECT_FALSE(end) << end.message();
		t.join();
	}
}

INSTANTIATE_TEST_SUITE_P(Lib, LibControl, testing::Values(tls_version::tls12, tls_version::tls13),
			 version_name);

// TLS 1.3 only ---------------------------------------------------------------

TEST(LibTls13, TicketsAfterHandshakeDoNotBreakData)
{
	openssl_server peer(tls_version::tls13);
	SSL_CTX_set_num_tickets(peer.ctx.get(), 4);
	std::promise<std::string> peer_got;
	std::thread t([&] {
		if (!peer.accept())
			return peer_got.set_value("");
		/* tickets between application data, not only after the handshake */
		SSL_write(peer.ssl.get(), "one,", 4);
		SSL_new_session_ticket(peer.ssl.get());
		SSL_do_handshake(peer.ssl.get());
		SSL_write(peer.ssl.get(), "two,", 4);
		SSL_new_session_ticket(peer.ssl.get());
		SSL_new_session_ticket(peer.ssl.get());
		SSL_do_handshake(peer.ssl.get());
		SSL_write(peer.ssl.get(), "three", 5);
		char buf[64];
		size_t n = 0;
		SSL_read_ex(peer.ssl.get(), buf, sizeof(buf), &n);
		peer_got.set_value(std::string(buf, n));
		SSL_shutdown(peer.ssl.get());
	});
	unique_fd fd;
	auto conn = lib_client(peer.l.port, tls_version::tls13, fd);
	ASSERT_TRUE(conn) << conn.error().message();
	auto got = recv_exactly(*conn, 13);
	EXPECT_EQ(as_string(got), "one,two,three");
	ASSERT_TRUE(conn->send_all(as_bytes("reply")));
	EXPECT_EQ(peer_got.get_future().get(), "reply");
	std::error_code end;
	recv_to_end(*conn, &end);
	EXPECT_FALSE(end) << end.message();
	t.join();
}

TEST(LibTls13, ServerThatSentTicketsKeepsItsSequenceNumbers)
{
	/* our server sends 3 tickets before offload: its write sequence is 3 */
	auto l = tcp_listen();
	std::promise<std::string> client_got;
	std::thread t([&] {
		auto ctx = peer_ctx(role::client, tls_version::tls13, cipher::aes_256_gcm);
		auto fd = tcp_connect(l.port);
		ssl_ptr ssl(SSL_new(ctx.get()));
		SSL_set_fd(ssl.get(), fd.get());
		SSL_set1_host(ssl.get(), "localhost");
		if (SSL_connect(ssl.get()) != 1)
			return client_got.set_value("handshake failed");
		SSL_write(ssl.get(), "hello", 5);
		char buf[64];
		size_t n = 0;
		SSL_read_ex(ssl.get(), buf, sizeof(buf), &n);
		client_got.set_value(std::string(buf, n));
		SSL_shutdown(ssl.get());
	});
	auto fd = tcp_accept(l);
	auto o = lib_options(role::server, tls_version::tls13, cipher::aes_256_gcm);
	o.num_tickets = 3;
	auto conn = connection::handshake(fd.get(), o);
	ASSERT_TRUE(conn) << conn.error().message();
	EXPECT_EQ(as_string(recv_exactly(*conn, 5)), "hello");
	ASSERT_TRUE(conn->send_all(as_bytes("world")));
	EXPECT_EQ(client_got.get_future().get(), "world");
	t.join();
}

TEST(LibTls13, KeyUpdateIsClearlyUnsupportedBeforeLinux614)
{
	if (kernel_supports_rekey())
		GTEST_SKIP() << "this kernel rekeys kTLS sockets";
	openssl_server peer(tls_version::tls13);
	std::thread t([&] {
		if (!peer.accept())
			return;
		SSL_key_update(peer.ssl.get(), SSL_KEY_UPDATE_NOT_REQUESTED);
		SSL_write(peer.ssl.get(), "new keys", 8);
		char buf[16];
		size_t n;
		SSL_read_ex(peer.ssl.get(), buf, sizeof(buf), &n);
	});
	unique_fd fd;
	auto conn = lib_client(peer.l.port, tls_version::tls13, fd);
	ASSERT_TRUE(conn) << conn.error().message();

	auto ours = conn->key_update(false);
	ASSERT_FALSE(ours);
	EXPECT_EQ(ours.error(), errc::key_update_unsupported);
	EXPECT_THAT(ours.error().message(), HasSubstr("not supported by this kernel"));

	std::byte buf[64];
	auto r = conn->recv(buf);
	ASSERT_FALSE(r) << "the peer's KeyUpdate went unnoticed";
	EXPECT_EQ(r.error(), errc::key_update_unsupported);
	EXPECT_EQ(error_to_errno(r.error()), EOPNOTSUPP);
	fd.reset();
	t.join();
}

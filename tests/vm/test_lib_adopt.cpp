// SPDX-License-Identifier: MIT
//
// Adopting an application's own OpenSSL connection through the C API:
// records OpenSSL already sent and received are counted, plaintext it
// already decrypted is handed over, read-ahead is refused clearly.
#include "lib_util.hpp"
#include "vm.h"

#include <ktlsaccel/ktlsaccel.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;
using testing::HasSubstr;

namespace {

class LibAdopt : public testing::TestWithParam<tls_version> {};

std::string version_name(const testing::TestParamInfo<tls_version> &i)
{
	return i.param == tls_version::tls12 ? "Tls12" : "Tls13";
}

// An OpenSSL client that sends `first` as separate records, reads
// `expect_bytes`, then sends `second`.
struct openssl_client {
	std::thread thread;
	std::promise<std::string> got;
	std::promise<void> sent_first;

	openssl_client(std::uint16_t port, tls_version v, std::vector<std::string> first,
		       std::size_t expect_bytes, std::string second)
	{
		thread = std::thread([=, this] {
			auto ctx = peer_ctx(role::client, v, cipher::aes_128_gcm);
			auto fd = tcp_connect(port);
			ssl_ptr ssl(SSL_new(ctx.get()));
			SSL_set_fd(ssl.get(), fd.get());
			if (SSL_connect(ssl.get()) != 1) {
				sent_first.set_value();
				return got.set_value("handshake failed");
			}
			for (const auto &r : first)
				SSL_write(ssl.get(), r.data(), static_cast<int>(r.size()));
			sent_first.set_value();
			std::string in(expect_bytes, '\0');
			std::size_t have = 0;
			while (have < expect_bytes) {
				size_t n = 0;
				if (SSL_read_ex(ssl.get(), in.data() + have, expect_bytes - have, &n) != 1)
					break;
				have += n;
			}
			in.resize(have);
			got.set_value(in);
			SSL_write(ssl.get(), second.data(), static_cast<int>(second.size()));
			char buf[16];
			size_t n;
			SSL_read_ex(ssl.get(), buf, sizeof(buf), &n);	/* until we close */
		});
	}
	~openssl_client()
	{
		if (thread.joinable())
			thread.join();
	}
};

ssl_ptr app_server_ssl(SSL_CTX *ctx, int fd)
{
	ssl_ptr ssl(SSL_new(ctx));
	SSL_set_fd(ssl.get(), fd);
	return ssl;
}

} // namespace

TEST_P(LibAdopt, OffloadAfterApplicationTrafficKeepsSequenceAndPendingBytes)
{
	auto l = tcp_listen();
	openssl_client client(l.port, GetParam(), {"0123456789"}, 15, "after");
	auto fd = tcp_accept(l);
	auto ctx = peer_ctx(role::server, GetParam(), cipher::aes_128_gcm);
	auto ssl = app_server_ssl(ctx.get(), fd.get());
	ASSERT_EQ(ktlsaccel_prepare_ssl(ssl.get()), 0) << ktlsaccel_last_error();
	ASSERT_EQ(SSL_accept(ssl.get()), 1);

	/* the application talks TLS itself first: records under OpenSSL */
	ASSERT_EQ(SSL_write(ssl.get(), "before", 6), 6);
	char head[3];
	ASSERT_EQ(SSL_read(ssl.get(), head, 3), 3);
	EXPECT_EQ(std::string(head, 3), "012");
	EXPECT_EQ(SSL_pending(ssl.get()), 7);

	struct ktlsaccel_conn *conn = nullptr;
	ASSERT_EQ(ktlsaccel_offload_ssl(ssl.get(), &conn), 0) << ktlsaccel_last_error();
	ssl.reset();	/* the application no longer needs it */

	/* in the library, where epoll cannot see them (issue 20) */
	EXPECT_EQ(ktlsaccel_conn_pending(conn), 7);
	char buf[32];
	ssize_t n = ktlsaccel_recv(conn, buf, 2, 0);
	ASSERT_EQ(n, 2) << ktlsaccel_last_error();
	EXPECT_EQ(ktlsaccel_conn_pending(conn), 5);
	n = ktlsaccel_recv(conn, buf + 2, sizeof(buf) - 2, 0);
	ASSERT_EQ(n, 5) << ktlsaccel_last_error();
	EXPECT_EQ(std::string(buf, 7), "3456789") << "bytes OpenSSL had decrypted were lost";
	EXPECT_EQ(ktlsaccel_conn_pending(conn), 0);

	ASSERT_EQ(ktlsaccel_send(conn, "offloaded", 9, 0), 9) << ktlsaccel_last_error();
	EXPECT_EQ(client.got.get_future().get(), "beforeoffloaded");
	n = ktlsaccel_recv(conn, buf, sizeof(buf), 0);
	ASSERT_EQ(n, 5) << ktlsaccel_last_error();
	EXPECT_EQ(std::string(buf, 5), "after");
	EXPECT_EQ(ktlsaccel_shutdown(conn), 0) << ktlsaccel_last_error();
	ktlsaccel_conn_free(conn);
}

TEST_P(LibAdopt, ReadAheadBytesAreRefusedNotLost)
{
	auto l = tcp_listen();
	openssl_client client(l.port, GetParam(), {"abc", "def"}, 0, "");
	auto fd = tcp_accept(l);
	auto ctx = peer_ctx(role::server, GetParam(), cipher::aes_128_gcm);
	auto ssl = app_server_ssl(ctx.get(), fd.get());
	ASSERT_EQ(ktlsaccel_prepare_ssl(ssl.get()), 0) << ktlsaccel_last_error();
	SSL_set_read_ahead(ssl.get(), 1);	/* the application turns it back on */
	ASSERT_EQ(SSL_accept(ssl.get()), 1);
	client.sent_first.get_future().wait();
	std::this_thread::sleep_for(std::chrono::milliseconds(200));

	char buf[8];
	ASSERT_EQ(SSL_read(ssl.get(), buf, 3), 3);
	EXPECT_EQ(std::string(buf, 3), "abc");

	struct ktlsaccel_conn *conn = nullptr;
	EXPECT_EQ(ktlsaccel_offload_ssl(ssl.get(), &conn), -EBUSY);
	EXPECT_EQ(conn, nullptr);
	EXPECT_THAT(ktlsaccel_last_error(), HasSubstr("read-ahead"));
	/* the SSL still works and nothing was lost */
	ASSERT_EQ(SSL_read(ssl.get(), buf, 3), 3);
	EXPECT_EQ(std::string(buf, 3), "def");
	SSL_shutdown(ssl.get());
}

TEST_P(LibAdopt, UnpreparedSslIsRefused)
{
	auto l = tcp_listen();
	openssl_client client(l.port, GetParam(), {}, 0, "");
	auto fd = tcp_accept(l);
	auto ctx = peer_ctx(role::server, GetParam(), cipher::aes_128_gcm);
	auto ssl = app_server_ssl(ctx.get(), fd.get());
	ASSERT_EQ(SSL_accept(ssl.get()), 1);
	struct ktlsaccel_conn *conn = nullptr;
	EXPECT_EQ(ktlsaccel_offload_ssl(ssl.get(), &conn), -EINVAL);
	EXPECT_THAT(ktlsaccel_last_error(), HasSubstr("ktlsaccel_prepare_ssl"));
	EXPECT_EQ(ktlsaccel_prepare_ssl(ssl.get()), -EINVAL) << "prepare after the handshake";
	SSL_shutdown(ssl.get());
}

INSTANTIATE_TEST_SUITE_P(Lib, LibAdopt, testing::Values(tls_version::tls12, tls_version::tls13),
			 version_name);

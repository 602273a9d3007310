// SPDX-License-Identifier: MIT
//
// libktlsaccel against real userspace TLS: `openssl s_server` and
// `openssl s_client`, TLS 1.2 and 1.3 x every cipher kTLS and OpenSSL
// share, bulk data byte-exact in both directions (KTLSACCEL_TEST_BULK_MIB,
// default 16 MiB per transfer), records in the kernel's software AEAD or
// whatever driver it picks.
#include "lib_util.hpp"
#include "vm.h"

#include <gtest/gtest.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;

namespace {

struct interop_case {
	tls_version version;
	cipher cipher_type;
};

std::string case_name(const testing::TestParamInfo<interop_case> &i)
{
	std::string n = i.param.version == tls_version::tls12 ? "Tls12_" : "Tls13_";
	switch (i.param.cipher_type) {
	case cipher::aes_128_gcm: return n + "Aes128Gcm";
	case cipher::aes_256_gcm: return n + "Aes256Gcm";
	case cipher::chacha20_poly1305: return n + "Chacha20Poly1305";
	case cipher::aes_128_ccm: return n + "Aes128Ccm";
	}
	return n;
}

const std::vector<std::byte> &bulk_data()
{
	static const auto d = pattern(bulk_size(), 7);
	return d;
}

const fs::path &bulk_file()
{
	static const fs::path p = [] {
		auto f = scratch_dir() / "bulk.bin";
		write_file(f, bulk_data());
		return f;
	}();
	return p;
}

std::vector<std::string> version_args(const interop_case &c)
{
	auto name = openssl_cipher_name(c.version, c.cipher_type);
	if (c.version == tls_version::tls13)
		return {"-tls1_3", "-ciphersuites", name};
	return {"-tls1_2", "-cipher", name};
}

std::string file_text(const fs::path &p)
{
	std::ifstream f(p);
	return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

class LibInterop : public testing::TestWithParam<interop_case> {
protected:
	fs::path dir;

	void SetUp() override
	{
		dir = scratch_dir() / testing::UnitTest::GetInstance()->current_test_info()->name();
		fs::create_directories(dir.parent_path());
		fs::create_directories(dir);
		(void)test_pki();
		(void)bulk_file();
	}
	void TearDown() override { fs::remove_all(dir); }

	process::spec s_server(std::uint16_t port) const
	{
		const auto &k = test_pki();
		process::spec s;
		s.argv = {"openssl", "s_server", "-quiet", "-naccept", "1",
			  "-accept", "127.0.0.1:" + std::to_string(port),
			  "-cert", k.cert, "-key", k.key};
		for (auto &a : version_args(GetParam()))
			s.argv.push_back(a);
		s.stderr_file = dir / "s_server.err";
		return s;
	}

	process::spec s_client(std::uint16_t port) const
	{
		const auto &k = test_pki();
		process::spec s;
		s.argv = {"openssl", "s_client", "-quiet", "-connect",
			  "127.0.0.1:" + std::to_string(port), "-CAfile", k.ca,
			  "-verify_return_error", "-servername", "localhost"};
		for (auto &a : version_args(GetParam()))
			s.argv.push_back(a);
		s.stderr_file = dir / "s_client.err";
		return s;
	}

	void expect_offloaded(const connection &c) const
	{
		EXPECT_TRUE(c.info().kernel_offload);
		EXPECT_EQ(c.info().version, GetParam().version);
		EXPECT_EQ(c.info().cipher_type, GetParam().cipher_type);
	}
};

} // namespace

TEST_P(LibInterop, ClientReceivesBulkFromOpensslServer)
{
	auto port = free_port();
	auto spec = s_server(port);
	spec.stdin_file = bulk_file();
	process srv(spec);

	auto fd = tcp_connect(port);
	auto conn = connection::handshake(fd.get(), lib_options(role::client, GetParam().version,
								GetParam().cipher_type));
	ASSERT_TRUE(conn) << conn.error().message() << "\n" << file_text(dir / "s_server.err");
	expect_offloaded(*conn);

	std::error_code end;
	auto got = recv_to_end(*conn, &end);
	EXPECT_FALSE(end) << "expected close_notify, got: " << end.message();
	EXPECT_EQ(got.size(), bulk_data().size());
	EXPECT_TRUE(got == bulk_data()) << "received data differs";
	(void)conn->shutdown();
	EXPECT_EQ(srv.wait(), 0) << file_text(dir / "s_server.err");
}

TEST_P(LibInterop, ClientSendsBulkToOpensslServer)
{
	auto port = free_port();
	auto spec = s_server(port);
	spec.stdout_file = dir / "received.bin";
	process srv(spec);

	auto fd = tcp_connect(port);
	auto conn = connection::handshake(fd.get(), lib_options(role::client, GetParam().version,
								GetParam().cipher_type));
	ASSERT_TRUE(conn) << conn.error().message() << "\n" << file_text(dir / "s_server.err");
	expect_offloaded(*conn);

	auto sent = conn->send_all(bulk_data());
	ASSERT_TRUE(sent) << sent.error().message();
	/* close_notify ends s_server's read loop; it then exits */
	ASSERT_TRUE(conn->shutdown());
	EXPECT_EQ(srv.wait(), 0) << file_text(dir / "s_server.err");
	auto got = read_file(dir / "received.bin");
	EXPECT_EQ(got.size(), bulk_data().size());
	EXPECT_TRUE(got == bulk_data()) << "s_server received different data";
}

TEST_P(LibInterop, ServerReceivesBulkFromOpensslClient)
{
	auto l = tcp_listen();
	auto spec = s_client(l.port);
	spec.stdin_file = bulk_file();
	process cli(spec);

	auto fd = tcp_accept(l);
	auto conn = connection::handshake(fd.get(), lib_options(role::server, GetParam().version,
								GetParam().cipher_type));
	ASSERT_TRUE(conn) << conn.error().message() << "\n" << file_text(dir / "s_client.err");
	expect_offloaded(*conn);

	auto got = recv_exactly(*conn, bulk_data().size());
	EXPECT_EQ(got.size(), bulk_data().size());
	EXPECT_TRUE(got == bulk_data()) << "received data differs";
	/* s_client -quiet ignores its stdin EOF; our close_notify ends it */
	ASSERT_TRUE(conn->shutdown());
	EXPECT_EQ(cli.wait(), 0) << file_text(dir / "s_client.err");
}

TEST_P(LibInterop, ServerSendsBulkToOpensslClient)
{
	auto l = tcp_listen();
	auto spec = s_client(l.port);
	spec.stdout_file = dir / "received.bin";
	process cli(spec);

	auto fd = tcp_accept(l);
	auto conn = connection::handshake(fd.get(), lib_options(role::server, GetParam().version,
								GetParam().cipher_type));
	ASSERT_TRUE(conn) << conn.error().message() << "\n" << file_text(dir / "s_client.err");
	expect_offloaded(*conn);

	auto sent = conn->send_all(bulk_data());
	ASSERT_TRUE(sent) << sent.error().message();
	ASSERT_TRUE(conn->shutdown());
	EXPECT_EQ(cli.wait(), 0) << file_text(dir / "s_client.err");
	auto got = read_file(dir / "received.bin");
	EXPECT_EQ(got.size(), bulk_data().size());
	EXPECT_TRUE(got == bulk_data()) << "s_client received different data";
}

INSTANTIATE_TEST_SUITE_P(
	Lib, LibInterop,
	testing::Values(interop_case{tls_version::tls12, cipher::aes_128_gcm},
			interop_case{tls_version::tls12, cipher::aes_256_gcm},
			interop_case{tls_version::tls12, cipher::chacha20_poly1305},
			interop_case{tls_version::tls12, cipher::aes_128_ccm},
			interop_case{tls_version::tls13, cipher::aes_128_gcm},
			interop_case{tls_version::tls13, cipher::aes_256_gcm},
			interop_case{tls_version::tls13, cipher::chacha20_poly1305},
			interop_case{tls_version::tls13, cipher::aes_128_ccm}),
	case_name);

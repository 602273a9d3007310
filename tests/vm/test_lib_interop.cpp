// SPDX-License-Identifier: MIT
//
// libktlsaccel against real userspace TLS: `openssl s_server` and
// `openssl s_client`, TLS 1.2 and 1.3 x every cipher kTLS and OpenSSL
// share, bulk data byte-exact in both directions (KTLSACCEL_TEST_BULK_MIB,
// default 4 MiB per transfer). Twice: LibInterop with the kernel's own
// AEADs (ktlsaccel.ko not loaded), LibInteropWithModule with ktlsaccel.ko
// loaded once for all its tests (KTLSACCEL_TEST_MODULE_BULK_MIB, default
// 4 MiB), where each test also checks in the module's per-flow counters
// that its socket's records went through it.
#include "lib_util.hpp"
#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

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

const std::vector<std::byte> &bulk_pattern(bool with_module)
{
	static const auto full = pattern(bulk_size(), 7);
	static const auto module = pattern(module_bulk_size(), 7);
	return with_module ? module : full;
}

class LibInterop : public testing::TestWithParam<interop_case> {
protected:
	fs::path dir;
	/* Set when ktlsaccel.ko is loaded (LibInteropWithModule). */
	bool with_module = false;
	std::optional<flow_watch> watch;

	const std::vector<std::byte> &bulk_data() const { return bulk_pattern(with_module); }

	/* Prints the data phase's rate (from its start to the receiver
	 * having it all): a figure for the log, not a pass criterion. */
	void print_rate(std::chrono::steady_clock::time_point start) const
	{
		double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
		double mib = static_cast<double>(bulk_data().size()) / (1 << 20);
		std::printf("%s%s: %.0f MiB in %.2f s, %.1f MiB/s\n",
			    testing::UnitTest::GetInstance()->current_test_info()->name(),
			    with_module ? " (ktlsaccel.ko)" : "", mib, s, mib / s);
	}

	void SetUp() override
	{
		dir = scratch_dir() / testing::UnitTest::GetInstance()->current_test_info()->name();
		fs::create_directories(dir.parent_path());
		fs::create_directories(dir);
		(void)test_pki();
	}
	void TearDown() override { fs::remove_all(dir); }

	process::spec s_server(std::uint16_t port) const
	{
		return openssl_s_server(port, GetParam().version, GetParam().cipher_type,
					dir / "s_server.err");
	}

	process::spec s_client(std::uint16_t port) const
	{
		return openssl_s_client(port, GetParam().version, GetParam().cipher_type,
					dir / "s_client.err");
	}

	// Our side of the handshake on fd; fails the test (with the OpenSSL
	// tool's stderr) unless the kernel took the records.
	std::optional<connection> offload(int fd, role r, const char *tool) const
	{
		auto conn = connection::handshake(fd, lib_options(r, GetParam().version,
								  GetParam().cipher_type));
		if (!conn) {
			ADD_FAILURE() << conn.error().message() << "\n"
				      << file_text(dir / (std::string(tool) + ".err"));
			return std::nullopt;
		}
		EXPECT_TRUE(conn->info().kernel_offload);
		EXPECT_EQ(conn->info().version, GetParam().version);
		EXPECT_EQ(conn->info().cipher_type, GetParam().cipher_type);
		return std::move(*conn);
	}

	// Sends the bulk data, closes with close_notify (which ends the tool's
	// read loop) and checks what the tool wrote to received.bin.
	void send_bulk_to(connection &conn, process &tool, const char *name)
	{
		auto start = std::chrono::steady_clock::now();
		auto sent = conn.send_all(bulk_data());
		ASSERT_TRUE(sent) << sent.error().message();
		ASSERT_TRUE(conn.shutdown());
		EXPECT_EQ(tool.wait(), 0) << file_text(dir / (std::string(name) + ".err"));
		print_rate(start);
		expect_bulk(read_file(dir / "received.bin"), name);
		/* the tool read every record: every encryption has completed */
		expect_records_through_module(control::flow_direction::tx);
	}

	void expect_bulk(const std::vector<std::byte> &got, const char *who) const
	{
		EXPECT_EQ(got.size(), bulk_data().size()) << who;
		EXPECT_TRUE(got == bulk_data()) << who << " received different data";
	}

	/*
	 * With the module loaded, while our socket is still open: its flows
	 * (this process's tfms since SetUp; the OpenSSL tool has no kTLS) run
	 * the cipher's algorithm, and the direction that carried the bulk
	 * data ran at least all of its bytes through the module (decrypt
	 * counts the tags too, so more than the data).
	 */
	void expect_records_through_module(control::flow_direction d)
	{
		if (!watch)
			return;
		auto flows = watch->flows();
		EXPECT_EQ(flows.size(), 2u) << "one tfm per direction\n" << watch->describe_all();
		for (const auto &f : flows)
			EXPECT_EQ(f.alg, cipher_kernel_name(GetParam().cipher_type));
		EXPECT_GE(flow_bytes(flows, d), bulk_data().size())
			<< "the " << to_string(d) << " records did not all go through ktlsaccel\n"
			<< watch->describe_all();
	}

	void client_receives_bulk_from_openssl_server();
	void client_sends_bulk_to_openssl_server();
	void server_receives_bulk_from_openssl_client();
	void server_sends_bulk_to_openssl_client();
};

/*
 * The same tests with ktlsaccel.ko loaded, once for the whole suite: a
 * load waits for the kernel's self-tests of its algorithms, which is the
 * slow part of a load, and nothing here changes its settings.
 *
 * The bulk data is KTLSACCEL_TEST_MODULE_BULK_MIB (default 4 MiB, as
 * without the module) per transfer: 256 full records each way, twice what
 * one of the module's rings holds, so the rings fill and wrap. (16 MiB
 * until the suite outgrew .ci/run's time budget; set it for longer runs.)
 * Measured on a 2-core host: 32 tests in 105 s per kernel at 16 MiB (two
 * guests at once), 40 s at 4 MiB (one).
 */
class LibInteropWithModule : public LibInterop {
protected:
	static void SetUpTestSuite() { module = std::make_unique<loaded_module>(); }
	static void TearDownTestSuite() { module.reset(); }

	void SetUp() override
	{
		with_module = true;
		LibInterop::SetUp();
		ASSERT_TRUE(module_loaded());
		watch = flow_watch::start();
		ASSERT_TRUE(watch);
	}

	static std::unique_ptr<loaded_module> module;
};

std::unique_ptr<loaded_module> LibInteropWithModule::module;

} // namespace

void LibInterop::client_receives_bulk_from_openssl_server()
{
	auto port = free_port();
	process srv(s_server(port));
	auto fd = tcp_connect(port, openssl_start_patience);
	auto conn = offload(fd.get(), role::client, "s_server");
	ASSERT_TRUE(conn);
	/*
	 * s_server's loop select()s stdin and the socket: with data on stdin
	 * during the handshake it can end up blocked reading the socket,
	 * waiting for us. Its data comes after the handshake, as a user's
	 * would; at its end s_server closes with close_notify.
	 */
	auto start = std::chrono::steady_clock::now();
	std::thread feeder([&] { srv.feed_stdin(bulk_data()); });
	std::error_code end;
	auto got = recv_to_end(*conn, &end);
	print_rate(start);
	if (end)
		::shutdown(fd.get(), SHUT_RDWR);	/* s_server must not wait for us */
	feeder.join();
	expect_bulk(got, "the library");
	EXPECT_FALSE(end) << "expected close_notify, got: " << end.message();
	expect_records_through_module(control::flow_direction::rx);
	(void)conn->shutdown();
	EXPECT_EQ(srv.wait(), 0) << file_text(dir / "s_server.err");
}

void LibInterop::client_sends_bulk_to_openssl_server()
{
	auto port = free_port();
	auto spec = s_server(port);
	spec.stdout_file = dir / "received.bin";
	process srv(spec);
	auto fd = tcp_connect(port, openssl_start_patience);
	auto conn = offload(fd.get(), role::client, "s_server");
	ASSERT_TRUE(conn);
	send_bulk_to(*conn, srv, "s_server");
}

void LibInterop::server_receives_bulk_from_openssl_client()
{
	auto l = tcp_listen();
	process cli(s_client(l.port));
	auto fd = tcp_accept(l);
	auto conn = offload(fd.get(), role::server, "s_client");
	ASSERT_TRUE(conn);
	/* as above: s_client's data comes once the handshake is done */
	auto start = std::chrono::steady_clock::now();
	std::thread feeder([&] { cli.feed_stdin(bulk_data()); });
	auto got = recv_exactly(*conn, bulk_data().size());
	print_rate(start);
	if (got.size() != bulk_data().size())
		::shutdown(fd.get(), SHUT_RDWR);
	feeder.join();
	expect_bulk(got, "the library");
	expect_records_through_module(control::flow_direction::rx);
	/* s_client -quiet ignores its stdin EOF; our close_notify ends it */
	EXPECT_TRUE(conn->shutdown());
	EXPECT_EQ(cli.wait(), 0) << file_text(dir / "s_client.err");
}

void LibInterop::server_sends_bulk_to_openssl_client()
{
	auto l = tcp_listen();
	auto spec = s_client(l.port);
	spec.stdout_file = dir / "received.bin";
	process cli(spec);
	auto fd = tcp_accept(l);
	auto conn = offload(fd.get(), role::server, "s_client");
	ASSERT_TRUE(conn);
	send_bulk_to(*conn, cli, "s_client");
}

TEST_P(LibInterop, ClientReceivesBulkFromOpensslServer) { client_receives_bulk_from_openssl_server(); }
TEST_P(LibInterop, ClientSendsBulkToOpensslServer) { client_sends_bulk_to_openssl_server(); }
TEST_P(LibInterop, ServerReceivesBulkFromOpensslClient) { server_receives_bulk_from_openssl_client(); }
TEST_P(LibInterop, ServerSendsBulkToOpensslClient) { server_sends_bulk_to_openssl_client(); }

TEST_P(LibInteropWithModule, ClientReceivesBulkFromOpensslServer) { client_receives_bulk_from_openssl_server(); }
TEST_P(LibInteropWithModule, ClientSendsBulkToOpensslServer) { client_sends_bulk_to_openssl_server(); }
TEST_P(LibInteropWithModule, ServerReceivesBulkFromOpensslClient) { server_receives_bulk_from_openssl_client(); }
TEST_P(LibInteropWithModule, ServerSendsBulkToOpensslClient) { server_sends_bulk_to_openssl_client(); }

namespace {

const auto interop_cases =
	testing::Values(interop_case{tls_version::tls12, cipher::aes_128_gcm},
			interop_case{tls_version::tls12, cipher::aes_256_gcm},
			interop_case{tls_version::tls12, cipher::chacha20_poly1305},
			interop_case{tls_version::tls12, cipher::aes_128_ccm},
			interop_case{tls_version::tls13, cipher::aes_128_gcm},
			interop_case{tls_version::tls13, cipher::aes_256_gcm},
			interop_case{tls_version::tls13, cipher::chacha20_poly1305},
			interop_case{tls_version::tls13, cipher::aes_128_ccm});

} // namespace

INSTANTIATE_TEST_SUITE_P(Lib, LibInterop, interop_cases, case_name);
INSTANTIATE_TEST_SUITE_P(Lib, LibInteropWithModule, interop_cases, case_name);

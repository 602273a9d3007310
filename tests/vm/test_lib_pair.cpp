// SPDX-License-Identifier: MIT
//
// The library's client against its own server: both ends in the kernel,
// bulk data both ways at once (the server sends with sendfile), then
// close_notify both ways.
#include "lib_util.hpp"
#include "vm.h"

#include <ktlsaccel/ktlsaccel.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;

namespace {

struct pair_case {
	tls_version version;
	cipher cipher_type;
};

class LibPair : public testing::TestWithParam<pair_case> {};

std::string pair_name(const testing::TestParamInfo<pair_case> &i)
{
	return std::string(i.param.version == tls_version::tls12 ? "Tls12_" : "Tls13_") +
	       (i.param.cipher_type == cipher::aes_256_gcm ? "Aes256Gcm" : "Chacha20Poly1305");
}

} // namespace

TEST_P(LibPair, BulkBothWaysThenCloseNotifyBothWays)
{
	const auto [v, c] = GetParam();
	const auto up = pattern(bulk_size(), 11);
	const auto down = pattern(bulk_size(), 12);
	auto file = scratch_dir() / "pair-down.bin";
	write_file(file, down);

	auto p = handshake_pair(v, c);
	auto &client = p.client;
	auto &server = p.server;
	ASSERT_TRUE(client) << client.error().message();
	ASSERT_TRUE(server) << server.error().message();
	EXPECT_TRUE(client->info().kernel_offload);
	EXPECT_TRUE(server->info().kernel_offload);

	/* each side sends from its own thread while its main thread receives */
	std::thread client_tx([&] {
		EXPECT_TRUE(client->send_all(up));
		EXPECT_TRUE(client->shutdown());
	});
	std::thread server_tx([&] {
		unique_fd in(open(file.c_str(), O_RDONLY | O_CLOEXEC));
		off_t off = 0;
		auto n = server->sendfile(in.get(), &off, down.size());
		EXPECT_TRUE(n) << (n ? "" : n.error().message());
		EXPECT_EQ(n.value_or(0), down.size());
		EXPECT_TRUE(server->shutdown());
	});
	std::error_code server_end, client_end;
	std::vector<std::byte> server_got;
	std::thread server_rx([&] { server_got = recv_to_end(*server, &server_end); });
	auto client_got = recv_to_end(*client, &client_end);
	server_rx.join();
	client_tx.join();
	server_tx.join();

	EXPECT_FALSE(client_end) << client_end.message();
	EXPECT_FALSE(server_end) << server_end.message();
	EXPECT_EQ(client_got.size(), down.size());
	EXPECT_EQ(server_got.size(), up.size());
	EXPECT_TRUE(client_got == down) << "client received different data";
	EXPECT_TRUE(server_got == up) << "server received different data";
}

INSTANTIATE_TEST_SUITE_P(Lib, LibPair,
			 testing::Values(pair_case{tls_version::tls12, cipher::aes_256_gcm},
					 pair_case{tls_version::tls13, cipher::chacha20_poly1305}),
			 pair_name);

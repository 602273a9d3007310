// SPDX-License-Identifier: MIT
//
// The library with ktlsaccel.ko loaded: a library client and server over
// loopback, one 1 MiB write, byte-exact, and the module's counters for the
// sending socket's flow show many of that write's records in flight at once.

#include "lib_util.hpp"
#include "module_util.h"
#include "vm.h"

#include <ktlsaccel/control.hpp>
#include <ktlsaccel/ktlsaccel.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;

namespace {

class LibWithModule : public testing::TestWithParam<tls_version> {};

TEST_P(LibWithModule, OneMiBWriteKeepsManyRecordsInFlight)
{
	loaded_module module;
	/*
	 * A modelled pipeline latency keeps records in the rings long enough
	 * to see them there even on an emulated CPU: about latency / (the
	 * sender's time per record) of them. 2 ms gave 39-57 on the
	 * distribution kernels but 6 under KASAN, where each record costs the
	 * sender ~10 times more; 20 ms leaves room for that.
	 */
	ASSERT_NO_FATAL_FAILURE(set_pipeline_latency(20000));
	auto watch = flow_watch::start();
	ASSERT_TRUE(watch);

	const auto v = GetParam();
	const auto c = cipher::aes_128_gcm;
	auto p = handshake_pair(v, c);
	auto &client = p.client;
	auto &server = p.server;
	ASSERT_TRUE(client) << client.error().message();
	ASSERT_TRUE(server) << server.error().message();
	ASSERT_TRUE(client->info().kernel_offload);
	ASSERT_TRUE(server->info().kernel_offload);
	ASSERT_EQ(client->info().cipher_type, c);

	/* Both ends installed TX and RX: four tfms of the module's gcm(aes). */
	auto before = watch->flows();
	EXPECT_EQ(before.size(), 4u) << watch->describe_all()
				     << check_output("grep -B1 -A5 'gcm(aes)' /proc/crypto");

	const auto data = pattern(1 << 20, 21);
	ASSERT_NO_FATAL_FAILURE(expect_one_way(*client, *server, data));

	/* The server read every record, so every encryption has completed. */
	auto flows = watch->flows();
	std::uint32_t best = 0;
	for (const auto &f : flows) {
		EXPECT_EQ(f.alg, "gcm(aes)");
		if (f.direction == control::flow_direction::tx)
			best = std::max(best, f.stats.max_in_flight);
	}
	RecordProperty("max_in_flight", std::to_string(best));
	std::printf("library, %s, 1 MiB write: max %u records in flight on the TX flow\n",
		    v == tls_version::tls12 ? "TLS 1.2" : "TLS 1.3", best);
	EXPECT_GE(flow_bytes(flows, control::flow_direction::tx), data.size())
		<< "the module did not see the records\n" << watch->describe_all();
	EXPECT_GE(flow_bytes(flows, control::flow_direction::rx), data.size())
		<< "the module did not decrypt the records\n" << watch->describe_all();
	EXPECT_GT(best, 8u) << "a 1 MiB write should keep many of its 64 records in flight";
}

INSTANTIATE_TEST_SUITE_P(Versions, LibWithModule,
			 testing::Values(tls_version::tls12, tls_version::tls13),
			 [](const auto &i) {
				 return std::string(i.param == tls_version::tls12 ? "Tls12" : "Tls13");
			 });

} // namespace

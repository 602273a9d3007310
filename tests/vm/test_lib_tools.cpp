// SPDX-License-Identifier: MIT
//
// The programs that show the library: ktlsaccel-perf and the examples,
// run as a user would run them.
#include "lib_util.hpp"
#include "vm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace ktlsaccel::vmtest;
using testing::HasSubstr;

namespace {

fs::path program(const std::string &rel)
{
	return build_dir() / rel;
}

} // namespace

TEST(LibTools, PerfMeasuresBothDirectionsInTheKernel)
{
	auto perf = program("tools/perf/ktlsaccel-perf");
	ASSERT_TRUE(fs::exists(perf)) << perf << " is not built";
	const auto &k = test_pki();
	for (bool reverse : {false, true}) {
		SCOPED_TRACE(reverse ? "server sends" : "client sends");
		auto port = std::to_string(free_port());
		/* a file per run: the last run's "listening" must not count */
		auto s = server_spec({perf, "-p", port, "--tls", "1.2", "--cipher", "aes256gcm", "server",
				      "--bind", "127.0.0.1", "--cert", k.cert, "--key", k.key, "--once"},
				     reverse ? "perf-server-sends" : "perf-server-receives");
		process srv(s);
		ASSERT_TRUE(wait_for_text(s.stdout_file, "listening")) << file_text(s.stderr_file);

		auto r = run(perf.string() + " -p " + port + " client 127.0.0.1 --ca " + k.ca.string() +
			     " -n 8M" + (reverse ? " -R" : ""));
		EXPECT_EQ(r.status, 0) << r.output;
		EXPECT_THAT(r.output, HasSubstr("TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"));
		EXPECT_THAT(r.output, HasSubstr("records in the kernel (kTLS)"));
		EXPECT_THAT(r.output, HasSubstr("kernel AEAD: gcm(aes) -> "));
		EXPECT_THAT(r.output, HasSubstr(reverse ? "received 8.0 MiB" : "sent 8.0 MiB"));
		EXPECT_EQ(srv.wait(std::chrono::seconds(60)), 0) << file_text(s.stderr_file);
		EXPECT_THAT(file_text(s.stdout_file), HasSubstr(reverse ? "sent 8.0 MiB" : "received 8.0 MiB"));
		std::cout << r.output;
	}
}

TEST(LibTools, ExampleClientTalksToExampleServer)
{
	auto server = program("examples/ktlsaccel-example-server");
	auto client = program("examples/ktlsaccel-example-client");
	ASSERT_TRUE(fs::exists(server) && fs::exists(client)) << "examples are not built";
	const auto &k = test_pki();
	auto port = std::to_string(free_port());
	auto s = server_spec({server, port, k.cert, k.key}, "example-server");
	process srv(s);
	/* the server prints nothing until a client comes: probe its port */
	auto r = run_retrying(client.string() + " localhost " + port + " " + k.ca.string() +
			      " 'hello, kernel TLS'");
	EXPECT_EQ(r.status, 0) << r.output << file_text(s.stderr_file);
	EXPECT_THAT(r.output, HasSubstr("hello, kernel TLS"));
	EXPECT_THAT(file_text(s.stdout_file), HasSubstr("kernel TLS: yes"));
}

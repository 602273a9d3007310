// SPDX-License-Identifier: MIT
//
// The programs that show the library: ktlsaccel-perf and the examples,
// run as a user would run them.
#include "lib_util.hpp"
#include "vm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using namespace ktlsaccel::vmtest;
using testing::HasSubstr;

namespace {

fs::path program(const std::string &rel)
{
	return build_dir() / rel;
}

std::string text(const fs::path &p)
{
	std::ifstream f(p);
	return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Waits until a server's output shows `ready` (it is listening).
bool wait_for(const fs::path &out, const std::string &ready)
{
	for (int i = 0; i < 400; i++) {
		if (text(out).find(ready) != std::string::npos)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return false;
}

} // namespace

TEST(LibTools, PerfMeasuresBothDirectionsInTheKernel)
{
	auto perf = program("tools/perf/ktlsaccel-perf");
	if (!fs::exists(perf))
		GTEST_SKIP() << perf << " is not built";
	const auto &k = test_pki();
	for (bool reverse : {false, true}) {
		SCOPED_TRACE(reverse ? "server sends" : "client sends");
		auto port = std::to_string(free_port());
		process::spec s;
		s.argv = {perf, "-p", port, "--tls", "1.2", "--cipher", "aes256gcm", "server",
			  "--bind", "127.0.0.1", "--cert", k.cert, "--key", k.key, "--once"};
		/* a file per run: the last run's "listening" must not count */
		std::string name = reverse ? "perf-server-sends" : "perf-server-receives";
		s.stdout_file = scratch_dir() / (name + ".out");
		s.stderr_file = scratch_dir() / (name + ".err");
		fs::remove(s.stdout_file);
		process srv(s);
		ASSERT_TRUE(wait_for(s.stdout_file, "listening")) << text(s.stderr_file);

		auto r = run(perf.string() + " -p " + port + " client 127.0.0.1 --ca " + k.ca.string() +
			     " -n 8M" + (reverse ? " -R" : ""));
		EXPECT_EQ(r.status, 0) << r.output;
		EXPECT_THAT(r.output, HasSubstr("TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"));
		EXPECT_THAT(r.output, HasSubstr("records in the kernel (kTLS)"));
		EXPECT_THAT(r.output, HasSubstr("kernel AEAD: gcm(aes) -> "));
		EXPECT_THAT(r.output, HasSubstr(reverse ? "received 8.0 MiB" : "sent 8.0 MiB"));
		EXPECT_EQ(srv.wait(std::chrono::seconds(60)), 0) << text(s.stderr_file);
		EXPECT_THAT(text(s.stdout_file), HasSubstr(reverse ? "sent 8.0 MiB" : "received 8.0 MiB"));
		std::cout << r.output;
	}
}

TEST(LibTools, ExampleClientTalksToExampleServer)
{
	auto server = program("examples/ktlsaccel-example-server");
	auto client = program("examples/ktlsaccel-example-client");
	if (!fs::exists(server) || !fs::exists(client))
		GTEST_SKIP() << "examples are not built";
	const auto &k = test_pki();
	auto port = std::to_string(free_port());
	process::spec s;
	s.argv = {server, port, k.cert, k.key};
	s.stdout_file = scratch_dir() / "example-server.out";
	s.stderr_file = scratch_dir() / "example-server.err";
	process srv(s);
	/* the server prints nothing until a client comes: probe its port */
	auto r = run("for i in $(seq 100); do " + client.string() + " localhost " + port + " " +
		     k.ca.string() + " 'hello, kernel TLS' && exit 0; sleep 0.1; done; exit 1");
	EXPECT_EQ(r.status, 0) << r.output << text(s.stderr_file);
	EXPECT_THAT(r.output, HasSubstr("hello, kernel TLS"));
	EXPECT_THAT(text(s.stdout_file), HasSubstr("kernel TLS: yes"));
}

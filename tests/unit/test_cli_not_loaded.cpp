// SPDX-License-Identifier: MIT
//
// Every command that talks to the module, run on a host where it is not
// loaded, prints exactly "ktlsaccel is not loaded: insmod ktlsaccel.ko" on
// stderr, nothing on stdout, and exits 1.

#include "cli.hpp"
#include "cli_fixtures.h"

#include <gtest/gtest.h>

#include <sstream>

using ktlsaccel::cli::run_cli;

namespace {

class CliNotLoaded : public testing::TestWithParam<std::vector<std::string>> {};

} // namespace

TEST_P(CliNotLoaded, PrintsTheInsmodHintAndExits1)
{
	if (ktlsaccel::testfix::module_loaded())
		GTEST_SKIP() << "ktlsaccel is loaded on this host";
	std::ostringstream out, err;
	int rc = run_cli(GetParam(), out, err);
	EXPECT_EQ(rc, 1);
	EXPECT_EQ(out.str(), "");
	EXPECT_EQ(err.str(), "ktlsaccel is not loaded: insmod ktlsaccel.ko\n");
}

INSTANTIATE_TEST_SUITE_P(
	EveryCommand, CliNotLoaded,
	testing::Values(std::vector<std::string>{"show"}, std::vector<std::string>{"-j", "show"},
			std::vector<std::string>{"show", "-p"}, std::vector<std::string>{"queues"},
			std::vector<std::string>{"flows", "-j"},
			std::vector<std::string>{"set", "queues", "4"},
			std::vector<std::string>{"fault"},
			std::vector<std::string>{"fault", "rate", "10"},
			std::vector<std::string>{"fault", "clear"}, std::vector<std::string>{"reset"},
			std::vector<std::string>{"reset", "flows"},
			std::vector<std::string>{"monitor", "--count", "1"},
			std::vector<std::string>{"top", "--iterations", "1"}));

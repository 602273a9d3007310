// SPDX-License-Identifier: MIT
//
// Argument parsing of the CLI: good values become the right requests, bad
// ones are refused before any netlink traffic with a message that quotes the
// value and names the argument, on stderr, exit status 1.

#include "args.hpp"
#include "cli.hpp"

#include <gtest/gtest.h>

#include <sstream>

using namespace ktlsaccel;
using namespace ktlsaccel::cli;

namespace {

struct Run {
	int rc;
	std::string out, err;
};

Run run(std::vector<std::string> args)
{
	std::ostringstream out, err;
	int rc = run_cli(args, out, err);
	return {rc, out.str(), err.str()};
}

} // namespace

TEST(CliArgs, NumbersAreCheckedAgainstTheirRange)
{
	EXPECT_EQ(parse_number("queues", "4", 1, 256).value(), 4u);
	EXPECT_EQ(parse_number("queues", "256", 1, 256).value(), 256u);
	auto zero = parse_number("queues", "0", 1, 256);
	ASSERT_FALSE(zero);
	EXPECT_EQ(zero.error(), "invalid value '0' for 'queues': expected a number from 1 to 256");
	EXPECT_FALSE(parse_number("queues", "257", 1, 256));
	EXPECT_FALSE(parse_number("queues", "", 1, 256));
	EXPECT_FALSE(parse_number("queues", "-1", 1, 256));
	EXPECT_FALSE(parse_number("queues", "4x", 1, 256));
	EXPECT_FALSE(parse_number("queues", " 4", 1, 256));
	EXPECT_FALSE(parse_number("queues", "99999999999999999999999", 1, 256));
}

TEST(CliArgs, SizesTakeSiAndBinarySuffixes)
{
	auto size = [](std::string_view s) { return parse_size("throughput", s, UINT64_MAX); };
	EXPECT_EQ(size("0").value(), 0u);
	EXPECT_EQ(size("4096").value(), 4096u);
	EXPECT_EQ(size("100M").value(), 100000000u);
	EXPECT_EQ(size("1G").value(), 1000000000u);
	EXPECT_EQ(size("1.5G").value(), 1500000000u);
	EXPECT_EQ(size("64k").value(), 64000u);
	EXPECT_EQ(size("64Ki").value(), 65536u);
	EXPECT_EQ(size("1GiB").value(), 1073741824u);
	EXPECT_EQ(size("100MB/s").value(), 100000000u);
	EXPECT_EQ(size("2T").value(), 2000000000000u);
	for (auto bad : {"", "G", "1X", "-1", "+5", "1.5", "abc", "1Gx", "i", "1.2.3M", "1e9"})
		EXPECT_FALSE(size(bad)) << bad;
	auto big = parse_size("inline-threshold", "5G", UINT32_MAX);
	ASSERT_FALSE(big);
	EXPECT_EQ(big.error(),
		  "invalid value '5G' for 'inline-threshold': expected a size like 4096, 64K, "
		  "100M or 1.5G (at most 4294967295)");
}

TEST(CliArgs, ChoicesListTheAlternatives)
{
	EXPECT_EQ(parse_choice("dispatch", "flow", {"spread", "flow"}).value(), 1u);
	auto two = parse_choice("dispatch", "round-robin", {"spread", "flow"});
	ASSERT_FALSE(two);
	EXPECT_EQ(two.error(), "invalid value 'round-robin' for 'dispatch': expected spread or flow");
	auto three = parse_choice("ops", "x", {"decrypt", "encrypt", "both"});
	ASSERT_FALSE(three);
	EXPECT_EQ(three.error(), "invalid value 'x' for 'ops': expected decrypt, encrypt or both");
}

TEST(CliArgs, SetCollectsEveryKey)
{
	std::vector<std::string> a{"queues", "8", "depth", "1024", "dispatch", "flow",
				   "latency-us", "50", "throughput", "1G", "inline-threshold",
				   "4K", "decrypt", "async"};
	auto c = parse_set_args(a);
	ASSERT_TRUE(c) << c.error();
	EXPECT_EQ(c->queues, 8u);
	EXPECT_EQ(c->depth, 1024u);
	EXPECT_EQ(c->dispatch, control::dispatch_policy::flow);
	EXPECT_EQ(c->latency_us, 50u);
	EXPECT_EQ(c->throughput, 1000000000u);
	EXPECT_EQ(c->inline_threshold, 4000u);
	EXPECT_EQ(c->decrypt, control::decrypt_policy::async);
}

TEST(CliArgs, SetSendsOnlyWhatIsNamed)
{
	std::vector<std::string> a{"latency-us", "0"};
	auto c = parse_set_args(a);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->latency_us, 0u);
	EXPECT_FALSE(c->queues);
	EXPECT_FALSE(c->decrypt);
}

TEST(CliArgs, SetTakesInlineModeAndBackendsAmongOtherKeys)
{
	std::vector<std::string> a{"inline", "never", "backend", "gcm(aes)", "ktlsaccel-testcard-gcm-aes",
				   "depth", "8", "backend", "ccm(aes)", "cpu",
				   "backend", "rfc7539(chacha20,poly1305)", "auto"};
	auto c = parse_set_args(a);
	ASSERT_TRUE(c) << c.error();
	EXPECT_EQ(c->inline_mode, control::inline_policy::never);
	EXPECT_EQ(c->depth, 8u);
	ASSERT_EQ(c->backends.size(), 3u);
	EXPECT_EQ(c->backends[0], (control::backend_change{"gcm(aes)", control::backend_mode::driver,
						 "ktlsaccel-testcard-gcm-aes"}));
	EXPECT_EQ(c->backends[1], (control::backend_change{"ccm(aes)", control::backend_mode::cpu, ""}));
	EXPECT_EQ(c->backends[2],
		  (control::backend_change{"rfc7539(chacha20,poly1305)", control::backend_mode::auto_, ""}));
	EXPECT_FALSE(c->queues);
}

TEST(CliArgs, SetBackendAloneIsAChange)
{
	std::vector<std::string> a{"backend", "gcm(aes)", "cryptd(gcm_base(ctr(aes-generic),ghash-generic))"};
	auto c = parse_set_args(a);
	ASSERT_TRUE(c) << c.error();
	EXPECT_FALSE(c->empty());
	ASSERT_EQ(c->backends.size(), 1u);
	EXPECT_EQ(c->backends[0].mode, control::backend_mode::driver);
	EXPECT_EQ(c->backends[0].driver, "cryptd(gcm_base(ctr(aes-generic),ghash-generic))");
	/* "driver" is the mode's name, not a driver's. */
	EXPECT_FALSE(parse_backend("gcm(aes)", "driver"));
	EXPECT_FALSE(parse_backend("gcm(aes)", ""));
	EXPECT_FALSE(parse_backend("gcm(aes)", std::string(128, 'x')));
	EXPECT_TRUE(parse_backend("gcm(aes)", std::string(127, 'x')));
}

TEST(CliArgs, FaultCollectsEveryKey)
{
	std::vector<std::string> a{"rate", "1000", "errno", "EIO", "ops", "encrypt",
				   "delay-us", "20", "stall-queue", "0"};
	auto c = parse_fault_args(a);
	ASSERT_TRUE(c) << c.error();
	EXPECT_EQ(c->rate, 1000u);
	EXPECT_EQ(c->error, static_cast<std::uint32_t>(EIO));
	EXPECT_EQ(c->ops, control::fault_ops::encrypt);
	EXPECT_EQ(c->delay_us, 20u);
	EXPECT_EQ(c->stall_queue, 0u);
}

TEST(CliArgs, ResetWords)
{
	EXPECT_EQ(parse_reset_args({}).value(), control::reset_all);
	std::vector<std::string> e{"engine"}, f{"flows"}, both{"engine", "flows"}, bad{"queues"};
	EXPECT_EQ(parse_reset_args(e).value(), control::reset_engine);
	EXPECT_EQ(parse_reset_args(f).value(), control::reset_flows);
	EXPECT_EQ(parse_reset_args(both).value(), control::reset_all);
	auto r = parse_reset_args(bad);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), "invalid value 'queues' for 'reset': expected engine, flows or all");
}

struct BadCase {
	std::vector<std::string> args;
	std::string message;
};

class CliBadArguments : public testing::TestWithParam<BadCase> {};

TEST_P(CliBadArguments, AreNamedOnStderrWithStatus1)
{
	auto r = run(GetParam().args);
	EXPECT_EQ(r.rc, 1);
	EXPECT_EQ(r.out, "");
	EXPECT_EQ(r.err, "ktlsaccel: " + GetParam().message + "\n");
}

INSTANTIATE_TEST_SUITE_P(
	Messages, CliBadArguments,
	testing::Values(
		BadCase{{"set", "queues", "abc"},
			"invalid value 'abc' for 'queues': expected a number from 1 to 256"},
		BadCase{{"set", "queues", "0"},
			"invalid value '0' for 'queues': expected a number from 1 to 256"},
		BadCase{{"set", "depth", "65537"},
			"invalid value '65537' for 'depth': expected a number from 1 to 65536"},
		BadCase{{"set", "latency-us", "10000001"},
			"invalid value '10000001' for 'latency-us': expected a number from 0 to "
			"10000000"},
		BadCase{{"set", "dispatch", "rr"},
			"invalid value 'rr' for 'dispatch': expected spread or flow"},
		BadCase{{"set", "decrypt", "sync"},
			"invalid value 'sync' for 'decrypt': expected inline or async"},
		BadCase{{"set", "throughput", "fast"},
			"invalid value 'fast' for 'throughput': expected a size like 4096, 64K, "
			"100M or 1.5G (at most 18446744073709551615)"},
		BadCase{{"set", "queues", "4", "depth"}, "missing value for 'depth'"},
		BadCase{{"set", "queues", "4", "queues", "8"}, "'queues' given more than once"},
		BadCase{{"set", "speed", "1"},
			"unknown setting 'speed': expected one of queues, depth, dispatch, "
			"latency-us, throughput, inline-threshold, decrypt, inline, backend"},
		BadCase{{"set", "inline", "always"},
			"invalid value 'always' for 'inline': expected auto or never"},
		BadCase{{"set", "backend", "aes", "cpu"},
			"invalid value 'aes' for 'backend': expected gcm(aes), "
			"rfc7539(chacha20,poly1305) or ccm(aes)"},
		BadCase{{"set", "backend", "gcm(aes)"},
			"'backend' wants an algorithm and auto, cpu or a driver name"},
		BadCase{{"set", "backend", "gcm(aes)", "my card"},
			"invalid value 'my card' for 'backend gcm(aes)': expected auto, cpu or the "
			"driver name of an asynchronous implementation"},
		BadCase{{"set", "backend", "gcm(aes)", "cpu", "backend", "gcm(aes)", "auto"},
			"'backend gcm(aes)' given more than once"},
		BadCase{{"fault", "rate", "1000001"},
			"invalid value '1000001' for 'rate': expected a number from 0 to 1000000"},
		BadCase{{"fault", "errno", "ENOMEM"},
			"invalid value 'ENOMEM' for 'errno': expected EBADMSG or EIO"},
		BadCase{{"fault", "ops", "all"},
			"invalid value 'all' for 'ops': expected decrypt, encrypt or both"},
		BadCase{{"fault", "clear", "now"},
			"'fault clear' takes no more arguments, got 'now'"},
		BadCase{{"fault", "jitter", "5"},
			"unknown fault setting 'jitter': expected one of rate, errno, ops, "
			"delay-us, stall-queue"},
		BadCase{{"reset", "queues"},
			"invalid value 'queues' for 'reset': expected engine, flows or all"},
		BadCase{{"selftest", "--alg", "aes"},
			"invalid value 'aes' for '--alg': expected gcm, ccm or chacha20-poly1305"},
		BadCase{{"selftest", "--driver", "foo-aead"},
			"cannot tell the algorithm of driver 'foo-aead': add --alg"}));

TEST(CliArgs, UnknownCommandIsNamed)
{
	auto r = run({"frobnicate"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
}

TEST(CliArgs, NoCommandIsAnError)
{
	auto r = run({});
	EXPECT_EQ(r.rc, 1);
	EXPECT_NE(r.err.find("ktlsaccel: "), std::string::npos) << r.err;
}

TEST(CliArgs, SetWithoutPairsIsAnError)
{
	auto r = run({"set"});
	EXPECT_EQ(r.rc, 1);
	EXPECT_EQ(r.err.rfind("ktlsaccel: ", 0), 0u) << r.err;
	EXPECT_EQ(r.err.find("unknown command"), std::string::npos) << r.err;
	EXPECT_NE(r.err.find("settings"), std::string::npos) << r.err;
}

TEST(CliArgs, OptionValuesAreChecked)
{
	for (auto args : {std::vector<std::string>{"top", "--interval", "abc"},
			  std::vector<std::string>{"top", "--iterations", "-1"},
			  std::vector<std::string>{"monitor", "--count", "x"},
			  std::vector<std::string>{"show", "--bogus"}}) {
		auto r = run(args);
		EXPECT_EQ(r.rc, 1) << args[0];
		EXPECT_EQ(r.err.rfind("ktlsaccel: ", 0), 0u) << r.err;
		EXPECT_EQ(r.out, "");
	}
}

TEST(CliArgs, SecondsAreFiniteAndBounded)
{
	/* CLI11's Range lets NaN through (every comparison is false), and
	 * 1e300 s overflows llround() and the clock. */
	struct Bad {
		std::vector<std::string> args;
		const char *value, *range;
	};
	for (const auto &b : {
		     Bad{{"top", "--interval", "nan"}, "nan", "from 0.05 to 3600"},
		     Bad{{"top", "-i", "inf"}, "inf", "from 0.05 to 3600"},
		     Bad{{"top", "--interval", "1e300"}, "1e300", "from 0.05 to 3600"},
		     Bad{{"top", "--interval", "0.01"}, "0.01", "from 0.05 to 3600"},
		     Bad{{"top", "--interval", "-1"}, "-1", "from 0.05 to 3600"},
		     Bad{{"top", "--interval", "1s"}, "1s", "from 0.05 to 3600"},
		     Bad{{"monitor", "--timeout", "nan"}, "nan", "from 0.001 to 86400"},
		     Bad{{"monitor", "-t", "-nan"}, "-nan", "from 0.001 to 86400"},
		     Bad{{"monitor", "--timeout", "1e20"}, "1e20", "from 0.001 to 86400"},
		     Bad{{"monitor", "--timeout", "86401"}, "86401", "from 0.001 to 86400"},
		     Bad{{"monitor", "--timeout", "0"}, "0", "from 0.001 to 86400"},
	     }) {
		auto r = run(b.args);
		EXPECT_EQ(r.rc, 1) << b.value;
		EXPECT_EQ(r.out, "");
		EXPECT_EQ(r.err.rfind("ktlsaccel: ", 0), 0u) << r.err;
		EXPECT_NE(r.err.find(std::string("invalid value '") + b.value +
				     "': expected a number of seconds " + b.range),
			  std::string::npos)
			<< r.err;
	}
	/* Values in range pass the check (and fail later, at the missing
	 * module or the extra argument, not at the option). */
	for (auto args : {std::vector<std::string>{"top", "--interval", "0.05", "extra"},
			  std::vector<std::string>{"top", "--interval", "3600", "extra"},
			  std::vector<std::string>{"monitor", "--timeout", "86400", "extra"},
			  std::vector<std::string>{"monitor", "--timeout", "1.5", "extra"}}) {
		auto r = run(args);
		EXPECT_EQ(r.rc, 1);
		EXPECT_EQ(r.err.find("expected a number of seconds"), std::string::npos) << r.err;
		EXPECT_NE(r.err.find("extra"), std::string::npos) << r.err;
	}
}

TEST(CliArgs, HelpAndVersionExit0OnStdout)
{
	auto h = run({"--help"});
	EXPECT_EQ(h.rc, 0);
	for (const auto &c : commands())
		EXPECT_NE(h.out.find(c.name), std::string::npos) << c.name;
	auto sh = run({"set", "--help"});
	EXPECT_EQ(sh.rc, 0);
	EXPECT_NE(sh.out.find("inline-threshold"), std::string::npos) << sh.out;
	auto v = run({"--version"});
	EXPECT_EQ(v.rc, 0);
	EXPECT_EQ(v.out.rfind("ktlsaccel ", 0), 0u) << v.out;
	EXPECT_EQ(v.err, "");
}

TEST(CliArgs, CommandTableIsInDispatchOrder)
{
	std::vector<std::string> names;
	for (const auto &c : commands())
		names.emplace_back(c.name);
	EXPECT_EQ(names, (std::vector<std::string>{"show", "queues", "flows", "set", "fault",
						   "reset", "monitor", "top", "selftest"}));
}

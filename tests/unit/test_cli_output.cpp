// SPDX-License-Identifier: MIT
//
// The JSON and human twins: every object the CLI prints, printed both ways
// from the same print calls, carries the same fields with the same values in
// the same order; every JSON key is an attribute name of ktlsaccel.yaml (or
// the name of an attribute set, for a list of objects); -p is -j indented.

#include "cli_fixtures.h"
#include "output.hpp"
#include "print.hpp"
#include "yaml_names.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

using namespace ktlsaccel;
using namespace ktlsaccel::cli;
using json = nlohmann::ordered_json;

namespace {

template <class F> std::string render(OutputFormat f, F print)
{
	std::ostringstream out;
	Printer p(out, f);
	print(p);
	p.end_document();
	return out.str();
}

// Both renderings; prints them when KTLSACCEL_PRINT_SAMPLES is set.
template <class F> std::pair<std::string, json> twins(const char *what, F print)
{
	std::string human = render(OutputFormat::human, print);
	std::string text = render(OutputFormat::json, print);
	if (std::getenv("KTLSACCEL_PRINT_SAMPLES"))
		std::cout << "---- " << what << " (human)\n" << human << "---- " << what
			  << " (-j)\n" << text;
	return {human, json::parse(text)};
}

void expect_keys_in_yaml(const json &j, const testfix::YamlNames &names, const std::string &path)
{
	if (j.is_array()) {
		for (const auto &e : j)
			expect_keys_in_yaml(e, names, path + "[]");
		return;
	}
	if (!j.is_object())
		return;
	for (const auto &[k, v] : j.items()) {
		bool ok = names.attributes.count(k) ||
			  (names.sets.count(k) && v.is_array());
		EXPECT_TRUE(ok) << "JSON key '" << path << k << "' is not in ktlsaccel.yaml";
		expect_keys_in_yaml(v, names, path + k + ".");
	}
}

bool is_size_key(const std::string &k)
{
	return k == "bytes" || k == "throughput" || k == "inline-threshold";
}

// What the human output must show for each JSON leaf, in order.
void expected_tokens(const json &j, std::vector<std::string> &out)
{
	for (const auto &[k, v] : j.items()) {
		if (v.is_object() || (v.is_array() && !v.empty() && v.front().is_object())) {
			expected_tokens(v, out);
		} else if (k == "latency") {
			control::stats s;
			for (std::size_t i = 0; i < s.latency.size(); i++)
				s.latency[i] = v.at(i).get<std::uint64_t>();
			out.push_back(human_us(s.p50_us()));
			out.push_back(human_us(s.p99_us()));
		} else if (v.is_number_unsigned() && is_size_key(k)) {
			auto n = v.get<std::uint64_t>();
			out.push_back(n == 0 && k == "throughput" ? "unlimited" : human_size(n));
		} else if (v.is_number_unsigned()) {
			out.push_back(std::to_string(v.get<std::uint64_t>()));
		} else if (v.is_string()) {
			out.push_back(v.get<std::string>());
		} else {
			ADD_FAILURE() << "unexpected JSON value for " << k << ": " << v;
		}
	}
}

std::vector<std::string> tokens(const std::string &s)
{
	std::istringstream in(s);
	std::vector<std::string> out;
	for (std::string t; in >> t;) {
		if (t.size() > 1 && t.back() == ':')
			t.pop_back(); /* "queue 0:" */
		out.push_back(t);
	}
	return out;
}

// Every expected token appears in the human output, in order.
void expect_same_values(const std::string &human, const json &j)
{
	std::vector<std::string> want;
	expected_tokens(j.is_array() ? json{{"x", j}} : j, want);
	auto have = tokens(human);
	std::size_t pos = 0;
	for (const auto &w : want) {
		while (pos < have.size() && have[pos] != w)
			pos++;
		ASSERT_LT(pos, have.size()) << "human output lacks '" << w << "' (in order):\n"
					    << human;
		pos++;
	}
}

void check_twins(const std::string &human, const json &j)
{
	auto names = testfix::yaml_names();
	if (names)
		expect_keys_in_yaml(j, *names, "");
	expect_same_values(human, j);
}

} // namespace

TEST(CliOutput, DeviceTwinsAgree)
{
	auto dev = testfix::sample_device();
	auto [human, j] = twins("device", [&](Printer &p) {
		p.open_object();
		print_device(p, dev);
		p.close_object();
	});
	check_twins(human, j);
	EXPECT_EQ(j["queues"], 4);
	EXPECT_EQ(j["dispatch"], "flow");
	EXPECT_EQ(j["decrypt"], "async");
	EXPECT_EQ(j["throughput"], 1000000000u);
	EXPECT_EQ(j["fault"]["errno"], "EBADMSG");
	EXPECT_EQ(j["fault"]["stall-queue"], 2);
	EXPECT_EQ(j["stats"]["max-in-flight"], 42);
	EXPECT_EQ(j["stats"]["latency"].size(), control::latency_buckets);
	EXPECT_EQ(j["inline"], "never");
	EXPECT_EQ(j["stats"]["inline-waiter"], 20);
	EXPECT_EQ(j["stats"]["inline-lone"], 12);
	EXPECT_EQ(j["stats"]["inline-full"], 8);
	EXPECT_EQ(j["stats"]["inline-policy"], 4);
	EXPECT_EQ(j["stats"]["held"], 36);
	ASSERT_EQ(j["backend"].size(), 3u);
	EXPECT_EQ(j["backend"][0]["alg"], "gcm(aes)");
	EXPECT_EQ(j["backend"][0]["mode"], "auto");
	EXPECT_EQ(j["backend"][0]["driver"], "ktlsaccel-testcard-gcm-aes");
	EXPECT_EQ(j["backend"][1]["mode"], "cpu");
	EXPECT_FALSE(j["backend"][1].contains("driver")) << "the CPU has no driver";
	EXPECT_EQ(j["backend"][2]["mode"], "driver");
	EXPECT_NE(human.find("inline never"), std::string::npos) << human;
	EXPECT_NE(human.find("backend alg gcm(aes) mode auto driver ktlsaccel-testcard-gcm-aes\n"),
		  std::string::npos) << human;
	EXPECT_NE(human.find("backend alg rfc7539(chacha20,poly1305) mode cpu\n"), std::string::npos)
		<< human;
	EXPECT_NE(human.find("inline-waiter 20 inline-lone 12 inline-full 8 inline-policy 4 held 36"),
		  std::string::npos) << human;
	EXPECT_NE(human.find("latency-us 20"), std::string::npos) << human;
	EXPECT_NE(human.find("throughput 1.00G"), std::string::npos) << human;
	EXPECT_NE(human.find("stall-queue 2"), std::string::npos) << human;
}

TEST(CliOutput, HumanKeysAreTheJsonKeys)
{
	auto dev = testfix::sample_device();
	auto [human, j] = twins("device", [&](Printer &p) { print_device(p, dev); });
	/* Every attribute-named word of the human output is a JSON key. */
	auto names = testfix::yaml_names();
	if (!names)
		GTEST_SKIP() << "built without yaml-cpp";
	std::set<std::string> json_keys, leaf_keys;
	std::function<void(const json &)> walk = [&](const json &x) {
		for (const auto &[k, v] : x.items()) {
			json_keys.insert(k);
			if (v.is_object())
				walk(v);
			else if (v.is_array() && !v.empty() && v.front().is_object())
				for (const auto &e : v)
					walk(e);
			else
				leaf_keys.insert(k);
		}
	};
	walk(j);
	for (const auto &t : tokens(human)) {
		if (names->attributes.count(t)) {
			EXPECT_TRUE(json_keys.count(t)) << t;
		}
	}
	/* And every field of the JSON is labelled with its key for people. */
	auto words = tokens(human);
	for (const auto &k : leaf_keys)
		EXPECT_NE(std::find(words.begin(), words.end(), k), words.end()) << k;
}

TEST(CliOutput, NoStallQueueIsAbsentInJsonAndNoneForPeople)
{
	auto dev = testfix::sample_device();
	dev.fault = {};
	dev.throughput = 0;
	auto [human, j] = twins("device without faults", [&](Printer &p) { print_device(p, dev); });
	EXPECT_FALSE(j["fault"].contains("stall-queue"));
	EXPECT_EQ(j["fault"]["errno"], "none");
	EXPECT_EQ(j["throughput"], 0);
	EXPECT_NE(human.find("stall-queue none"), std::string::npos) << human;
	EXPECT_NE(human.find("throughput unlimited"), std::string::npos) << human;
}

TEST(CliOutput, ShowTwinsAgree)
{
	auto dev = testfix::sample_device();
	auto queues = testfix::sample_queues();
	auto [human, j] = twins("show", [&](Printer &p) {
		p.open_object();
		print_device(p, dev);
		p.print_nl();
		print_queue_table(p, "queue", queues);
		p.close_object();
	});
	check_twins(human, j);
	ASSERT_EQ(j["queue"].size(), 4u);
	EXPECT_EQ(j["queue"][2]["backlog"], 5);
	EXPECT_EQ(j["queue"][3]["index"], 3);
}

TEST(CliOutput, QueuesTwinsAgree)
{
	auto queues = testfix::sample_queues();
	auto [human, j] = twins("queues", [&](Printer &p) {
		p.open_array();
		for (const auto &q : queues)
			print_queue(p, q);
		p.close_array();
	});
	check_twins(human, j);
	ASSERT_TRUE(j.is_array());
	ASSERT_EQ(j.size(), 4u);
	EXPECT_EQ(j[1]["ring"], 2);
	EXPECT_EQ(j[1]["stats"]["submitted"], 1003);
}

TEST(CliOutput, FlowsTwinsAgree)
{
	auto flows = testfix::sample_flows();
	auto [human, j] = twins("flows", [&](Printer &p) { print_flow_table(p, flows); });
	check_twins(human, j);
	ASSERT_EQ(j.size(), 2u);
	EXPECT_EQ(j[0]["comm"], "curl");
	EXPECT_EQ(j[0]["direction"], "tx");
	EXPECT_EQ(j[1]["alg"], "rfc7539(chacha20,poly1305)");
	EXPECT_EQ(j[1]["key-bits"], 256);
	EXPECT_EQ(j[1]["stats"]["max-in-flight"], 42);
	EXPECT_EQ(j[0]["backend"], "ktlsaccel-testcard-gcm-aes");
	EXPECT_EQ(j[1]["backend"], "cpu");
	EXPECT_NE(human.find(" backend "), std::string::npos) << "a backend column:\n" << human;
	/* A module that does not report it: no key, a dash for people. */
	flows[1].backend.clear();
	auto [human2, j2] = twins("flows", [&](Printer &p) { print_flow_table(p, flows); });
	EXPECT_FALSE(j2[1].contains("backend"));
	EXPECT_TRUE(j2[0].contains("backend"));
}

TEST(CliOutput, EmptyListsAreEmptyArrays)
{
	auto [human, j] = twins("no flows", [&](Printer &p) { print_flow_table(p, {}); });
	EXPECT_TRUE(j.is_array());
	EXPECT_TRUE(j.empty());
}

TEST(CliOutput, PrettyIsIndentedJson)
{
	auto dev = testfix::sample_device();
	auto print = [&](Printer &p) { print_device(p, dev); };
	std::string compact = render(OutputFormat::json, print);
	std::string pretty = render(OutputFormat::json_pretty, print);
	EXPECT_EQ(std::count(compact.begin(), compact.end(), '\n'), 1);
	EXPECT_GT(std::count(pretty.begin(), pretty.end(), '\n'), 10);
	EXPECT_EQ(json::parse(compact), json::parse(pretty));
}

TEST(CliOutput, HumanSizes)
{
	EXPECT_EQ(human_size(0), "0");
	EXPECT_EQ(human_size(999), "999");
	EXPECT_EQ(human_size(1000), "1.00K");
	EXPECT_EQ(human_size(65536), "65.5K");
	EXPECT_EQ(human_size(16384000), "16.4M");
	EXPECT_EQ(human_size(999999999), "1.00G");
	EXPECT_EQ(human_size(1000000000), "1.00G");
	EXPECT_EQ(human_size(123456789012), "123G");
	EXPECT_EQ(human_us(std::nullopt), "-");
	EXPECT_EQ(human_us(12.4), "12us");
	EXPECT_EQ(human_us(1500), "1.5ms");
	EXPECT_EQ(human_us(2500000), "2.50s");
}

TEST(CliOutput, TopFrameShowsRatesOfTheInterval)
{
	TopSample before{std::chrono::steady_clock::time_point{}, testfix::sample_queues()};
	TopSample now = before;
	now.when += std::chrono::seconds(2);
	for (auto &q : now.queues) {
		q.stats.completed += 2000;	 /* 1000 records/s */
		q.stats.bytes += 32000000;	 /* 16 MB/s */
		q.stats.latency[5] += 2000;	 /* all in [32, 64) us */
		q.stats.in_flight = 7;
	}
	now.queues.pop_back(); /* a queue that went away is not shown */
	auto [human, j] = twins("top", [&](Printer &p) { print_top_frame(p, before, now); });
	ASSERT_EQ(j["queue"].size(), 3u);
	for (const auto &q : j["queue"]) {
		EXPECT_DOUBLE_EQ(q["records-per-s"].get<double>(), 1000.0);
		EXPECT_DOUBLE_EQ(q["mb-per-s"].get<double>(), 16.0);
		EXPECT_EQ(q["in-flight"], 7);
		EXPECT_DOUBLE_EQ(q["p50-us"].get<double>(), 48.0);
		EXPECT_LT(q["p99-us"].get<double>(), 64.0);
	}
	EXPECT_NE(human.find("1000"), std::string::npos) << human;
	EXPECT_NE(human.find("16.0"), std::string::npos) << human;
	EXPECT_NE(human.find("48us"), std::string::npos) << human;
}

TEST(CliOutput, TopFrameWithoutCompletionsHasNoPercentiles)
{
	TopSample s{std::chrono::steady_clock::time_point{}, testfix::sample_queues()};
	TopSample later = s;
	later.when += std::chrono::seconds(1);
	auto [human, j] = twins("idle top", [&](Printer &p) { print_top_frame(p, s, later); });
	EXPECT_FALSE(j["queue"][0].contains("p50-us"));
	EXPECT_EQ(j["queue"][0]["records-per-s"], 0.0);
}

TEST(CliOutput, CommThatIsNotUtf8StillGivesValidJson)
{
	/* A task names itself with any bytes (prctl PR_SET_NAME), and the
	 * kernel cuts the name at 15 bytes, through a multibyte character. */
	auto flows = testfix::sample_flows();
	flows[0].comm = "caf\xc3";			/* "café" cut after one byte */
	flows[1].comm = "x\xff\xfe\x1b[2Jy";		/* not UTF-8, an escape sequence */
	for (auto f : {OutputFormat::json, OutputFormat::json_pretty}) {
		std::string text;
		ASSERT_NO_THROW(text = render(f, [&](Printer &p) { print_flow_table(p, flows); }));
		json j;
		ASSERT_NO_THROW(j = json::parse(text)) << text;
		ASSERT_EQ(j.size(), 2u);
		EXPECT_EQ(j[0]["comm"], "caf\xef\xbf\xbd");	/* U+FFFD */
		auto comm1 = j[1]["comm"].get<std::string>();
		EXPECT_TRUE(comm1.starts_with("x\xef\xbf\xbd")) << comm1;
		EXPECT_TRUE(comm1.ends_with("\x1b[2Jy")) << comm1;	/* escaped by JSON */
		EXPECT_NE(text.find("\\u001b"), std::string::npos) << text;
	}
	/* People see '?' for what is not printable, the terminal nothing raw. */
	std::string human = render(OutputFormat::human,
				   [&](Printer &p) { print_flow_table(p, flows); });
	EXPECT_NE(human.find(" caf? "), std::string::npos) << human;
	EXPECT_NE(human.find(" x???[2Jy "), std::string::npos) << human;
	EXPECT_EQ(human.find('\x1b'), std::string::npos);
	EXPECT_EQ(human.find('\xff'), std::string::npos);
}

TEST(CliOutput, PrintableKeepsUtf8AndReplacesTheRest)
{
	EXPECT_EQ(printable("curl"), "curl");
	EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"),
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");
	EXPECT_EQ(printable("a\tb\nc\x7f"), "a?b?c?");
	EXPECT_EQ(printable("\xc2\x9b" "1m"), "?1m");		/* C1 CSI */
	EXPECT_EQ(printable("\xc0\xaf"), "??");		/* overlong '/' */
	EXPECT_EQ(printable("\xed\xa0\x80"), "???");		/* a surrogate */
	EXPECT_EQ(printable("\xf4\x90\x80\x80"), "????");	/* past U+10FFFF */
	EXPECT_EQ(printable("\xe2\x82"), "??");
	EXPECT_EQ(printable(""), "");
}

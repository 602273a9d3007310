// SPDX-License-Identifier: MIT
//
// The ktlsaccel CLI against the loaded module with kTLS traffic flowing
// through it: every command's human output and JSON (checked field by field,
// not as strings), `set` round-tripping through `show`, `monitor` receiving
// the notification of a `set`, fault injection set, shown and cleared,
// resets, `top` as plain lines off a terminal, the selftest through AF_ALG,
// an unprivileged user who may read but not change, and the not-loaded
// message after rmmod.

#include "control_util.h"
#include "ktls_util.h"
#include "module_util.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <latch>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

using namespace ktlsaccel::vmtest;
using json = nlohmann::json;

namespace {

// kTLS transfers on a loopback pair until destroyed: one TX and one RX flow.
class Traffic {
public:
	explicit Traffic(Cipher cipher = Cipher::aes_128_gcm)
	{
		run("modprobe tls");
		pair_ = tcp_loopback_pair();
		auto info = random_crypto_info(cipher, TlsVersion::tls13);
		ok_ = ktls_install(pair_.a.get(), TLS_TX, info) == 0 &&
		      ktls_install(pair_.b.get(), TLS_RX, info) == 0;
		if (!ok_)
			return;
		thread_ = std::thread([this] {
			auto data = random_bytes(1 << 20);
			while (!stop_) {
				int rx_errno = 0;
				auto got = ktls_transfer(pair_.a.get(), pair_.b.get(), data, 64 << 10,
							 &rx_errno);
				if (got.size() != data.size() || rx_errno)
					failed_ = true;
				rounds_++;
			}
		});
		/* Let some records through before anyone looks. */
		while (ok_ && rounds_ < 2)
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	~Traffic()
	{
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
	}
	bool ok() const { return ok_ && !failed_; }

private:
	TcpPair pair_;
	std::thread thread_;
	std::atomic<bool> stop_{false}, failed_{false};
	std::atomic<int> rounds_{0};
	bool ok_ = false;
};

json run_json(const std::string &args)
{
	auto r = run(cli() + " " + args + " 2>/dev/null");
	EXPECT_EQ(r.status, 0) << args << "\n" << r.output;
	try {
		return json::parse(r.output);
	} catch (const std::exception &e) {
		ADD_FAILURE() << args << ": not JSON: " << e.what() << "\n" << r.output;
		return json();
	}
}

// stderr only, and the exit status.
command_result run_err(const std::string &command)
{
	return run(command + " 2>&1 >/dev/null");
}

const std::set<std::string> kStatsKeys = {
	"submitted", "completed", "errors", "backlogged", "rejected", "inlined",
	"faults", "bytes", "in-flight", "max-in-flight", "latency",
	"inline-waiter", "inline-lone", "inline-full", "inline-policy", "held"};

void expect_stats(const json &s, const std::string &where)
{
	ASSERT_TRUE(s.is_object()) << where;
	for (const auto &k : kStatsKeys)
		EXPECT_TRUE(s.contains(k)) << where << " lacks " << k;
	for (const auto &[k, v] : s.items()) {
		EXPECT_TRUE(kStatsKeys.count(k)) << where << ": unexpected key " << k;
		if (k != "latency") {
			EXPECT_TRUE(v.is_number_unsigned()) << where << "." << k << " = " << v;
		}
	}
	ASSERT_TRUE(s["latency"].is_array());
	EXPECT_EQ(s["latency"].size(), 24u);
	/* submitted = completed + errors + in_flight, give or take racing */
	EXPECT_GE(s["submitted"].get<std::uint64_t>() + 64,
		  s["completed"].get<std::uint64_t>() + s["errors"].get<std::uint64_t>());
	EXPECT_LE(s["in-flight"].get<std::uint64_t>(), s["max-in-flight"].get<std::uint64_t>() + 64);
}

class ControlCli : public testing::Test {
protected:
	/* One load for the suite: each load runs the kernel's self-tests. */
	static void SetUpTestSuite() { module_.emplace(); }
	static void TearDownTestSuite() { module_.reset(); }

	void SetUp() override { saved_ = saved_config(); }
	void TearDown() override
	{
		if (saved_)
			restore_config(*saved_);
	}
	static inline std::optional<loaded_module> module_;
	std::optional<ktlsaccel::control::device_info> saved_;
};

} // namespace

TEST_F(ControlCli, ShowHumanAndJsonDuringTraffic)
{
	Traffic t;
	ASSERT_TRUE(t.ok());
	auto human = check_output(cli() + " show");
	std::printf("ktlsaccel show during a transfer:\n%s\n", human.c_str());
	RecordProperty("show", human);
	for (auto word : {"priority", "queues", "depth", "dispatch", "latency-us", "throughput",
			  "inline-threshold", "decrypt", "fault", "submitted", "completed",
			  "in-flight", "p50", "p99", "queue"})
		EXPECT_NE(human.find(word), std::string::npos) << word;

	auto j = run_json("-j show");
	for (auto k : {"priority", "queues", "depth", "latency-us", "throughput", "inline-threshold",
		       "flows"})
		EXPECT_TRUE(j[k].is_number_unsigned()) << k;
	EXPECT_TRUE(j["dispatch"] == "spread" || j["dispatch"] == "flow");
	EXPECT_TRUE(j["decrypt"] == "inline" || j["decrypt"] == "async");
	EXPECT_GE(j["flows"].get<int>(), 2);
	ASSERT_TRUE(j["fault"].is_object());
	expect_stats(j["stats"], "stats");
	EXPECT_GT(j["stats"]["completed"].get<std::uint64_t>(), 0u);
	EXPECT_GT(j["stats"]["bytes"].get<std::uint64_t>(), 0u);
	ASSERT_TRUE(j["queue"].is_array());
	EXPECT_EQ(j["queue"].size(), j["queues"].get<std::size_t>());

	auto pretty = run_json("show -p");
	EXPECT_EQ(pretty["queues"], j["queues"]);
}

TEST_F(ControlCli, QueuesJsonHasEveryQueueAndCounter)
{
	Traffic t;
	ASSERT_TRUE(t.ok());
	EXPECT_NE(check_output(cli() + " queues").find("queue 0:"), std::string::npos);
	auto dev = run_json("-j show");
	auto q = run_json("-j queues");
	ASSERT_TRUE(q.is_array());
	ASSERT_EQ(q.size(), dev["queues"].get<std::size_t>());
	std::uint64_t completed = 0;
	for (std::size_t i = 0; i < q.size(); i++) {
		EXPECT_EQ(q[i]["index"], i);
		EXPECT_TRUE(q[i]["ring"].is_number_unsigned());
		EXPECT_TRUE(q[i]["backlog"].is_number_unsigned());
		expect_stats(q[i]["stats"], "queue " + std::to_string(i));
		completed += q[i]["stats"]["completed"].get<std::uint64_t>();
	}
	EXPECT_GT(completed, 0u);
}

TEST_F(ControlCli, FlowsShowOurTxAndRxSockets)
{
	Traffic t;
	ASSERT_TRUE(t.ok());
	auto human = check_output(cli() + " flows");
	EXPECT_NE(human.find("gcm(aes)"), std::string::npos) << human;
	auto f = run_json("flows -j");
	ASSERT_TRUE(f.is_array());
	std::set<std::string> dirs;
	for (const auto &flow : f) {
		for (auto k : {"id", "pid", "comm", "alg", "key-bits", "direction", "stats"})
			EXPECT_TRUE(flow.contains(k)) << k;
		if (flow["pid"] != getpid())
			continue;
		EXPECT_EQ(flow["alg"], "gcm(aes)");
		EXPECT_EQ(flow["key-bits"], 128);
		dirs.insert(flow["direction"].get<std::string>());
		EXPECT_TRUE(flow["stats"]["bytes"].is_number_unsigned());
	}
	EXPECT_TRUE(dirs.count("tx")) << f.dump();
	EXPECT_TRUE(dirs.count("rx")) << f.dump();
}

TEST_F(ControlCli, SetRoundTripsThroughShowWhileRecordsFlow)
{
	Traffic t;
	ASSERT_TRUE(t.ok());
	check_output(cli() + " set queues 3 depth 128 dispatch flow latency-us 5 throughput 2G "
			     "inline-threshold 512 decrypt async");
	auto j = run_json("-j show");
	EXPECT_EQ(j["queues"], 3);
	EXPECT_EQ(j["depth"], 128);
	EXPECT_EQ(j["dispatch"], "flow");
	EXPECT_EQ(j["latency-us"], 5);
	EXPECT_EQ(j["throughput"], 2000000000ull);
	EXPECT_EQ(j["inline-threshold"], 512);
	EXPECT_EQ(j["decrypt"], "async");
	EXPECT_EQ(j["queue"].size(), 3u);
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	EXPECT_TRUE(t.ok()) << "the transfer broke across the reconfiguration";
}

TEST_F(ControlCli, KernelRejectionPrintsTheExtackMessage)
{
	/* stall-queue passes the CLI's own check; the kernel knows there are
	 * only 4 queues. */
	check_output(cli() + " set queues 4");
	auto r = run_err(cli() + " fault stall-queue 200");
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.output.rfind("ktlsaccel: ", 0), 0u) << r.output;
	EXPECT_NE(r.output.find("Invalid argument"), std::string::npos) << r.output;
	EXPECT_GT(r.output.size(), std::string("ktlsaccel: Invalid argument\n").size())
		<< "no extack text: " << r.output;
}

TEST_F(ControlCli, MonitorReceivesTheNotificationOfASet)
{
	auto mon = std::async(std::launch::async, [] {
		return run(cli() + " -j monitor --count 1 --timeout 10 2>&1");
	});
	/*
	 * The monitor may take a while to start and join the group under
	 * emulation: keep changing the setting until it has seen one change.
	 */
	for (int i = 0; i < 20; i++) {
		check_output(cli() + " set latency-us 7");
		if (mon.wait_for(std::chrono::milliseconds(500)) == std::future_status::ready)
			break;
	}
	auto r = mon.get();
	ASSERT_EQ(r.status, 0) << r.output;
	auto j = json::parse(r.output);
	EXPECT_EQ(j["latency-us"], 7);
	expect_stats(j["stats"], "notification stats");

	/* fault set and clear notify too; human form */
	auto mon2 = std::async(std::launch::async, [] {
		return run(cli() + " monitor --count 2 --timeout 10");
	});
	/*
	 * Same here: set and clear until the monitor has seen two changes. Once
	 * it listens, any two in a row are one set and one clear.
	 */
	for (int i = 0; i < 20; i++) {
		check_output(cli() + " fault delay-us 3");
		check_output(cli() + " fault clear");
		if (mon2.wait_for(std::chrono::milliseconds(500)) == std::future_status::ready)
			break;
	}
	auto r2 = mon2.get();
	ASSERT_EQ(r2.status, 0) << r2.output;
	EXPECT_NE(r2.output.find("delay-us 3"), std::string::npos) << r2.output;
	EXPECT_NE(r2.output.find("delay-us 0"), std::string::npos) << r2.output;
}

TEST_F(ControlCli, MonitorTimesOutWithStatus1)
{
	auto r = run_err(cli() + " monitor --timeout 0.3");
	EXPECT_EQ(r.status, 1);
	EXPECT_NE(r.output.find("no configuration change within 0.3 s"), std::string::npos)
		<< r.output;
}

TEST_F(ControlCli, FaultSetShowClear)
{
	check_output(cli() + " fault rate 1000 errno EIO ops encrypt delay-us 3");
	auto j = run_json("-j fault");
	EXPECT_EQ(j["fault"]["rate"], 1000);
	EXPECT_EQ(j["fault"]["errno"], "EIO");
	EXPECT_EQ(j["fault"]["ops"], "encrypt");
	EXPECT_EQ(j["fault"]["delay-us"], 3);
	EXPECT_FALSE(j["fault"].contains("stall-queue"));
	EXPECT_NE(check_output(cli() + " fault").find("rate 1000 errno EIO"), std::string::npos);
	/* The engine itself took the meaning, not just the number. */
	const bytes key(16, 1), iv(12, 2), aad(13, 3), pt(64, 4);
	auto encrypt_result = [&] {
		aead a("ktlsaccel-gcm-aes");
		bytes out;
		EXPECT_EQ(a.setkey(key), 0);
		return a.encrypt(iv, aad, pt, 16, out);
	};
	check_output(cli() + " fault rate 1000000");
	EXPECT_EQ(encrypt_result(), -EIO) << "every encryption fails, with EIO";
	check_output(cli() + " fault ops decrypt");
	EXPECT_EQ(run_json("-j fault")["fault"]["ops"], "decrypt");
	EXPECT_EQ(encrypt_result(), 0) << "faults of decryptions only";
	check_output(cli() + " fault clear");
	j = run_json("-j fault");
	EXPECT_EQ(j["fault"]["rate"], 0);
	EXPECT_EQ(j["fault"]["delay-us"], 0);
	EXPECT_EQ(j["fault"]["ops"], "decrypt");
}

/*
 * One AF_ALG AES-GCM tfm (a flow of its own): a first request completes, a
 * second is held on stalled queue 0 until released.
 */
class HeldRequest {
public:
	HeldRequest()
	{
		check_output(cli() + " set queues 1 inline never");
		thread_ = std::thread([this] {
			const bytes key(16, 1), iv(12, 2), aad(13, 3), pt(64, 4);
			const bytes want = openssl_gcm_encrypt(key, iv, aad, pt);
			std::optional<aead> a;
			bytes out;
			bool ok = false;
			try {
				a.emplace("ktlsaccel-gcm-aes");
				ok = a->setkey(key) == 0 && a->encrypt(iv, aad, pt, 16, out) == 0 &&
				     out == want;
			} catch (const std::exception &) {
			}
			first_done_.count_down();
			stalled_.wait();
			ok = ok && a->encrypt(iv, aad, pt, 16, out) == 0 && out == want;
			result_ = ok ? 0 : -1;
		});
		first_done_.wait();
		run(cli() + " fault stall-queue 0");
		stalled_.count_down();
	}
	~HeldRequest() { release(); }
	/* Lets the request complete; its result: 0 when it was right. */
	int release()
	{
		if (thread_.joinable()) {
			run(cli() + " fault clear");
			thread_.join();
		}
		return result_;
	}

private:
	std::thread thread_;
	std::latch first_done_{1}, stalled_{1};
	std::atomic<int> result_{1};
};

/* A flow's or the engine's stats, waiting until @pred holds (5 s at most). */
template <typename Pred>
json wait_json(const std::string &args, Pred pred)
{
	json j;
	for (int i = 0; i < 500; i++) {
		j = run_json(args);
		if (pred(j))
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return j;
}

json held_flow(const json &flows)
{
	for (const auto &f : flows)
		if (f["stats"]["in-flight"] == 1)
			return f;
	return json();
}

TEST_F(ControlCli, ResetZeroesCountersButNotGauges)
{
	{
		Traffic t;
		ASSERT_TRUE(t.ok());
	}
	ASSERT_GT(run_json("-j show")["stats"]["completed"].get<std::uint64_t>(), 0u);
	HeldRequest held;
	auto before = wait_json("-j show", [](const json &j) { return j["stats"]["in-flight"] == 1; });
	ASSERT_EQ(before["stats"]["in-flight"], 1) << before.dump();

	/* The engine's counters go to zero; in flight stays, the peak restarts from it. */
	check_output(cli() + " reset engine");
	auto after = run_json("-j show");
	EXPECT_EQ(after["stats"]["completed"], 0);
	EXPECT_EQ(after["stats"]["submitted"], 0);
	EXPECT_EQ(after["stats"]["bytes"], 0);
	EXPECT_EQ(after["stats"]["in-flight"], 1);
	EXPECT_EQ(after["stats"]["max-in-flight"], 1);
	for (const auto &q : run_json("-j queues")) {
		EXPECT_EQ(q["stats"]["completed"], 0);
		EXPECT_EQ(q["stats"]["in-flight"], 1);
	}
	/* ... and the flows' are not theirs to reset. */
	auto flow = held_flow(run_json("-j flows"));
	ASSERT_TRUE(flow.is_object()) << "no flow with the held request";
	EXPECT_EQ(flow["stats"]["completed"], 1);
	EXPECT_GT(flow["stats"]["bytes"].get<std::uint64_t>(), 0u);

	check_output(cli() + " reset flows");
	flow = held_flow(run_json("-j flows"));
	ASSERT_TRUE(flow.is_object()) << "the held request's flow lost its in-flight count";
	EXPECT_EQ(flow["stats"]["bytes"], 0);
	EXPECT_EQ(flow["stats"]["completed"], 0);
	EXPECT_EQ(flow["stats"]["max-in-flight"], 1);

	EXPECT_EQ(held.release(), 0) << "the held request failed or gave a wrong result";
	auto done = wait_json("-j show", [](const json &j) { return j["stats"]["in-flight"] == 0; });
	EXPECT_EQ(done["stats"]["completed"], 1);
	EXPECT_EQ(done["stats"]["in-flight"], 0);

	check_output(cli() + " reset");
	auto all = run_json("-j show");
	EXPECT_EQ(all["stats"]["completed"], 0);
	EXPECT_EQ(all["stats"]["max-in-flight"], 0);
}

TEST_F(ControlCli, TopPrintsPlainFramesOffATerminal)
{
	Traffic t;
	ASSERT_TRUE(t.ok());
	auto out = check_output(cli() + " top --interval 0.2 --iterations 2");
	EXPECT_EQ(out.find('\033'), std::string::npos) << "escape codes in a pipe";
	std::size_t frames = 0;
	for (auto p = out.find("records/s"); p != std::string::npos; p = out.find("records/s", p + 1))
		frames++;
	EXPECT_EQ(frames, 2u) << out;

	auto r = run(cli() + " -j top --interval 0.2 --iterations 2 2>/dev/null");
	ASSERT_EQ(r.status, 0);
	std::istringstream lines(r.output);
	double total = 0;
	int n = 0;
	for (std::string line; std::getline(lines, line); n++) {
		auto j = json::parse(line);
		for (const auto &q : j["queue"]) {
			EXPECT_TRUE(q.contains("index") && q.contains("records-per-s") &&
				    q.contains("mb-per-s") && q.contains("in-flight"));
			total += q["records-per-s"].get<double>();
		}
	}
	EXPECT_EQ(n, 2);
	EXPECT_GT(total, 0.0) << r.output;
}

TEST_F(ControlCli, SelftestPassesForEveryDriver)
{
	auto r = run(cli() + " selftest");
	EXPECT_EQ(r.status, 0) << r.output;
	std::printf("%s", r.output.c_str());
	auto j = run_json("-j selftest");
	ASSERT_EQ(j.size(), 3u);
	for (const auto &a : j) {
		EXPECT_EQ(a["result"], "ok") << a.dump();
		EXPECT_GT(a["passed"].get<int>(), 0) << a.dump();
		EXPECT_EQ(a["failed"], 0) << a.dump();
	}
	/* The kernel's generic GCM answers the same vectors. */
	auto generic = run(cli() + " selftest --driver 'gcm_base(ctr(aes-generic),ghash-generic)'");
	EXPECT_EQ(generic.status, 0) << generic.output;
}

TEST_F(ControlCli, UnprivilegedUserReadsButCannotChange)
{
	Traffic t;
	ASSERT_TRUE(t.ok());
	for (auto read : {" show", " -j queues", " flows", " fault"}) {
		auto r = run(as_nobody(cli() + read));
		EXPECT_EQ(r.status, 0) << read << ": " << r.output;
	}
	for (auto change : {" set queues 2", " fault rate 5", " fault clear", " reset"}) {
		auto r = run_err(as_nobody(cli() + change));
		EXPECT_EQ(r.status, 1) << change;
		EXPECT_NE(r.output.find("CAP_NET_ADMIN"), std::string::npos) << change << ": " << r.output;
	}
	/* Anyone may listen for changes. */
	auto r = run_err(as_nobody(cli() + " monitor --timeout 0.2"));
	EXPECT_NE(r.output.find("no configuration change"), std::string::npos) << r.output;
}

TEST(ControlCliNotLoaded, SaysInsmodAfterRmmod)
{
	ASSERT_FALSE(module_loaded()) << "a previous test left ktlsaccel loaded";
	for (auto cmd : {" show", " -j queues", " set queues 2", " monitor --count 1"}) {
		auto r = run_err(cli() + cmd);
		EXPECT_EQ(r.status, 1) << cmd;
		EXPECT_EQ(r.output, "ktlsaccel is not loaded: insmod ktlsaccel.ko\n") << cmd;
	}
	auto r = run(cli() + " selftest --alg gcm");
	EXPECT_EQ(r.status, 1);
	EXPECT_NE(r.output.find("driver 'ktlsaccel-gcm-aes' is not available"), std::string::npos)
		<< r.output;
}

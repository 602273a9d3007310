// SPDX-License-Identifier: MIT
//
// `ktlsaccel-bench run`: the matrix, inside one guest boot. Configurations
// are interleaved: every repetition visits all of them (a, b unloaded;
// c, d, e, defaults with ktlsaccel.ko loaded; card with only the test card
// loaded; engine+card with both), in alternating order, so that load on the
// host and TCG's drift affect every configuration alike.
#include "bench.hpp"
#include "workloads.hpp"

#include <ktlsaccel/control.hpp>
#include <testsupport/module.hpp>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace fs = std::filesystem;
using nlohmann::json;

namespace ktlsaccel::bench {

namespace {

// What ktlsaccel.ko was loaded as: which file (config e may load another
// build), and whether its run-time knobs were changed since ("knobs:" c
// and d set all of theirs), were left alone ("defaults:") or extra
// parameters were set ("e:"). "" when not loaded.
std::string engine_tag;
// The test card's load parameters; "" when not loaded.
std::string card_params;
bool card_is_loaded = false;

const char *const card_name = "ktlsaccel_test_card";
const fs::path card_stats_path = "/sys/kernel/debug/ktlsaccel_test_card/stats";

void unload_module()
{
	if (!testsupport::unload_module())
		throw std::runtime_error("cannot unload ktlsaccel");
	engine_tag.clear();
}

// c and d set every knob they depend on, so a module left as loaded
// (defaults) serves them without a reload; everything else needs exactly
// its own state.
void load_module(const fs::path &ko, const std::string &tag)
{
	if (testsupport::module_loaded() &&
	    (engine_tag == tag || (tag == "knobs:" + ko.string() && engine_tag == "defaults:" + ko.string()))) {
		engine_tag = tag;
		return;
	}
	unload_module();
	testsupport::load_module(ko);
	engine_tag = tag;
}

/*
 * The test card is loaded like insmod does; its algorithms are ready when
 * /proc/crypto lists every "ktlsaccel-testcard-*" driver as tested.
 */
void wait_for_card_selftests()
{
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(300);
	for (;;) {
		std::istringstream in(testsupport::read_file("/proc/crypto"));
		std::map<std::string, bool> passed;	// driver -> tested, not larval
		std::string line, driver;
		bool larval = false, ok = false;
		auto flush = [&] {
			if (driver.rfind("ktlsaccel-testcard-", 0) == 0) {
				auto &p = passed.try_emplace(driver, true).first->second;
				p = p && ok && !larval;
			}
			driver.clear();
			larval = ok = false;
		};
		while (std::getline(in, line)) {
			if (line.empty()) {
				flush();
				continue;
			}
			auto colon = line.find(':');
			std::string k = line.substr(0, line.find_first_of(" \t:"));
			std::string v = colon == line.npos ? "" : line.substr(line.find_first_not_of(' ', colon + 1));
			if (k == "driver")
				driver = v;
			else if (k == "selftest")
				ok = v == "passed";
			else if (k == "type")
				larval = larval || v == "larval";
			if (line.find("larval") != line.npos)
				larval = true;
		}
		flush();
		bool done = !passed.empty();
		for (const auto &[d, p] : passed)
			done = done && p;
		if (done)
			return;
		if (std::chrono::steady_clock::now() > until)
			throw std::runtime_error("the test card's algorithms did not pass their self-tests:\n" +
						 testsupport::read_file("/proc/crypto"));
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
}

void unload_card()
{
	if (!card_is_loaded && !fs::exists(fs::path("/sys/module") / card_name))
		return;
	// ktlsaccel may hold the card's algorithms as its backend.
	unload_module();
	// A closing kTLS socket may still hold a tfm for a moment.
	for (int i = 0; i < 100 && fs::exists(fs::path("/sys/module") / card_name); i++) {
		if (::syscall(SYS_delete_module, card_name, O_NONBLOCK) == 0)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	if (fs::exists(fs::path("/sys/module") / card_name))
		throw std::runtime_error(std::string("cannot unload ") + card_name);
	card_is_loaded = false;
	card_params.clear();
}

// Loads the test card with these parameters unless it is loaded so
// already. A card (re)load unloads ktlsaccel first: engine+card needs
// ktlsaccel loaded after the card, so that its backend finds it.
void load_card(const fs::path &ko, const std::string &params)
{
	if (card_is_loaded && card_params == params)
		return;
	unload_card();
	int fd = ::open(ko.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw std::system_error(errno, std::system_category(), "open " + ko.string());
	long ret = ::syscall(SYS_finit_module, fd, params.c_str(), 0);
	int err = errno;
	::close(fd);
	if (ret != 0)
		throw std::system_error(err, std::system_category(), "insmod " + ko.string() + " " + params);
	card_is_loaded = true;
	card_params = params;
	wait_for_card_selftests();
}

// The card's debugfs counters: one line of key=value.
std::map<std::string, double> card_stats()
{
	std::istringstream in(testsupport::read_file(card_stats_path));
	std::map<std::string, double> m;
	std::string kv;
	while (in >> kv) {
		auto eq = kv.find('=');
		if (eq != kv.npos)
			m[kv.substr(0, eq)] = std::stod(kv.substr(eq + 1));
	}
	if (!m.count("submitted") || !m.count("max_in_flight"))
		throw std::runtime_error("cannot parse " + card_stats_path.string() + ": " + in.str());
	return m;
}

void reset_card_stats()
{
	std::ofstream f(card_stats_path);
	f << "0\n";
	f.flush();
	if (!f)
		throw std::runtime_error("cannot reset " + card_stats_path.string());
}

// The guest's CPU time from /proc/stat: how many vCPUs were busy (not idle
// or waiting for I/O) on average between two readings. Tells a cell that
// is short of CPU from one that waits (wake-ups, the socket, the pipeline).
class cpu_meter {
public:
	cpu_meter() : start_(read()) {}
	double busy_vcpus(unsigned int vcpus) const
	{
		auto end = read();
		double total = static_cast<double>(end.total - start_.total);
		double idle = static_cast<double>(end.idle - start_.idle);
		return total > 0 ? (total - idle) / total * vcpus : NAN;
	}
	// Busy vCPU-seconds (all vCPUs together) since the start: what the
	// cell cost in CPU, wherever it ran (sender, receiver, workers, softirq).
	double busy_seconds() const
	{
		auto end = read();
		double total = static_cast<double>(end.total - start_.total);
		double idle = static_cast<double>(end.idle - start_.idle);
		return total > 0 ? (total - idle) / static_cast<double>(sysconf(_SC_CLK_TCK)) : NAN;
	}

private:
	struct reading {
		unsigned long long total = 0, idle = 0;
	};
	static reading read()
	{
		std::ifstream f("/proc/stat");
		std::string cpu;
		unsigned long long v[8] = {};
		f >> cpu;
		for (auto &x : v)
			f >> x;
		if (!f || cpu != "cpu")
			throw std::runtime_error("cannot parse /proc/stat");
		reading r;
		for (auto x : v)
			r.total += x;
		r.idle = v[3] + v[4];	// idle, iowait
		return r;
	}
	reading start_;
};

control::client open_control()
{
	auto c = control::client::open();
	if (!c)
		throw std::runtime_error("netlink: " + control::describe(c.error()));
	return std::move(*c);
}

void set_config(const control::config_change &ch)
{
	auto c = open_control();
	if (auto r = c.set_config(ch); !r)
		throw std::runtime_error("ktlsaccel set: " + control::describe(r.error(), c.extack()));
}

void reset_stats()
{
	auto c = open_control();
	if (auto r = c.reset_stats(); !r)
		throw std::runtime_error("ktlsaccel reset: " + control::describe(r.error(), c.extack()));
}

control::device_info device()
{
	auto c = open_control();
	auto d = c.get_device();
	if (!d)
		throw std::runtime_error("ktlsaccel show: " + control::describe(d.error(), c.extack()));
	return *d;
}

double quantile(std::vector<double> v, double q)
{
	std::sort(v.begin(), v.end());
	if (v.empty())
		return 0;
	double idx = q * static_cast<double>(v.size() - 1);
	auto lo = static_cast<std::size_t>(std::floor(idx));
	auto hi = std::min(lo + 1, v.size() - 1);
	return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

// Mean latency (us) from the module's log2 histogram, each bucket at its
// geometric middle: good to a factor of 1.4, enough for Little's law.
double mean_latency_us(const control::stats &s)
{
	double sum = 0, n = 0;
	for (std::size_t i = 0; i < s.latency.size(); i++) {
		double mid = i == 0 ? 1.0 : std::ldexp(1.0, static_cast<int>(i)) * 1.4142;
		sum += mid * static_cast<double>(s.latency[i]);
		n += static_cast<double>(s.latency[i]);
	}
	return n > 0 ? sum / n : 0;
}

const double MiB = 1024.0 * 1024.0;

class runner {
public:
	explicit runner(const run_options &o) : o_(o) {}
	void run();

private:
	void add(const std::string &section, const std::string &config, const std::string &cipher,
		 const std::string &tls, std::size_t size, const std::string &mode,
		 const std::string &metric, double value);
	void add_busy(const std::string &section, const std::string &config, cipher c, tls v,
		      std::size_t size, const std::string &mode, const cpu_meter &cpu);
	void add_cost(const std::string &section, const std::string &config, cipher c, tls v,
		      std::size_t size, const std::string &mode, const cpu_meter &cpu);
	void progress(const std::string &what, double value, const char *unit);
	void save();
	void state_unloaded();
	void state_c();
	void state_d();
	void state_e();
	void state_c_config();
	void state_defaults();
	void run_config(const std::string &cfg);
	void card_cells(const std::string &cfg, unsigned int latency_us);
	void throughput_cells(const std::string &cfg);
	void latency_cells(const std::string &cfg);
	void many_cells(const std::string &cfg);
	void pipeline_cells();
	void ceiling_cells();

	const run_options &o_;
	json samples_ = json::array();
	json meta_;
	unsigned int rep_ = 0;
	pki pki_;
	std::vector<cipher> ciphers_;
	std::vector<tls> versions_;
	std::vector<std::size_t> sizes_;
	std::vector<std::uint8_t> data_;
	fs::path file_;	// data_ in a file, for sendfile
	int file_fd_ = -1;
	// Records for the RX cells, one stream per cipher/version, encrypted
	// before the first run (module not loaded) with these keys.
	std::map<std::pair<cipher, tls>, std::pair<raw_crypto_info, std::vector<std::uint8_t>>> wire_;
	double cap_total_ = 0;	// model throughput cap, bytes/s, all queues
	unsigned int queues_ = 0;
	unsigned int vcpus_ = 1;
	std::size_t cells_ = 0;
	std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

void runner::add(const std::string &section, const std::string &config, const std::string &c,
		 const std::string &v, std::size_t size, const std::string &mode,
		 const std::string &metric, double value)
{
	samples_.push_back({{"section", section}, {"config", config}, {"cipher", c}, {"tls", v},
			    {"size", size}, {"mode", mode}, {"metric", metric}, {"rep", rep_},
			    {"value", value}});
}

// A cell shorter than a clock tick has no reading: no sample then.
void runner::add_busy(const std::string &section, const std::string &config, cipher c, tls v,
		      std::size_t size, const std::string &mode, const cpu_meter &cpu)
{
	double busy = cpu.busy_vcpus(vcpus_);

	if (std::isfinite(busy))
		add(section, config, to_string(c), to_string(v), size, mode, "busy_vcpus", busy);
	add_cost(section, config, c, v, size, mode, cpu);
}

// Busy vCPU-seconds per MiB moved: the cost per byte, which with the
// vCPU count gives the most any configuration could reach at that cost
// (the report's "limit": vCPUs / (b)'s cost per MiB). /proc/stat counts
// in clock ticks (10 ms): over a transfer of 8 MiB that is a few %.
void runner::add_cost(const std::string &section, const std::string &config, cipher c, tls v,
		      std::size_t size, const std::string &mode, const cpu_meter &cpu)
{
	double busy = cpu.busy_seconds();

	if (std::isfinite(busy))
		add(section, config, to_string(c), to_string(v), size, mode, "busy_s_per_MiB",
		    busy / (static_cast<double>(data_.size()) / MiB));
}

void runner::progress(const std::string &what, double value, const char *unit)
{
	cells_++;
	double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
	std::printf("bench: [%5.0fs rep %u/%u] %-58s %10.2f %s\n", t, rep_ + 1, o_.reps, what.c_str(),
		    value, unit);
	std::fflush(stdout);
}

void runner::save()
{
	json out = {{"meta", meta_}, {"samples", samples_}};
	fs::path tmp = o_.out;
	tmp += ".tmp";
	{
		std::ofstream f(tmp);
		f << out.dump(1) << "\n";
		if (!f)
			throw std::runtime_error("cannot write " + tmp.string());
	}
	fs::rename(tmp, o_.out);
}

std::string size_name(std::size_t s)
{
	if (s >= 1 << 20 && s % (1 << 20) == 0)
		return std::to_string(s >> 20) + "M";
	if (s >= 1024 && s % 1024 == 0)
		return std::to_string(s >> 10) + "K";
	return std::to_string(s);
}

void runner::throughput_cells(const std::string &cfg)
{
	for (auto c : ciphers_)
		for (auto v : versions_)
			for (auto size : sizes_) {
				std::string tag = to_string(c) + " TLS" + to_string(v) + " " + size_name(size);
				double s;
				cpu_meter cpu;
				if (cfg == "a")
					s = ossl_tx(pki_, c, v, data_, size);
				else
					s = ktls_tx(random_key(c, v), data_, size, tx_mode::plain, -1);
				add("tx", cfg, to_string(c), to_string(v), size, "send", "MiB/s",
				    static_cast<double>(data_.size()) / s / MiB);
				add_busy("tx", cfg, c, v, size, "send", cpu);
				progress("tx " + cfg + " " + tag, static_cast<double>(data_.size()) / s / MiB, "MiB/s");

				cpu = cpu_meter();
				if (cfg == "a") {
					s = ossl_rx(pki_, c, v, data_, size);
				} else {
					auto &w = wire_.at({c, v});
					s = ktls_rx(w.first, w.second, data_, size);
				}
				add("rx", cfg, to_string(c), to_string(v), size, "recv", "MiB/s",
				    static_cast<double>(data_.size()) / s / MiB);
				add_busy("rx", cfg, c, v, size, "recv", cpu);
				progress("rx " + cfg + " " + tag, static_cast<double>(data_.size()) / s / MiB, "MiB/s");

				if (std::find(o_.e2e_sizes.begin(), o_.e2e_sizes.end(), size) == o_.e2e_sizes.end())
					continue;
				s = cfg == "a" ? ossl_e2e(pki_, c, v, data_, size) : lib_e2e(pki_, c, v, data_, size);
				add("e2e", cfg, to_string(c), to_string(v), size, "send", "MiB/s",
				    static_cast<double>(data_.size()) / s / MiB);
				progress("e2e " + cfg + " " + tag, static_cast<double>(data_.size()) / s / MiB, "MiB/s");
			}
}

void runner::latency_cells(const std::string &cfg)
{
	for (auto size : o_.latency_sizes) {
		auto rtt = ktls_pingpong(cipher::aes128gcm, tls::v12, size, o_.pingpong_iterations);
		double p50 = quantile(rtt, 0.5), p99 = quantile(rtt, 0.99);
		add("latency", cfg, "aes128gcm", "1.2", size, "rtt", "p50_us", p50);
		add("latency", cfg, "aes128gcm", "1.2", size, "rtt", "p99_us", p99);
		progress("latency " + cfg + " " + size_name(size) + " p50 (p99 " +
				 std::to_string(static_cast<int>(p99)) + ")",
			 p50, "us");
		// The same through the library, without and with send
		// coalescing (issue 20: request/response no slower with it).
		for (bool co : {false, true}) {
			std::string mode = co ? "library coalescing" : "library";
			auto lrtt = lib_pingpong(size, o_.pingpong_iterations, co);
			double l50 = quantile(lrtt, 0.5), l99 = quantile(lrtt, 0.99);
			add("latency", cfg, "aes128gcm", "1.2", size, mode, "p50_us", l50);
			add("latency", cfg, "aes128gcm", "1.2", size, mode, "p99_us", l99);
			progress("latency " + cfg + " " + mode + " " + size_name(size) + " p50 (p99 " +
					 std::to_string(static_cast<int>(l99)) + ")",
				 l50, "us");
		}
	}
}

void runner::many_cells(const std::string &cfg)
{
	for (unsigned int n : o_.conns) {
		std::size_t per = std::max<std::size_t>(data_.size() / n, o_.min_per_conn);
		double s = ktls_many(cipher::aes128gcm, tls::v12, n, per);
		double mbps = static_cast<double>(per * n) / s / MiB;
		add("conns", cfg, "aes128gcm", "1.2", n, "send", "MiB/s", mbps);
		progress("conns " + cfg + " " + std::to_string(n), mbps, "MiB/s");
	}
}

void runner::pipeline_cells()
{
	auto k = random_key(cipher::aes128gcm, tls::v12);
	struct cell {
		std::size_t size;
		tx_mode mode;
	};
	std::vector<cell> cells;
	for (auto size : o_.pipeline_sizes)
		for (auto m : {tx_mode::plain, tx_mode::more, tx_mode::sendfile, tx_mode::lib_coalesced})
			cells.push_back({size, m});
	for (auto [size, mode] : cells) {
		reset_stats();
		double s = mode == tx_mode::lib_coalesced ? lib_tx_coalesced(data_, size)
							   : ktls_tx(k, data_, size, mode, file_fd_);
		auto d = device();
		const auto &st = d.stats;
		double rate = static_cast<double>(data_.size()) / s;
		double rec = st.completed ? static_cast<double>(st.bytes) / static_cast<double>(st.completed) : 0;
		double per_q_latency_limit = d.latency_us ? d.depth * rec / (d.latency_us * 1e-6) : INFINITY;
		double per_q = std::min(per_q_latency_limit, d.throughput ? static_cast<double>(d.throughput) : INFINITY);
		double limit = per_q * d.queues;
		double lat = mean_latency_us(st);
		double mean_inflight = static_cast<double>(st.completed) / s * lat * 1e-6;
		std::string m = to_string(mode);
		add("pipeline", "d", "aes128gcm", "1.2", size, m, "MiB/s", rate / MiB);
		add("pipeline", "d", "aes128gcm", "1.2", size, m, "limit_MiB/s", limit / MiB);
		add("pipeline", "d", "aes128gcm", "1.2", size, m, "fraction_of_limit", rate / limit);
		add("pipeline", "d", "aes128gcm", "1.2", size, m, "max_in_flight", st.max_in_flight);
		add("pipeline", "d", "aes128gcm", "1.2", size, m, "mean_in_flight", mean_inflight);
		add("pipeline", "d", "aes128gcm", "1.2", size, m, "record_bytes", rec);
		add("pipeline", "d", "aes128gcm", "1.2", size, m, "backlogged", static_cast<double>(st.backlogged));
		progress("pipeline d " + size_name(size) + " " + m + " of limit (max in flight " +
				 std::to_string(st.max_in_flight) + ")",
			 rate / limit, "");
	}
}

void runner::ceiling_cells()
{
	for (auto c : ciphers_) {
		double r = afalg_rate(c, o_.ceiling_bytes);
		add("ceiling", "afalg", to_string(c), "-", 16384, "sync", "MiB/s", r / MiB);
		progress("ceiling AF_ALG " + crypto_name(c) + " 1 thread", r / MiB, "MiB/s");
		double e = evp_rate(c, o_.ceiling_bytes);
		add("ceiling", "openssl", to_string(c), "-", 16384, "evp", "MiB/s", e / MiB);
		progress("ceiling OpenSSL EVP " + to_string(c) + " 1 thread", e / MiB, "MiB/s");
	}
}

void runner::state_unloaded()
{
	unload_card();
	unload_module();
}

void runner::state_c()
{
	unload_card();
	load_module(o_.module, "knobs:" + o_.module.string());
	state_c_config();
}

void runner::state_c_config()
{
	control::config_change ch;
	ch.latency_us = 0;
	ch.depth = 128;
	ch.throughput = 0;
	ch.inline_threshold = 0;
	ch.decrypt = control::decrypt_policy::async;
	set_config(ch);
}

// The module as a new user gets it: loaded without parameters and no
// knob touched since (a reload after c, d or e changed any).
void runner::state_defaults()
{
	unload_card();
	load_module(o_.module, "defaults:" + o_.module.string());
	if (meta_.contains("defaults_params"))
		return;
	// For the record: what "the defaults" were in this build.
	json p = json::object();
	for (const auto &e : fs::directory_iterator("/sys/module/ktlsaccel/parameters")) {
		std::string v;
		try {
			v = testsupport::read_file(e.path());
		} catch (const std::exception &) {
			continue;	// write-only
		}
		while (!v.empty() && v.back() == '\n')
			v.pop_back();
		p[e.path().filename().string()] = v;
	}
	meta_["defaults_params"] = p;
}

// An experimental variant of c: c with extra writable module parameters.
void runner::state_e()
{
	unload_card();
	fs::path ko = o_.e_module.empty() ? o_.module : o_.e_module;
	std::string tag = "e:" + ko.string();
	for (const auto &kv : o_.e_params)
		tag += " " + kv;
	load_module(ko, tag);
	state_c_config();
	for (const auto &kv : o_.e_params) {
		auto eq = kv.find('=');
		testsupport::set_knob(kv.substr(0, eq), kv.substr(eq + 1));
	}
}

void runner::state_d()
{
	unload_card();
	load_module(o_.module, "knobs:" + o_.module.string());
	control::config_change ch;
	ch.latency_us = o_.model_latency_us;
	ch.depth = o_.model_depth;
	ch.throughput = static_cast<std::uint64_t>(cap_total_ / queues_);
	ch.inline_threshold = 0;
	ch.decrypt = control::decrypt_policy::async;
	set_config(ch);
}

/*
 * One connection, AES-128-GCM TLS 1.2 TX through the test card: "card" is
 * the card alone (priority 2000, so kTLS takes it directly), "engine+card"
 * ktlsaccel with its defaults in front of the card (default priority 300).
 * Records in flight: the card's high-water mark, and for engine+card the
 * engine's flow's. The flow is gone once the socket closes, so a thread
 * reads it every 10 ms during the transfer; for "card" the same thread
 * reads the card's counters instead, so that both carry the same probe.
 */
void runner::card_cells(const std::string &cfg, unsigned int latency_us)
{
	bool engine = cfg == "engine+card";
	std::string lat = std::to_string(latency_us);
	unload_module();
	load_card(o_.card_module, engine ? "latency_us=" + lat : "priority=2000 latency_us=" + lat);
	if (engine)
		load_module(o_.module, "defaults+card:" + o_.module.string());
	auto k = random_key(cipher::aes128gcm, tls::v12);
	std::string mode = "latency_us=" + lat;
	for (auto size : o_.card_sizes) {
		reset_card_stats();
		if (engine)
			reset_stats();
		std::mutex mu;
		std::condition_variable cv;
		bool done = false;
		std::uint32_t flow_max = 0;
		bool flow_seen = false;
		std::thread probe([&] {
			std::optional<control::client> c;
			if (engine) {
				auto r = control::client::open();
				if (!r)
					return;	// no readings: the engine's own maximum stands in
				c = std::move(*r);
			}
			std::unique_lock l(mu);
			while (!cv.wait_for(l, std::chrono::milliseconds(10), [&] { return done; })) {
				l.unlock();
				std::uint32_t m = 0;
				bool seen = false;
				try {
					if (engine) {
						if (auto f = c->dump_flows(); f)
							for (const auto &x : *f)
								if (x.direction == control::flow_direction::tx) {
									m = std::max(m, x.stats.max_in_flight);
									seen = true;
								}
					} else {
						(void)card_stats();
					}
				} catch (const std::exception &) {
					// a probe that fails only loses a reading
				}
				l.lock();
				flow_max = std::max(flow_max, m);
				flow_seen = flow_seen || seen;
			}
		});
		cpu_meter cpu;
		double s;
		try {
			s = ktls_tx(k, data_, size, tx_mode::plain, -1);
		} catch (...) {
			{
				std::lock_guard l(mu);
				done = true;
			}
			cv.notify_all();
			probe.join();
			throw;
		}
		{
			std::lock_guard l(mu);
			done = true;
		}
		cv.notify_all();
		probe.join();
		auto cs = card_stats();
		if (cs["submitted"] < 1)
			throw std::runtime_error(cfg + ": kTLS's records did not reach the test card (" +
						 card_stats_path.string() + ": submitted=0)");
		if (cs["errors"] > 0)
			throw std::runtime_error(cfg + ": the test card reported errors");
		double rate = static_cast<double>(data_.size()) / s / MiB;
		add("card", cfg, "aes128gcm", "1.2", size, mode, "MiB/s", rate);
		add_cost("card", cfg, cipher::aes128gcm, tls::v12, size, mode, cpu);
		add("card", cfg, "aes128gcm", "1.2", size, mode, "card_max_in_flight", cs["max_in_flight"]);
		add("card", cfg, "aes128gcm", "1.2", size, mode, "card_submitted", cs["submitted"]);
		add("card", cfg, "aes128gcm", "1.2", size, mode, "card_backlogged", cs["backlogged"]);
		double in_flight = cs["max_in_flight"];
		if (engine) {
			auto st = device().stats;
			if (st.submitted < 1)
				throw std::runtime_error("engine+card: ktlsaccel saw none of kTLS's records "
							 "(kTLS did not pick ktlsaccel's gcm(aes))");
			add("card", cfg, "aes128gcm", "1.2", size, mode, "engine_max_in_flight", st.max_in_flight);
			// Without a reading of the flow (a transfer shorter than
			// the probe's period) the engine's high-water mark stands
			// in: with one connection it is the flow's.
			in_flight = flow_seen ? flow_max : st.max_in_flight;
			if (flow_seen)
				add("card", cfg, "aes128gcm", "1.2", size, mode, "flow_max_in_flight", flow_max);
		}
		add("card", cfg, "aes128gcm", "1.2", size, mode, "records_in_flight", in_flight);
		progress("card " + cfg + " " + size_name(size) + " " + mode + " (in flight " +
				 std::to_string(static_cast<int>(in_flight)) + ")",
			 rate, "MiB/s");
	}
}

void runner::run_config(const std::string &cfg)
{
	if (cfg == "card" || cfg == "engine+card") {
		if (o_.sections.count("card"))
			for (auto lat : o_.card_latencies)
				card_cells(cfg, lat);
		save();
		return;
	}
	if (cfg == "a" || cfg == "b")
		state_unloaded();
	else if (cfg == "c")
		state_c();
	else if (cfg == "e")
		state_e();
	else if (cfg == "defaults")
		state_defaults();
	else
		state_d();
	if (cfg == "b")
		ceiling_cells();
	bool engine_like = cfg == "b" || cfg == "c" || cfg == "e" || cfg == "defaults";
	if (o_.sections.count("throughput"))
		throughput_cells(cfg);
	if (o_.sections.count("latency") && engine_like) {
		latency_cells(cfg);
		if (cfg == "c") {
			control::config_change ch;
			ch.inline_threshold = o_.inline_threshold;
			set_config(ch);
			latency_cells("c-inline");
			ch.inline_threshold = 0;
			set_config(ch);
		}
	}
	if (o_.sections.count("conns") && engine_like)
		many_cells(cfg);
	if (o_.sections.count("pipeline") && cfg == "d")
		pipeline_cells();
	save();
}

void runner::run()
{
	utsname u{};
	uname(&u);
	unsigned int vcpus = static_cast<unsigned int>(sysconf(_SC_NPROCESSORS_ONLN));
	vcpus_ = vcpus;
	ciphers_ = o_.ciphers;
	versions_ = o_.versions;
	sizes_ = o_.sizes;
	data_ = pattern(o_.bytes);
	pki_ = make_pki(o_.scratch / "pki");
	file_ = o_.scratch / "data.bin";
	{
		std::ofstream f(file_, std::ios::binary);
		f.write(reinterpret_cast<const char *>(data_.data()), static_cast<std::streamsize>(data_.size()));
	}
	file_fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
	if (file_fd_ < 0)
		throw std::runtime_error("cannot open " + file_.string());

	unload_card();
	unload_module();
	for (auto c : ciphers_)
		for (auto v : versions_) {
			auto k = random_key(c, v);
			wire_[{c, v}] = {k, ktls_capture(k, data_)};
		}
	// The model's throughput cap: a fraction of what one vCPU encrypts
	// with the kernel's own AES-GCM, so that the model, not the CPU that
	// also runs the cipher, is what limits (d).
	cap_total_ = o_.cap_fraction * afalg_rate(cipher::aes128gcm, o_.ceiling_bytes);
	// What the module makes of this guest: queues = vCPUs by default.
	load_module(o_.module, "defaults:" + o_.module.string());
	queues_ = device().queues;
	unload_module();

	meta_ = {{"kernel", u.release},
		 {"vcpus", vcpus},
		 {"commit", o_.commit},
		 {"qemu", o_.qemu},
		 {"bytes_per_transfer", o_.bytes},
		 {"reps", o_.reps},
		 {"quick", o_.quick},
		 {"started", o_.started},
		 {"configs",
		  {{"a", "userspace OpenSSL (SSL_write/SSL_read, no kTLS)"},
		   {"b", "kTLS, kernel software AEAD (ktlsaccel not loaded)"},
		   {"c", "kTLS + ktlsaccel CPU engine, queues = vCPUs, decrypt=async"},
		   {"c-inline", "as c, inline_threshold = " + std::to_string(o_.inline_threshold)},
		   {"d", "kTLS + ktlsaccel accelerator model"}}},
		 {"engine", {{"queues", queues_}, {"depth_c", 128}}},
		 {"model",
		  {{"latency_us", o_.model_latency_us},
		   {"depth", o_.model_depth},
		   {"cap_fraction_of_afalg_aes", o_.cap_fraction},
		   {"throughput_total_Bps", cap_total_},
		   {"throughput_per_queue_Bps", cap_total_ / queues_}}}};
	if (std::find(o_.configs.begin(), o_.configs.end(), "e") != o_.configs.end()) {
		std::string e = "as c";
		if (!o_.e_module.empty())
			e += ", module " + o_.e_module.string();
		for (const auto &kv : o_.e_params)
			e += ", " + kv;
		meta_["configs"]["e"] = e;
	}
	meta_["configs"]["defaults"] = "kTLS + ktlsaccel loaded without parameters, no knob changed";
	meta_["run"] = {{"configs", o_.configs}, {"sections", o_.sections}};
	if (!o_.card_module.empty()) {
		meta_["configs"]["card"] = "kTLS + the test card alone (priority=2000), ktlsaccel not loaded";
		meta_["configs"]["engine+card"] =
			"kTLS + ktlsaccel with its defaults, loaded after the test card (default priority)";
		meta_["card"] = {{"module", o_.card_module.string()},
				 {"latencies_us", o_.card_latencies},
				 {"sizes", o_.card_sizes}};
	}

	for (rep_ = 0; rep_ < o_.reps; rep_++) {
		std::vector<std::string> order = o_.configs;
		if (rep_ % 2)
			std::reverse(order.begin(), order.end());
		for (const auto &cfg : order)
			run_config(cfg);
		save();
	}
	if (!o_.keep_loaded) {
		unload_card();
		unload_module();
	}
	meta_["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
	meta_["cells"] = cells_;
	save();
	std::printf("bench: %zu measurements in %.0f s, results in %s\n", cells_,
		    meta_["seconds"].get<double>(), o_.out.c_str());
}

} // namespace

int run_matrix(const run_options &o)
{
	runner r(o);
	r.run();
	return 0;
}

} // namespace ktlsaccel::bench

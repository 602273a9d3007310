// SPDX-License-Identifier: MIT
//
// `ktlsaccel-bench report`: medians with their spread (min..max over the
// repetitions), ratios of medians against baselines from the same boot, the
// targets of issue 7, and gnuplot scripts for the plots.
//
// A ratio is "claimed" only when the spreads do not overlap: for a ratio
// above 1, the slowest repetition of the numerator beat the fastest of the
// denominator (the other way round for ratios below 1).
#include "bench.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace fs = std::filesystem;
using nlohmann::json;

namespace ktlsaccel::bench {

namespace {

struct stat {
	double med = NAN, min = NAN, max = NAN;
	std::size_t n = 0;
	bool ok() const { return n > 0; }
};

using key = std::tuple<std::string, std::string, std::string, std::string, std::size_t,
		       std::string, std::string>; // section config cipher tls size mode metric

struct kernel_results {
	json meta;
	std::string name;	// "6.1.0-57-amd64"
	std::string tag;	// "6.1"
	std::map<key, stat> s;

	stat get(const std::string &section, const std::string &config, const std::string &c,
		 const std::string &v, std::size_t size, const std::string &mode,
		 const std::string &metric) const
	{
		auto it = s.find({section, config, c, v, size, mode, metric});
		return it == s.end() ? stat{} : it->second;
	}
};

stat summarise(std::vector<double> v)
{
	stat st;
	if (v.empty())
		return st;
	std::sort(v.begin(), v.end());
	std::size_t n = v.size();
	st.n = n;
	st.min = v.front();
	st.max = v.back();
	st.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return st;
}

kernel_results load(const fs::path &p)
{
	std::ifstream f(p);
	if (!f)
		throw std::runtime_error("cannot read " + p.string());
	json j = json::parse(f);
	kernel_results k;
	k.meta = j.at("meta");
	k.name = k.meta.at("kernel").get<std::string>();
	auto dot = k.name.find('.', k.name.find('.') + 1);
	auto dash = k.name.find_first_of("-+");
	k.tag = k.name.substr(0, std::min(dot, dash));
	/* The PREEMPT_RT flavour of a series is a kernel of its own. */
	if (k.name.find("-rt-") != std::string::npos || k.name.ends_with("-rt"))
		k.tag += "-rt";
	std::map<key, std::vector<double>> raw;
	for (const auto &x : j.at("samples"))
		raw[{x.at("section"), x.at("config"), x.at("cipher"), x.at("tls"), x.at("size"),
		     x.at("mode"), x.at("metric")}]
			.push_back(x.at("value").get<double>());
	for (auto &[kk, v] : raw)
		k.s[kk] = summarise(v);
	return k;
}

std::string fmt(double v, int prec = 1)
{
	if (std::isnan(v))
		return "–";
	char b[64];
	std::snprintf(b, sizeof(b), "%.*f", prec, v);
	return b;
}

std::string cell(const stat &s, int prec = 1)
{
	if (!s.ok())
		return "–";
	return fmt(s.med, prec) + " [" + fmt(s.min, prec) + "–" + fmt(s.max, prec) + "]";
}

struct ratio {
	double r = NAN;
	bool claimed = false;
};

// num/den for "higher is better" metrics.
ratio ratio_of(const stat &num, const stat &den)
{
	ratio r;
	if (!num.ok() || !den.ok() || den.med == 0)
		return r;
	r.r = num.med / den.med;
	r.claimed = r.r >= 1 ? num.min > den.max : num.max < den.min;
	return r;
}

std::string show(const ratio &r)
{
	if (std::isnan(r.r))
		return "–";
	return fmt(r.r, 2) + (r.claimed ? "" : " (overlap)");
}

std::string size_name(std::size_t s)
{
	if (s >= 1 << 20 && s % (1 << 20) == 0)
		return std::to_string(s >> 20) + " MiB";
	if (s >= 1024 && s % 1024 == 0)
		return std::to_string(s >> 10) + " KiB";
	return std::to_string(s) + " B";
}

std::vector<std::size_t> sizes_of(const kernel_results &k, const std::string &section)
{
	std::set<std::size_t> s;
	for (const auto &[kk, v] : k.s)
		if (std::get<0>(kk) == section)
			s.insert(std::get<4>(kk));
	return {s.begin(), s.end()};
}

std::vector<std::pair<std::string, std::string>> combos(const kernel_results &k)
{
	std::set<std::pair<std::string, std::string>> s;
	for (const auto &[kk, v] : k.s)
		if (std::get<0>(kk) == "tx")
			s.insert({std::get<2>(kk), std::get<3>(kk)});
	return {s.begin(), s.end()};
}

const char *const configs[] = {"a", "b", "c", "d"};

// How a throughput section's samples are keyed: RX cells read, the others send.
std::string mode_of(const std::string &section)
{
	return section == "rx" ? "recv" : "send";
}

struct target_row {
	std::string what, kernel, value, verdict;
};

void throughput_table(std::ostream &md, const kernel_results &k, const std::string &section,
		      std::vector<target_row> &targets)
{
	md << "| cipher | TLS | size | (a) OpenSSL | (b) kTLS sw | (c) engine | (d) model | c/b | d/b | best kTLS/a |\n"
	      "|---|---|---|---|---|---|---|---|---|---|\n";
	for (auto [c, v] : combos(k))
		for (auto size : sizes_of(k, section)) {
			std::string mode = mode_of(section);
			stat st[4];
			for (int i = 0; i < 4; i++)
				st[i] = k.get(section, configs[i], c, v, size, mode, "MiB/s");
			if (!st[1].ok())
				continue;
			int best = 1;
			for (int i = 2; i < 4; i++)
				if (st[i].ok() && st[i].med > st[best].med)
					best = i;
			ratio cb = ratio_of(st[2], st[1]), db = ratio_of(st[3], st[1]),
			      ba = ratio_of(st[best], st[0]);
			md << "| " << c << " | " << v << " | " << size_name(size);
			for (auto &x : st)
				md << " | " << cell(x);
			md << " | " << show(cb) << " | " << show(db) << " | " << show(ba) << " ("
			   << configs[best] << ") |\n";

			auto verdict = [](const ratio &r, double goal) {
				if (std::isnan(r.r))
					return std::string("not measured");
				if (r.r >= goal && r.claimed)
					return std::string("met");
				if (r.r >= goal)
					return std::string("not shown (spreads overlap)");
				return std::string("missed");
			};
			if (section == "tx" && size >= (64 << 10))
				targets.push_back({"(c)/(b) TX " + c + " TLS " + v + " " + size_name(size) + " ≥ 1.7",
						   k.tag, show(cb), verdict(cb, 1.7)});
			if (section == "rx" && v == "1.2" && size >= (256 << 10))
				targets.push_back({"(c)/(b) RX " + c + " TLS 1.2 " + size_name(size) + " ≥ 1.7",
						   k.tag, show(cb), verdict(cb, 1.7)});
			if (section == "tx" && st[0].ok())
				targets.push_back({"best kTLS/(a) TX " + c + " TLS " + v + " " + size_name(size) +
							   " ≥ 1.5",
						   k.tag, show(ba) + " (" + configs[best] + ")", verdict(ba, 1.5)});
		}
}

// gnuplot data: size, then median/min/max of a, b, c, d.
void write_dat(const fs::path &p, const kernel_results &k, const std::string &section,
	       const std::string &c, const std::string &v)
{
	std::ofstream f(p);
	f << "# size a_med a_min a_max b_med b_min b_max c_med c_min c_max d_med d_min d_max (MiB/s)\n";
	std::string mode = mode_of(section);
	for (auto size : sizes_of(k, section)) {
		f << size;
		for (auto *cfg : configs) {
			auto s = k.get(section, cfg, c, v, size, mode, "MiB/s");
			f << " " << (s.ok() ? fmt(s.med, 3) : "NaN") << " " << (s.ok() ? fmt(s.min, 3) : "NaN")
			  << " " << (s.ok() ? fmt(s.max, 3) : "NaN");
		}
		f << "\n";
	}
}

void write_plots(const fs::path &dir, const kernel_results &k)
{
	// One PNG per section and kernel: a panel per cipher and version.
	// A focused run (--sections) has no data for some plots: gnuplot
	// fails on an empty file, so those get no script.
	for (std::string section : {"tx", "rx", "e2e"}) {
		auto cv = combos(k);
		if (sizes_of(k, section).empty())
			continue;
		std::ofstream gp(dir / ("plot-" + section + "-" + k.tag + ".gp"));
		gp << "set terminal png size 1200,900 font ',10'\n"
		   << "set output '" << (dir / (section + "-" + k.tag + ".png")).string() << "'\n"
		   << "set logscale x 2\nset key top left\nset grid\n"
		   << "set xlabel 'write size (bytes)'\nset ylabel 'MiB/s (median, bars: min..max)'\n"
		   << "set multiplot layout " << (cv.size() > 2 ? 2 : 1) << "," << (cv.size() > 1 ? 2 : 1)
		   << " title '" << section << " throughput, kernel " << k.name << ", "
		   << k.meta.value("vcpus", 0) << " vCPUs, QEMU/TCG'\n";
		for (auto [c, v] : cv) {
			std::string dat = (dir / (section + "-" + k.tag + "-" + c + "-" + v + ".dat")).string();
			write_dat(dat, k, section, c, v);
			gp << "set title '" << c << " TLS " << v << "'\n"
			   << "plot '" << dat << "' u 1:2:3:4 w yerrorlines t '(a) OpenSSL', "
			   << "'' u 1:5:6:7 w yerrorlines t '(b) kTLS sw', "
			   << "'' u 1:8:9:10 w yerrorlines t '(c) ktlsaccel engine', "
			   << "'' u 1:11:12:13 w yerrorlines t '(d) accelerator model'\n";
		}
		gp << "unset multiplot\n";
	}
	// Latency.
	if (!sizes_of(k, "latency").empty()) {
		std::string dat = (dir / ("latency-" + k.tag + ".dat")).string();
		std::ofstream f(dat);
		f << "# size b_p50 b_p99 c_p50 c_p99 cinline_p50 cinline_p99 (us)\n";
		for (auto size : sizes_of(k, "latency")) {
			f << size;
			for (auto *cfg : {"b", "c", "c-inline"})
				for (auto *m : {"p50_us", "p99_us"}) {
					auto s = k.get("latency", cfg, "aes128gcm", "1.2", size, "rtt", m);
					f << " " << (s.ok() ? fmt(s.med, 1) : "NaN");
				}
			f << "\n";
		}
		std::ofstream gp(dir / ("plot-latency-" + k.tag + ".gp"));
		gp << "set terminal png size 900,600 font ',10'\n"
		   << "set output '" << (dir / ("latency-" + k.tag + ".png")).string() << "'\n"
		   << "set logscale x 2\nset key top left\nset grid\n"
		   << "set title 'request/response round trip, aes128gcm TLS 1.2, kernel " << k.name << "'\n"
		   << "set xlabel 'message size (bytes)'\nset ylabel 'µs (median over repetitions)'\n"
		   << "plot '" << dat << "' u 1:2 w lp t '(b) p50', '' u 1:3 w lp dt 2 t '(b) p99', "
		   << "'' u 1:4 w lp t '(c) p50', '' u 1:5 w lp dt 2 t '(c) p99', "
		   << "'' u 1:6 w lp t '(c) inline threshold p50', '' u 1:7 w lp dt 2 t '(c) inline threshold p99'\n";
	}
	// Many connections.
	if (!sizes_of(k, "conns").empty()) {
		std::string dat = (dir / ("conns-" + k.tag + ".dat")).string();
		std::ofstream f(dat);
		for (auto n : sizes_of(k, "conns")) {
			f << n;
			for (auto *cfg : {"b", "c"}) {
				auto s = k.get("conns", cfg, "aes128gcm", "1.2", n, "send", "MiB/s");
				f << " " << (s.ok() ? fmt(s.med, 3) : "NaN") << " "
				  << (s.ok() ? fmt(s.min, 3) : "NaN") << " " << (s.ok() ? fmt(s.max, 3) : "NaN");
			}
			f << "\n";
		}
		std::ofstream gp(dir / ("plot-conns-" + k.tag + ".gp"));
		gp << "set terminal png size 900,600 font ',10'\n"
		   << "set output '" << (dir / ("conns-" + k.tag + ".png")).string() << "'\n"
		   << "set logscale x 2\nset key top left\nset grid\n"
		   << "set title 'aggregate TX, aes128gcm TLS 1.2, 64 KiB writes, kernel " << k.name << "'\n"
		   << "set xlabel 'connections'\nset ylabel 'MiB/s'\n"
		   << "plot '" << dat << "' u 1:2:3:4 w yerrorlines t '(b) kTLS sw', "
		   << "'' u 1:5:6:7 w yerrorlines t '(c) ktlsaccel engine'\n";
	}
}

// How many of the guest's vCPUs were busy during each TX and RX cell: a
// configuration short of the ceiling with idle vCPUs is waiting (wake-ups,
// the end of a send), not computing.
// The configurations of the TX/RX/e2e cells that these results have, in
// the order of the tables.
std::vector<std::string> configs_in(const kernel_results &k, const std::string &section)
{
	std::vector<std::string> out;
	for (const char *cfg : {"a", "b", "c", "d", "defaults", "e"})
		for (const auto &[kk, v] : k.s)
			if (std::get<0>(kk) == section && std::get<1>(kk) == cfg) {
				out.emplace_back(cfg);
				break;
			}
	return out;
}

void busy_table(std::ostream &md, const kernel_results &k)
{
	bool any = false;
	for (std::string section : {"tx", "rx"}) {
		auto cfgs = configs_in(k, section);
		bool head = false;
		for (auto [c, v] : combos(k))
			for (auto size : sizes_of(k, section)) {
				std::string mode = mode_of(section);
				std::vector<stat> st;
				bool row = false;
				for (const auto &cfg : cfgs) {
					st.push_back(k.get(section, cfg, c, v, size, mode, "busy_vcpus"));
					row = row || st.back().ok();
				}
				if (!row)
					continue;
				if (!any) {
					md << "\n### vCPUs busy during the transfer (of "
					   << k.meta.value("vcpus", 0) << ", from /proc/stat)\n";
					any = true;
				}
				if (!head) {
					md << "\n| section | cipher | TLS | size";
					for (const auto &cfg : cfgs)
						md << " | (" << cfg << ")";
					md << " |\n|---|---|---|---";
					for (std::size_t i = 0; i < cfgs.size(); i++)
						md << "|---";
					md << "|\n";
					head = true;
				}
				md << "| " << section << " | " << c << " | " << v << " | " << size_name(size);
				for (auto &x : st)
					md << " | " << cell(x, 2);
				md << " |\n";
			}
	}
}

std::string verdict_at_least(const ratio &r, double goal)
{
	if (std::isnan(r.r))
		return "not measured";
	if (r.r >= goal)
		return "met";
	return r.claimed ? "missed" : "missed on medians (spreads overlap)";
}

/*
 * Issue 16: the module as loaded without parameters against the kernel's
 * own AEAD (b), every cell both ran. Throughput: defaults/(b); latency
 * (lower is better): (b)/defaults, so that below 1 means slower in every
 * row. A row below 0.95 is flagged; "(overlap)" says the spreads do not
 * show it.
 */
void defaults_table(std::ostream &md, const kernel_results &k, std::vector<target_row> &targets)
{
	struct row {
		std::string section, c, v, metric;
		std::size_t size;
		stat b, d;
		ratio r;
	};
	std::vector<row> rows;
	for (std::string section : {"tx", "rx", "e2e"})
		for (auto [c, v] : combos(k))
			for (auto size : sizes_of(k, section)) {
				auto b = k.get(section, "b", c, v, size, mode_of(section), "MiB/s");
				auto d = k.get(section, "defaults", c, v, size, mode_of(section), "MiB/s");
				if (b.ok() && d.ok())
					rows.push_back({section, c, v, "MiB/s", size, b, d, ratio_of(d, b)});
			}
	for (auto n : sizes_of(k, "conns")) {
		auto b = k.get("conns", "b", "aes128gcm", "1.2", n, "send", "MiB/s");
		auto d = k.get("conns", "defaults", "aes128gcm", "1.2", n, "send", "MiB/s");
		if (b.ok() && d.ok())
			rows.push_back({"conns", "aes128gcm", "1.2", "MiB/s", n, b, d, ratio_of(d, b)});
	}
	for (auto size : sizes_of(k, "latency"))
		for (std::string m : {"p50_us", "p99_us"}) {
			auto b = k.get("latency", "b", "aes128gcm", "1.2", size, "rtt", m);
			auto d = k.get("latency", "defaults", "aes128gcm", "1.2", size, "rtt", m);
			if (b.ok() && d.ok())
				rows.push_back({"latency", "aes128gcm", "1.2", m, size, b, d, ratio_of(b, d)});
		}
	if (rows.empty())
		return;
	md << "\n### Defaults against (b): ktlsaccel loaded without parameters (issue 16)\n\n"
	   << "Throughput: defaults/(b); round trips (lower is better): (b)/defaults, so that below 1 "
	      "is slower in every row. **below 0.95** flags a cell under the target.\n\n"
	   << "| section | cipher | TLS | size | metric | (b) | defaults | ratio | |\n"
	   << "|---|---|---|---|---|---|---|---|---|\n";
	std::size_t below = 0, below_claimed = 0;
	double worst = INFINITY;
	std::string worst_at;
	for (const auto &r : rows) {
		bool low = r.r.r < 0.95;
		below += low;
		below_claimed += low && r.r.claimed;
		if (r.r.r < worst) {
			worst = r.r.r;
			worst_at = r.section + " " + r.c + " TLS " + r.v + " " +
				   (r.section == "conns" ? std::to_string(r.size) + " conns" : size_name(r.size)) +
				   (r.section == "latency" ? " " + r.metric : "");
		}
		int prec = r.section == "latency" ? 0 : 1;
		// conns rows are keyed by the number of connections
		std::string at = r.section == "conns" ? std::to_string(r.size) + " conns" : size_name(r.size);
		md << "| " << r.section << " | " << r.c << " | " << r.v << " | " << at << " | "
		   << r.metric << " | " << cell(r.b, prec) << " | " << cell(r.d, prec) << " | " << show(r.r)
		   << " | " << (low ? "**below 0.95**" : "") << " |\n";
	}
	targets.push_back({"defaults vs (b): no TX/RX/e2e/conns/latency cell below 0.95 (" +
				   std::to_string(rows.size()) + " cells)",
			   k.tag,
			   std::to_string(below) + " below (" + std::to_string(below_claimed) +
				   " claimed); lowest " + fmt(worst, 2) + " (" + worst_at + ")",
			   below == 0 ? "met"
			   : below_claimed ? "missed"
					   : "missed on medians (spreads overlap)"});
}

/*
 * Issue 16's limit: what the guest's vCPUs could move if every one of them
 * were busy at (b)'s cost per byte: vCPUs / (b)'s busy vCPU-seconds per
 * MiB. Each configuration's throughput as a fraction of it, and the cost
 * per byte side by side.
 */
void limit_tables(std::ostream &md, const kernel_results &k, std::vector<target_row> &targets)
{
	double vcpus = k.meta.value("vcpus", 2.0);
	bool any = false;
	for (std::string section : {"tx", "rx"}) {
		auto cfgs = configs_in(k, section);
		std::erase(cfgs, "a");
		std::string mode = mode_of(section);
		std::ostringstream frac, cost;
		bool rows = false;
		std::size_t cells = 0, above = 0, above_claimed = 0;
		double worst = NAN;
		std::string worst_at;
		for (auto [c, v] : combos(k))
			for (auto size : sizes_of(k, section)) {
				auto bc = k.get(section, "b", c, v, size, mode, "busy_s_per_MiB");
				if (!bc.ok())
					continue;
				rows = true;
				// A cell shorter than a tick may read no busy time.
				double limit = bc.med > 0 ? vcpus / bc.med : NAN;
				std::string at = c + " | " + v + " | " + size_name(size);
				frac << "| " << at << " | " << fmt(limit, 1);
				cost << "| " << at;
				for (const auto &cfg : cfgs) {
					auto t = k.get(section, cfg, c, v, size, mode, "MiB/s");
					stat f;
					if (t.ok() && std::isfinite(limit))
						f = {t.med / limit, t.min / limit, t.max / limit, t.n};
					frac << " | " << cell(f, 2);
					auto x = k.get(section, cfg, c, v, size, mode, "busy_s_per_MiB");
					cost << " | " << cell(x, 4);
					if (cfg != "b")
						cost << " (" << show(ratio_of(x, bc)) << ")";
					if (cfg == "defaults" && section == "tx" && size >= (256 << 10) && f.ok())
						targets.push_back({"defaults TX " + c + " TLS " + v + " " +
									   size_name(size) + " ≥ 0.9 of the " +
									   fmt(vcpus, 0) + "-vCPU limit",
								   k.tag, cell(f, 2),
								   f.med >= 0.9 ? "met" : "missed"});
					if (cfg == "defaults" && x.ok()) {
						ratio r = ratio_of(x, bc);
						cells++;
						above += r.r > 1.10;
						above_claimed += r.r > 1.10 && r.claimed;
						if (!(r.r <= worst)) {
							worst = r.r;
							worst_at = c + " TLS " + v + " " + size_name(size);
						}
					}
				}
				frac << " |\n";
				cost << " |\n";
			}
		if (cells)
			targets.push_back({"defaults " + section + ": CPU per byte ≤ 1.10 × (b)'s (" +
						   std::to_string(cells) + " cells)",
					   k.tag,
					   std::to_string(above) + " above (" + std::to_string(above_claimed) +
						   " claimed); highest " + fmt(worst, 2) + " (" + worst_at + ")",
					   above == 0 ? "met"
					   : above_claimed ? "missed"
							   : "missed on medians (spreads overlap)"});
		if (!rows)
			continue;
		if (!any) {
			md << "\n### CPU per byte and the " << fmt(vcpus, 0) << "-vCPU limit (issue 16)\n\n"
			   << "Busy vCPU-seconds per MiB from /proc/stat around each transfer (all vCPUs, "
			      "10 ms ticks). The limit is " << fmt(vcpus, 0)
			   << " vCPUs / (b)'s busy vCPU-seconds per MiB: what the guest would move with every "
			      "vCPU busy at the kernel's own cost per byte.\n";
			any = true;
		}
		auto head = [&](std::ostream &o, const std::string &first) {
			o << "| cipher | TLS | size" << first;
			for (const auto &cfg : cfgs)
				o << " | (" << cfg << ")";
			o << " |\n|---|---|---";
			for (std::size_t i = 0; i < cfgs.size() + (first.empty() ? 0 : 1); i++)
				o << "|---";
			o << "|\n";
		};
		md << "\n" << section << ": fraction of the limit (throughput / limit)\n\n";
		head(md, " | limit MiB/s");
		md << frac.str();
		md << "\n" << section << ": busy vCPU-seconds per MiB (ratio to (b))\n\n";
		head(md, "");
		md << cost.str();
	}
}

/*
 * Issue 18: the engine in front of the test card against the card alone,
 * one connection: throughput and records in flight (the card's high-water
 * mark alone; the engine's flow's behind the engine).
 */
// Request/response through the library with send coalescing off and on
// (issue 20: "a request/response workload through the same mode no slower
// than today"), for every configuration that ran the latency section.
void lib_latency_table(std::ostream &body, const kernel_results &k, std::vector<target_row> &targets)
{
	std::ostringstream rows;
	for (const char *cfg : {"b", "c", "e", "defaults"})
		for (auto size : sizes_of(k, "latency")) {
			auto g = [&](const char *mode, const char *metric) {
				return k.get("latency", cfg, "aes128gcm", "1.2", size, mode, metric);
			};
			auto off50 = g("library", "p50_us"), on50 = g("library coalescing", "p50_us");
			if (!off50.ok() || !on50.ok())
				continue;
			// lower is better: off/on, so that below 1 is slower with coalescing
			ratio r = ratio_of(off50, on50);
			rows << "| " << cfg << " | " << size_name(size) << " | " << cell(off50, 0) << " | "
			     << cell(g("library", "p99_us"), 0) << " | " << cell(on50, 0) << " | "
			     << cell(g("library coalescing", "p99_us"), 0) << " | " << show(r) << " |\n";
			targets.push_back({std::string("library coalescing round trip (") + cfg + ") " +
						   size_name(size) + " no slower: off/on p50 ≥ 0.95",
					   k.tag, show(r),
					   r.r >= 0.95 ? "met" : !r.claimed ? "not shown (spreads overlap)" : "missed"});
		}
	if (rows.str().empty())
		return;
	body << "\n### Request/response through the library: send coalescing off and on\n\n"
	     << "| config | size | off p50 µs | off p99 | on p50 µs | on p99 | off/on p50 |\n"
	     << "|---|---|---|---|---|---|---|\n"
	     << rows.str();
}

void card_table(std::ostream &md, const kernel_results &k, std::vector<target_row> &targets)
{
	std::set<std::pair<unsigned, std::string>> modes;	// by latency, numerically
	for (const auto &[kk, v] : k.s)
		if (std::get<0>(kk) == "card") {
			const auto &m = std::get<5>(kk);
			auto eq = m.find('=');
			modes.insert({eq == m.npos ? 0u : static_cast<unsigned>(std::stoul(m.substr(eq + 1))), m});
		}
	if (modes.empty())
		return;
	md << "\n### Engine in front of the test card, one connection, AES-128-GCM TLS 1.2 TX (issue 18)\n\n"
	   << "card: the test card alone (priority 2000, ktlsaccel not loaded); engine+card: ktlsaccel "
	      "with its defaults loaded after the card. Records in flight: the card's maximum alone, "
	      "the engine's flow's maximum behind the engine (and the card's).\n\n"
	   << "| card latency | size | card MiB/s | engine+card MiB/s | ratio | in flight: card | "
	      "engine+card (flow) | engine+card (at the card) | |\n"
	   << "|---|---|---|---|---|---|---|---|---|\n";
	for (const auto &[lat, mode] : modes)
		for (auto size : sizes_of(k, "card")) {
			auto g = [&](const char *cfg, const char *metric) {
				return k.get("card", cfg, "aes128gcm", "1.2", size, mode, metric);
			};
			auto c = g("card", "MiB/s"), e = g("engine+card", "MiB/s");
			if (!c.ok() && !e.ok())
				continue;
			ratio r = ratio_of(e, c);
			auto ci = g("card", "records_in_flight"), ei = g("engine+card", "records_in_flight");
			bool fewer = ci.ok() && ei.ok() && ei.med < ci.med;
			md << "| " << lat << " µs | " << size_name(size) << " | " << cell(c) << " | " << cell(e)
			   << " | " << show(r) << " | " << cell(ci, 0) << " | " << cell(ei, 0) << " | "
			   << cell(g("engine+card", "card_max_in_flight"), 0) << " | "
			   << (r.r < 0.95 ? "**below 0.95**" : "") << (fewer ? " **fewer in flight**" : "") << " |\n";
			std::string v = verdict_at_least(r, 0.95);
			if (v == "met" && fewer)
				v = "missed: fewer records in flight";
			targets.push_back({"engine+card / card TX " + size_name(size) + " latency " +
						   std::to_string(lat) + " µs ≥ 0.95, in flight not fewer",
					   k.tag, show(r) + ", in flight " + fmt(ei.med, 0) + " vs " + fmt(ci.med, 0), v});
		}
}

// Config e (an A/B variant of c, `run --e-param/--e-module`): every cell
// measured for both, side by side. Ratios are e/c; for latency lower is
// better, and the spreads decide a claim either way.
void ab_table(std::ostream &md, const kernel_results &k)
{
	bool any = false;
	for (const auto &[kk, st] : k.s) {
		const auto &[section, config, c, v, size, mode, metric] = kk;
		if (config != "e")
			continue;
		auto base = k.get(section, "c", c, v, size, mode, metric);
		if (!base.ok())
			continue;
		if (!any) {
			md << "### A/B: (e) " << k.meta["configs"].value("e", std::string("?"))
			   << ", against (c)\n\n"
			   << "| section | cipher | TLS | size | mode | metric | (c) | (e) | e/c |\n"
			   << "|---|---|---|---|---|---|---|---|---|\n";
			any = true;
		}
		md << "| " << section << " | " << c << " | " << v << " | " << size_name(size) << " | "
		   << mode << " | " << metric << " | " << cell(base) << " | " << cell(st) << " | "
		   << show(ratio_of(st, base)) << " |\n";
	}
	if (any)
		md << "\n";
}

std::string host_load_line(const fs::path &p)
{
	if (p.empty())
		return "";
	std::ifstream f(p);
	std::vector<double> v;
	double l1, l5, l15;
	std::string rest;
	while (f >> l1 >> l5 >> l15 && std::getline(f, rest))
		v.push_back(l1);
	if (v.empty())
		return "";
	auto s = summarise(v);
	return "host 1-minute load average during the runs (" + std::to_string(v.size()) +
	       " samples, 2 cores): median " + fmt(s.med, 1) + ", min " + fmt(s.min, 1) + ", max " +
	       fmt(s.max, 1);
}

} // namespace

int write_report(const std::vector<fs::path> &inputs, const fs::path &out_dir, const fs::path &host_load)
{
	fs::create_directories(out_dir);
	std::vector<kernel_results> ks;
	for (const auto &p : inputs)
		ks.push_back(load(p));

	std::ofstream md(out_dir / "summary.md");
	md << "# ktlsaccel-bench summary\n\n"
	   << "Throughput in MiB/s and latency in µs as *median [min–max]* over the repetitions, "
	      "each configuration interleaved with the others in one guest boot per kernel. Ratios "
	      "are ratios of medians from the same boot; \"(overlap)\" marks a ratio whose spreads "
	      "overlap, which is therefore not claimed.\n\n";
	if (auto l = host_load_line(host_load); !l.empty())
		md << l << ".\n\n";

	std::vector<target_row> targets;
	std::ostringstream body;
	for (const auto &k : ks) {
		const auto &m = k.meta;
		body << "## Kernel " << k.name << "\n\n"
		     << "- vCPUs: " << m.value("vcpus", 0) << ", engine queues: "
		     << m["engine"].value("queues", 0) << "\n"
		     << "- QEMU: " << m.value("qemu", std::string("?")) << "\n"
		     << "- commit: " << m.value("commit", std::string("?")) << ", started "
		     << m.value("started", std::string("?")) << "\n"
		     << "- " << m.value("reps", 0) << " repetitions, " << m.value("bytes_per_transfer", 0)
		     << " bytes per transfer" << (m.value("quick", false) ? " (quick smoke run)" : "")
		     << ", " << fmt(m.value("seconds", 0.0), 0) << " s\n"
		     << "- model (d): latency " << m["model"].value("latency_us", 0) << " µs, depth "
		     << m["model"].value("depth", 0) << ", throughput cap "
		     << fmt(m["model"].value("throughput_total_Bps", 0.0) / 1048576.0, 2)
		     << " MiB/s over all queues (" << m["model"].value("cap_fraction_of_afalg_aes", 0.0)
		     << " × the single-thread AF_ALG AES-GCM rate)\n\n";

		body << "### Ceiling: one thread, 16 KiB records\n\n| cipher | kernel AEAD via AF_ALG | OpenSSL EVP (userspace) |\n|---|---|---|\n";
		for (std::string c : {"aes128gcm", "chacha20"}) {
			auto af = k.get("ceiling", "afalg", c, "-", 16384, "sync", "MiB/s");
			auto ev = k.get("ceiling", "openssl", c, "-", 16384, "evp", "MiB/s");
			if (af.ok())
				body << "| " << c << " | " << cell(af) << " | " << cell(ev) << " |\n";
		}
		auto af = k.get("ceiling", "afalg", "aes128gcm", "-", 16384, "sync", "MiB/s");
		unsigned vcpus = m.value("vcpus", 1u);
		if (af.ok()) {
			body << "\nAES-128-GCM TX at 1 MiB writes, TLS 1.2, as a fraction of the ceiling × "
			     << vcpus << " vCPUs:";
			for (auto *cfg : {"b", "c"}) {
				auto s = k.get("tx", cfg, "aes128gcm", "1.2", 1 << 20, "send", "MiB/s");
				if (s.ok())
					body << " (" << cfg << ") " << fmt(s.med / (af.med * vcpus), 2);
			}
			body << "\n";
		}

		for (auto [sec, title] : {std::pair{"tx", "TX only (receiver drains raw TCP)"},
					   {"rx", "RX only (pre-encrypted records replayed; receiver decrypts)"},
					   {"e2e", "End to end (library client → library server; (a): OpenSSL both ends)"}}) {
			body << "\n### " << title << "\n\n";
			throughput_table(body, k, sec, targets);
		}

		busy_table(body, k);
		limit_tables(body, k, targets);
		defaults_table(body, k, targets);
		card_table(body, k, targets);

		body << "\n### Pipeline, accelerator model (d), AES-128-GCM TLS 1.2 TX\n\n"
		     << "| write size | mode | MiB/s | model limit MiB/s | achieved/limit | records in flight: max | mean (Little) | record bytes |\n"
		     << "|---|---|---|---|---|---|---|---|\n";
		for (auto size : sizes_of(k, "pipeline"))
			for (std::string mode : {"send", "send+MSG_MORE", "sendfile", "library coalescing"}) {
				auto g = [&](const char *metric) {
					return k.get("pipeline", "d", "aes128gcm", "1.2", size, mode, metric);
				};
				auto frac = g("fraction_of_limit");
				if (!frac.ok())
					continue;
				body << "| " << size_name(size) << " | " << mode << " | " << cell(g("MiB/s"), 2)
				     << " | " << fmt(g("limit_MiB/s").med, 2) << " | " << cell(frac, 2) << " | "
				     << cell(g("max_in_flight"), 0) << " | " << cell(g("mean_in_flight"), 1)
				     << " | " << fmt(g("record_bytes").med, 0) << " |\n";
				if (mode != "send")
					targets.push_back({"(d) achieved/limit " + mode + " " + size_name(size) +
								   " ≥ 0.9",
							   k.tag, cell(frac, 2),
							   frac.med >= 0.9 ? (frac.min >= 0.9 ? "met" : "median met, not every repetition")
									   : "missed"});
			}

		body << "\n### Small messages: request/response round trip, AES-128-GCM TLS 1.2\n\n"
		     << "| size | (b) p50 | (b) p99 | (c) p50 | (c) p99 | (c)+inline p50 | (c)+inline p99 | (c)/(b) p50 | (c)+inline/(b) p50 |\n"
		     << "|---|---|---|---|---|---|---|---|---|\n";
		for (auto size : sizes_of(k, "latency")) {
			auto g = [&](const char *cfg, const char *metric) {
				return k.get("latency", cfg, "aes128gcm", "1.2", size, "rtt", metric);
			};
			auto b50 = g("b", "p50_us"), c50 = g("c", "p50_us"), i50 = g("c-inline", "p50_us");
			ratio cb = ratio_of(c50, b50), ib = ratio_of(i50, b50);
			body << "| " << size_name(size) << " | " << cell(b50, 0) << " | " << cell(g("b", "p99_us"), 0)
			     << " | " << cell(c50, 0) << " | " << cell(g("c", "p99_us"), 0) << " | " << cell(i50, 0)
			     << " | " << cell(g("c-inline", "p99_us"), 0) << " | " << show(cb) << " | " << show(ib)
			     << " |\n";
			if (size == 1024) {
				// Lower is better: met when at most 1.1, or when c is not
				// shown to be slower at all. Also with the inline
				// threshold, which is what it is there to buy back.
				auto v = [](const ratio &r) {
					return std::isnan(r.r) ? "not measured"
					       : r.r <= 1.1    ? "met"
					       : !r.claimed    ? "not shown (spreads overlap)"
							       : "missed";
				};
				targets.push_back({"(c)/(b) p50 latency 1 KiB ≤ 1.1", k.tag, show(cb), v(cb)});
				if (i50.ok())
					targets.push_back({"(c)+inline/(b) p50 latency 1 KiB ≤ 1.1", k.tag,
							   show(ib), v(ib)});
			}
		}

		lib_latency_table(body, k, targets);

		body << "\n### Many connections: aggregate TX, AES-128-GCM TLS 1.2, 64 KiB writes\n\n"
		     << "| connections | (b) kTLS sw | (c) engine | c/b |\n|---|---|---|---|\n";
		for (auto n : sizes_of(k, "conns")) {
			auto b = k.get("conns", "b", "aes128gcm", "1.2", n, "send", "MiB/s");
			auto c = k.get("conns", "c", "aes128gcm", "1.2", n, "send", "MiB/s");
			body << "| " << n << " | " << cell(b) << " | " << cell(c) << " | " << show(ratio_of(c, b))
			     << " |\n";
		}
		body << "\n";
		ab_table(body, k);
		write_plots(out_dir, k);
	}

	md << "## Targets (issues 7, 16, 18)\n\n| target | kernel | value | verdict |\n|---|---|---|---|\n";
	for (const auto &t : targets)
		md << "| " << t.what << " | " << t.kernel << " | " << t.value << " | " << t.verdict << " |\n";
	md << "\n" << body.str();
	if (!md)
		throw std::runtime_error("cannot write " + (out_dir / "summary.md").string());
	std::printf("report: %s\n", (out_dir / "summary.md").c_str());
	return 0;
}

} // namespace ktlsaccel::bench

// SPDX-License-Identifier: MIT
//
// ktlsaccel-bench: the performance matrix of issue 7.
//
//   ktlsaccel-bench run --module build/kmod/$(uname -r)/ktlsaccel.ko --out r.json [--quick]
//       (in a guest, as root: loads and unloads ktlsaccel.ko itself)
//   ktlsaccel-bench report --out-dir DIR r-6.1.json r-6.12.json
//       (anywhere: medians, spreads, ratios, summary.md, gnuplot scripts)
//
// scripts/bench runs both for every kernel and draws the plots.
#include "bench.hpp"

#include <CLI/CLI.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>

using namespace ktlsaccel::bench;

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	CLI::App app{"ktlsaccel-bench: kTLS throughput and latency, with and without ktlsaccel"};
	app.require_subcommand(1);

	run_options o;
	auto *run = app.add_subcommand("run", "run the matrix in this (guest) kernel");
	run->add_option("--module", o.module, "ktlsaccel.ko to load")->required()->check(CLI::ExistingFile);
	run->add_option("--out", o.out, "results JSON to write")->required();
	run->add_option("--scratch", o.scratch, "folder for certificates and the sendfile source")
		->default_val("/tmp/ktlsaccel-bench");
	run->add_option("--reps", o.reps, "repetitions of every cell")->capture_default_str()
		->check(CLI::Range(1u, 100u));
	run->add_option("--bytes", o.bytes, "bytes per transfer")->capture_default_str()
		->check(CLI::Range(std::size_t(65536), std::size_t(256) << 20));
	run->add_option("--cap-fraction", o.cap_fraction,
			"model (d) throughput cap, all queues together, as a fraction of the "
			"single-thread AF_ALG AES-GCM rate")
		->capture_default_str()->check(CLI::Range(0.01, 10.0));
	run->add_option("--commit", o.commit, "source commit, for the record");
	run->add_option("--qemu", o.qemu, "QEMU settings, for the record");
	run->add_option("--started", o.started, "start time, for the record");
	run->add_flag("--quick", o.quick, "a smoke run: one cell per section, 1 repetition");
	// For looking at one thing (profiling, an engine change): a subset.
	std::vector<std::string> only_configs, only_sections, only_ciphers, only_tls;
	std::vector<std::size_t> only_sizes;
	run->add_option("--configs", only_configs,
			"only these of a, b, c, d, defaults, card, engine+card (and e), in this order")
		->delimiter(',')
		->check(CLI::IsMember({"a", "b", "c", "d", "e", "defaults", "card", "engine+card"}));
	run->add_option("--e-param", o.e_params, "config e: c plus this module parameter (NAME=VALUE)")
		->check([](const std::string &s) { return s.find('=') == s.npos ? "NAME=VALUE" : ""; });
	run->add_option("--sections", only_sections, "only these sections")->delimiter(',')
		->check(CLI::IsMember({"throughput", "latency", "conns", "pipeline", "card"}));
	run->add_option("--card-module", o.card_module,
			"ktlsaccel_test_card.ko: enables configs card and engine+card")
		->check(CLI::ExistingFile);
	std::vector<unsigned int> card_latencies;
	std::vector<std::size_t> card_sizes;
	run->add_option("--card-latencies", card_latencies, "the test card's latency_us values (100,500)")
		->delimiter(',')->check(CLI::Range(0u, 100000u));
	run->add_option("--card-sizes", card_sizes, "write sizes of the card section (16384,65536,1048576)")
		->delimiter(',')->check(CLI::Range(std::size_t(1), std::size_t(256) << 20));
	run->add_option("--ciphers", only_ciphers, "only these ciphers")->delimiter(',')
		->check(CLI::IsMember({"aes128gcm", "chacha20"}));
	run->add_option("--tls", only_tls, "only these TLS versions")->delimiter(',')
		->check(CLI::IsMember({"1.2", "1.3"}));
	run->add_option("--e-module", o.e_module, "config e: load this ktlsaccel.ko instead")
		->check(CLI::ExistingFile);
	run->add_flag("--keep-loaded", o.keep_loaded, "leave ktlsaccel.ko loaded at the end (perf report)");
	// 0 would make every transfer loop without end.
	run->add_option("--sizes", only_sizes, "only these write sizes (bytes)")->delimiter(',')
		->check(CLI::Range(std::size_t(1), std::size_t(256) << 20));

	std::vector<std::filesystem::path> inputs;
	std::filesystem::path out_dir, host_load;
	auto *report = app.add_subcommand("report", "summarise results files");
	report->add_option("--out-dir", out_dir, "where summary.md and the plot files go")->required();
	report->add_option("--host-load", host_load, "host /proc/loadavg samples taken during the run")
		->check(CLI::ExistingFile);
	report->add_option("results", inputs, "results JSON files (one per kernel)")->required()
		->check(CLI::ExistingFile);

	CLI11_PARSE(app, argc, argv);

	try {
		if (*run) {
			if (o.quick) {
				o.reps = 1;
				o.bytes = 256 << 10;
				o.ciphers = {cipher::aes128gcm};
				o.versions = {tls::v12};
				o.sizes = {64 << 10};
				o.e2e_sizes = {64 << 10};
				o.latency_sizes = {1024};
				o.pipeline_sizes = {64 << 10};
				o.conns = {4};
				o.min_per_conn = 64 << 10;
				o.pingpong_iterations = 20;
				o.ceiling_bytes = 256 << 10;
				o.card_latencies = {100};
				o.card_sizes = {64 << 10};
			}
			if (!only_configs.empty())
				o.configs = only_configs;
			if (!only_sections.empty())
				o.sections = {only_sections.begin(), only_sections.end()};
			if (!only_ciphers.empty()) {
				o.ciphers.clear();
				for (auto &c : only_ciphers)
					o.ciphers.push_back(c == "aes128gcm" ? cipher::aes128gcm : cipher::chacha20);
			}
			if (!only_tls.empty()) {
				o.versions.clear();
				for (auto &v : only_tls)
					o.versions.push_back(v == "1.2" ? tls::v12 : tls::v13);
			}
			if (!only_sizes.empty())
				o.sizes = o.e2e_sizes = o.pipeline_sizes = only_sizes;
			if (!card_latencies.empty())
				o.card_latencies = card_latencies;
			if (!card_sizes.empty())
				o.card_sizes = card_sizes;
			// The card configs need the test card module: asked for
			// by name they fail without it, in the default matrix
			// they are left out with a word on why.
			auto is_card = [](const std::string &c) { return c == "card" || c == "engine+card"; };
			bool want_card = std::any_of(o.configs.begin(), o.configs.end(), is_card) &&
					 o.sections.count("card");
			if (want_card && o.card_module.empty()) {
				if (!only_configs.empty())
					throw std::runtime_error(
						"configs card and engine+card need the test card module "
						"(--card-module build/kmod/<kernel>/ktlsaccel_test_card.ko), "
						"which is not built");
				std::printf("bench: configs card and engine+card skipped: no test card module "
					    "(ktlsaccel_test_card.ko is not built)\n");
				std::fflush(stdout);
			}
			if (o.card_module.empty() || !o.sections.count("card"))
				std::erase_if(o.configs, is_card);
			if (o.configs.empty())
				throw std::runtime_error("no configuration left to run");
			return run_matrix(o);
		}
		return write_report(inputs, out_dir, host_load);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "ktlsaccel-bench: %s\n", e.what());
		return 1;
	}
}

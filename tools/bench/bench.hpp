// SPDX-License-Identifier: MIT
#pragma once

#include "workloads.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace ktlsaccel::bench {

struct run_options {
	std::filesystem::path module;	// ktlsaccel.ko for this kernel
	std::filesystem::path out;	// results JSON
	std::filesystem::path scratch;	// certificates, the sendfile file
	unsigned int reps = 5;
	std::size_t bytes = 8 << 20;	// per transfer: ~0.2 s a cell at 40 MiB/s
	std::vector<cipher> ciphers = {cipher::aes128gcm, cipher::chacha20};
	std::vector<tls> versions = {tls::v12, tls::v13};
	std::vector<std::size_t> sizes = {1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20};
	std::vector<std::size_t> e2e_sizes = {64 << 10, 1 << 20};
	std::vector<std::size_t> latency_sizes = {64, 256, 1 << 10, 4 << 10};
	std::vector<std::size_t> pipeline_sizes = {16 << 10, 64 << 10, 1 << 20};
	std::vector<unsigned int> conns = {1, 4, 16, 64};
	std::size_t min_per_conn = 128 << 10;
	unsigned int pingpong_iterations = 100;
	std::size_t ceiling_bytes = 8 << 20;
	unsigned int inline_threshold = 4096;
	unsigned int model_latency_us = 50;
	unsigned int model_depth = 256;
	double cap_fraction = 0.25;
	// "defaults": ktlsaccel loaded without parameters (issue 16); "card",
	// "engine+card": the test card alone and behind the engine (issue 18),
	// only with card_module.
	std::vector<std::string> configs = {"a", "b", "c", "d", "defaults", "card", "engine+card"};
	// Config "e" (not in the default matrix): c plus these NAME=VALUE
	// module parameters, for trying engine changes side by side with c.
	std::vector<std::string> e_params;
	std::filesystem::path e_module;	// config e: this build of the module
	std::set<std::string> sections = {"throughput", "latency", "conns", "pipeline", "card"};
	std::filesystem::path card_module;	// ktlsaccel_test_card.ko for this kernel
	std::vector<unsigned int> card_latencies = {100, 500};	// the card's latency_us
	std::vector<std::size_t> card_sizes = {16 << 10, 64 << 10, 1 << 20};
	bool quick = false;
	bool keep_loaded = false;	// for profiling: module symbols stay

	std::string commit, qemu, started;
};

int run_matrix(const run_options &o);

// Medians, spreads and ratios of one or more results files: summary.md,
// gnuplot data and scripts in out_dir.
int write_report(const std::vector<std::filesystem::path> &inputs,
		 const std::filesystem::path &out_dir, const std::filesystem::path &host_load);

} // namespace ktlsaccel::bench

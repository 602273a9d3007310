/* SPDX-License-Identifier: MIT */
/*
 * Helpers for tests that run inside the guest (scripts/vm-run). Every test
 * in-guest test binary links tests/vm/main.cpp, which fails a
 * test whose run left a warning, oops or failed self-test in the kernel log.
 */
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ktlsaccel::vmtest {

/* The CMake build tree and source tree (KTLSACCEL_BUILD_DIR/_SOURCE_DIR). */
std::filesystem::path build_dir();
std::filesystem::path source_dir();

/* uname -r of the running (guest) kernel. */
std::string kernel_release();

/* build/kmod/<release>/<name>.ko, the module built for this kernel. */
std::filesystem::path module_path(std::string_view name = "ktlsaccel");

struct command_result {
	int status;		/* exit status, or 128 + signal */
	std::string output;	/* stdout and stderr, interleaved */
};

/* Runs a /bin/sh command line, capturing its output. */
command_result run(const std::string &command);

/* Throws (fails the test) unless the command exits 0; returns its output. */
std::string check_output(const std::string &command);

/* Kernel log lines that match tests/kernel-log-patterns.txt. */
bool kernel_log_line_is_bad(std::string_view line);

} // namespace ktlsaccel::vmtest

/* SPDX-License-Identifier: MIT */
/*
 * The guest kernel-log check shared by the in-guest listener and the host
 * unit tests: tests/kernel-log-patterns.txt holds one extended regular
 * expression per line; a log line that matches any of them is a failure.
 * (scripts/vm-run applies the same file with grep -E.)
 */
#pragma once

#include <filesystem>
#include <regex>
#include <string_view>
#include <vector>

namespace ktlsaccel::testutil {

class KernelLogPatterns {
public:
	/* Throws std::runtime_error when the file cannot be read or is empty. */
	explicit KernelLogPatterns(const std::filesystem::path &file);

	bool is_bad(std::string_view line) const;
	std::size_t size() const { return patterns_.size(); }

private:
	std::vector<std::regex> patterns_;
};

} // namespace ktlsaccel::testutil

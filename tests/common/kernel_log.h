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
#include <string>
#include <string_view>
#include <vector>

namespace ktlsaccel::testutil {

class KernelLogPatterns {
public:
	/* Throws std::runtime_error when the file cannot be read or is empty. */
	explicit KernelLogPatterns(const std::filesystem::path &file);

	bool is_bad(std::string_view line) const;
	std::size_t size() const { return patterns_.size(); }

	/* Pattern i alone: its text as in the file, and whether it matches. */
	const std::string &text(std::size_t i) const { return texts_.at(i); }
	bool matches(std::size_t i, std::string_view line) const;

private:
	std::vector<std::regex> patterns_;
	std::vector<std::string> texts_;
};

} // namespace ktlsaccel::testutil

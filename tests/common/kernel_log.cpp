// SPDX-License-Identifier: MIT

#include "kernel_log.h"

#include <fstream>
#include <stdexcept>
#include <string>

namespace ktlsaccel::testutil {

KernelLogPatterns::KernelLogPatterns(const std::filesystem::path &file)
{
	std::ifstream f(file);
	if (!f)
		throw std::runtime_error("cannot read " + file.string());
	for (std::string line; std::getline(f, line);) {
		if (line.empty() || line[0] == '#')
			continue;
		patterns_.emplace_back(line, std::regex::extended);
		texts_.push_back(line);
	}
	if (patterns_.empty())
		throw std::runtime_error(file.string() + " holds no patterns");
}

bool KernelLogPatterns::is_bad(std::string_view line) const
{
	for (std::size_t i = 0; i < patterns_.size(); i++)
		if (matches(i, line))
			return true;
	return false;
}

bool KernelLogPatterns::matches(std::size_t i, std::string_view line) const
{
	return std::regex_search(line.begin(), line.end(), patterns_.at(i));
}

} // namespace ktlsaccel::testutil

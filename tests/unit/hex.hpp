// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// "9b be 43 6b..." or "9bbe436b..." as bytes (spaces ignored).
inline std::vector<std::uint8_t> unhex(std::string_view s)
{
	std::vector<std::uint8_t> out;
	int hi = -1;
	for (char c : s) {
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
			hi = -1;
		}
	}
	return out;
}

inline std::vector<std::uint8_t> bytes(std::span<const std::uint8_t> s)
{
	return {s.begin(), s.end()};
}

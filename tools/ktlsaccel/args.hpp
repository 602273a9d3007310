// SPDX-License-Identifier: MIT
//
// Values of command arguments. Each parser returns the value or the complete
// message for a bad one, naming the value and the argument, quoted:
//	invalid value 'abc' for 'queues': expected a number from 1 to 256
#pragma once

#include <cstdint>
#include <expected>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace ktlsaccel::cli {

template <class T> using Parsed = std::expected<T, std::string>;

// A decimal number in [min, max].
Parsed<std::uint64_t> parse_number(std::string_view name, std::string_view text,
				   std::uint64_t min, std::uint64_t max);

// A byte count or rate: a number with an optional suffix K, M, G, T (powers
// of 1000) or Ki, Mi, Gi, Ti (powers of 1024), optionally followed by "B"
// or "B/s"; "1.5G" is allowed. At most max.
Parsed<std::uint64_t> parse_size(std::string_view name, std::string_view text,
				 std::uint64_t max);

// One of `names`; returns its index in the list.
Parsed<std::size_t> parse_choice(std::string_view name, std::string_view text,
				 std::initializer_list<std::string_view> names);

// "invalid value '<text>' for '<name>': expected <what>"
std::string invalid_value(std::string_view name, std::string_view text, std::string_view what);

} // namespace ktlsaccel::cli

#include <ktlsaccel/control.hpp>

#include <functional>
#include <span>
#include <vector>

namespace ktlsaccel::cli {

// One KEY of a `KEY VALUE ...` list: apply() stores the parsed value or
// returns the message for a bad one.
struct KeyParser {
	std::string_view key;
	std::function<Parsed<void>(std::string_view value)> apply;
};

// Walks `KEY VALUE [KEY VALUE ...]`; `what` names the kind of key in the
// message for an unknown one ("setting", "fault").
Parsed<void> parse_key_values(std::span<const std::string> args, std::span<const KeyParser> keys,
			      std::string_view what);

// `backend ALG MODE` of `set`: ALG one of the module's three algorithms,
// MODE auto, cpu or a driver name.
Parsed<control::backend_change> parse_backend(std::string_view alg, std::string_view mode);

// The argument lists of `set`, `fault` and `reset`.
Parsed<control::config_change> parse_set_args(std::span<const std::string> args);
Parsed<control::fault_change> parse_fault_args(std::span<const std::string> args);
Parsed<std::uint32_t> parse_reset_args(std::span<const std::string> args);

} // namespace ktlsaccel::cli

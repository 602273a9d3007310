// SPDX-License-Identifier: MIT
//
// The output layer of the CLI, after iproute2's print_*(PRINT_ANY, ...): a
// field is printed by one call that carries both its JSON key and its human
// format, so the JSON and the human output cannot drift apart. In human mode
// the value goes through the fmt format string; in JSON mode it lands under
// the key (the netlink attribute name from ktlsaccel.yaml) in a document
// that is written out by end_document().
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ktlsaccel::cli {

enum class OutputFormat { human, json, json_pretty };

class Printer {
public:
	Printer(std::ostream &out, OutputFormat format) : out_(out), format_(format) {}
	Printer(const Printer &) = delete;
	Printer &operator=(const Printer &) = delete;

	bool json() const noexcept { return format_ != OutputFormat::human; }

	// JSON structure; nothing in human mode. key empty: inside an array
	// (or the document itself).
	void open_object(std::string_view key = {});
	void close_object();
	void open_array(std::string_view key = {});
	void close_array();

	// Fields. `fmt` is an fmt format string with one argument.
	void print_uint(std::string_view key, std::string_view fmt, std::uint64_t v);
	void print_string(std::string_view key, std::string_view fmt, std::string_view v);
	// Human: scaled with a suffix ("1.5G"), or `zero` for 0 if given; JSON:
	// the exact number.
	void print_size(std::string_view key, std::string_view fmt, std::uint64_t v,
			std::string_view zero = {});
	// Absent in JSON when nullopt; human prints `none` in its place.
	void print_opt_uint(std::string_view key, std::string_view fmt,
			    std::optional<std::uint64_t> v, std::string_view none);
	// JSON: an array of numbers; human: `text`, a summary the caller made of
	// the same values (e.g. percentiles of a histogram).
	void print_uint_array(std::string_view key, std::string_view text,
			      std::span<const std::uint64_t> v);

	// The general case: `text` for people, `value` for JSON (omitted when
	// null).
	void print_any(std::string_view key, std::string_view text, nlohmann::ordered_json value);

	// Human only: literal text, a newline.
	void print_text(std::string_view text);
	void print_nl();

	// Writes the JSON document (one line, or indented with -p) and starts
	// a new one; a no-op in human mode apart from flushing.
	void end_document();

private:
	nlohmann::ordered_json &current();
	void open(std::string_view key, nlohmann::ordered_json empty);
	void put(std::string_view key, nlohmann::ordered_json value);

	std::ostream &out_;
	OutputFormat format_;
	nlohmann::ordered_json doc_;
	std::vector<nlohmann::ordered_json *> stack_;
};

// `s` fit for a terminal: control characters and bytes that are not valid
// UTF-8 become '?' (strings such as a task's comm are arbitrary bytes).
std::string printable(std::string_view s);
// "1.5G", "512", "64K": decimal SI steps of 1000, up to three significant
// digits.
std::string human_size(std::uint64_t v);
// A latency in microseconds for people: "12us", "1.5ms", "-" for nullopt.
std::string human_us(std::optional<double> us);

} // namespace ktlsaccel::cli

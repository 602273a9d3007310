// SPDX-License-Identifier: MIT

#include "output.hpp"

#include <fmt/format.h>

#include <cassert>
#include <cmath>

namespace ktlsaccel::cli {

nlohmann::ordered_json &Printer::current()
{
	return stack_.empty() ? doc_ : *stack_.back();
}

void Printer::put(std::string_view key, nlohmann::ordered_json value)
{
	auto &cur = current();
	if (key.empty() || cur.is_array()) {
		cur.push_back(std::move(value));
		return;
	}
	cur[std::string(key)] = std::move(value);
}

void Printer::open(std::string_view key, nlohmann::ordered_json empty)
{
	if (!json())
		return;
	if (stack_.empty() && doc_.is_null() && key.empty()) {
		doc_ = std::move(empty);
		stack_.push_back(&doc_);
		return;
	}
	if (current().is_null())
		current() = nlohmann::ordered_json::object();
	put(key, std::move(empty));
	auto &cur = current();
	stack_.push_back(cur.is_array() ? &cur.back() : &cur[std::string(key)]);
}

void Printer::open_object(std::string_view key)
{
	open(key, nlohmann::ordered_json::object());
}

void Printer::open_array(std::string_view key)
{
	open(key, nlohmann::ordered_json::array());
}

void Printer::close_object()
{
	if (!json())
		return;
	assert(!stack_.empty() && stack_.back()->is_object());
	stack_.pop_back();
}

void Printer::close_array()
{
	if (!json())
		return;
	assert(!stack_.empty() && stack_.back()->is_array());
	stack_.pop_back();
}

void Printer::print_uint(std::string_view key, std::string_view fmt, std::uint64_t v)
{
	if (json())
		put(key, v);
	else
		out_ << fmt::format(fmt::runtime(fmt), v);
}

void Printer::print_string(std::string_view key, std::string_view fmt, std::string_view v)
{
	if (json())
		put(key, std::string(v));
	else
		out_ << fmt::format(fmt::runtime(fmt), printable(v));
}

void Printer::print_size(std::string_view key, std::string_view fmt, std::uint64_t v,
			 std::string_view zero)
{
	if (json())
		put(key, v);
	else if (v == 0 && !zero.empty())
		out_ << fmt::format(fmt::runtime(fmt), zero);
	else
		out_ << fmt::format(fmt::runtime(fmt), human_size(v));
}

void Printer::print_opt_uint(std::string_view key, std::string_view fmt,
			     std::optional<std::uint64_t> v, std::string_view none)
{
	if (json()) {
		if (v)
			put(key, *v);
	} else if (v) {
		out_ << fmt::format(fmt::runtime(fmt), std::to_string(*v));
	} else {
		out_ << fmt::format(fmt::runtime(fmt), none);
	}
}

void Printer::print_uint_array(std::string_view key, std::string_view text,
			       std::span<const std::uint64_t> v)
{
	if (json())
		put(key, nlohmann::ordered_json(std::vector<std::uint64_t>(v.begin(), v.end())));
	else
		out_ << text;
}

void Printer::print_any(std::string_view key, std::string_view text, nlohmann::ordered_json value)
{
	if (!json())
		out_ << text;
	else if (!value.is_null())
		put(key, std::move(value));
}

void Printer::print_text(std::string_view text)
{
	if (!json())
		out_ << text;
}

void Printer::print_nl()
{
	if (!json())
		out_ << '\n';
}

void Printer::end_document()
{
	if (json()) {
		assert(stack_.empty() || (stack_.size() == 1 && stack_[0] == &doc_));
		if (doc_.is_null())
			doc_ = nlohmann::ordered_json::object();
		/* Strings such as a task's comm are bytes anyone can set, not
		 * necessarily UTF-8: what is not valid becomes U+FFFD rather
		 * than an exception. */
		out_ << doc_.dump(format_ == OutputFormat::json_pretty ? 2 : -1, ' ', false,
				  nlohmann::ordered_json::error_handler_t::replace)
		     << '\n';
		doc_ = nullptr;
		stack_.clear();
	}
	out_.flush();
}

namespace {

/* Length of the valid UTF-8 sequence at the start of s, 0 if there is none. */
std::size_t utf8_length(std::string_view s)
{
	auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
	auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
		return i < s.size() && b(i) >= lo && b(i) <= hi;
	};
	unsigned char c = b(0);
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return cont(1) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return cont(1, lo, hi) && cont(2) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
	}
	return 0;
}

} // namespace

std::string printable(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	while (!s.empty()) {
		std::size_t n = utf8_length(s);
		unsigned char c = static_cast<unsigned char>(s[0]);
		/* C0 and C1 controls and DEL would drive the terminal. */
		bool control = (n == 1 && (c < 0x20 || c == 0x7f)) ||
			       (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[1]) < 0xa0);
		if (n == 0 || control) {
			out += '?';
			n = n ? n : 1;
		} else {
			out += s.substr(0, n);
		}
		s.remove_prefix(n);
	}
	return out;
}

std::string human_size(std::uint64_t v)
{
	static constexpr const char *suffix[] = {"", "K", "M", "G", "T", "P", "E"};
	if (v < 1000)
		return std::to_string(v);
	double x = static_cast<double>(v);
	int i = 0;
	while (x >= 999.95 && i < 6) {
		x /= 1000;
		i++;
	}
	if (x >= 99.95)
		return fmt::format("{:.0f}{}", x, suffix[i]);
	if (x >= 9.995)
		return fmt::format("{:.1f}{}", x, suffix[i]);
	return fmt::format("{:.2f}{}", x, suffix[i]);
}

std::string human_us(std::optional<double> us)
{
	if (!us)
		return "-";
	double v = *us;
	if (v < 1000)
		return fmt::format("{:.0f}us", v);
	if (v < 1e6)
		return fmt::format("{:.1f}ms", v / 1e3);
	return fmt::format("{:.2f}s", v / 1e6);
}

} // namespace ktlsaccel::cli

// SPDX-License-Identifier: MIT

#include "args.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cmath>

namespace ktlsaccel::cli {

std::string invalid_value(std::string_view name, std::string_view text, std::string_view what)
{
	return fmt::format("invalid value '{}' for '{}': expected {}", text, name, what);
}

Parsed<std::uint64_t> parse_number(std::string_view name, std::string_view text,
				   std::uint64_t min, std::uint64_t max)
{
	std::uint64_t v = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
	if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min ||
	    v > max)
		return std::unexpected(
			invalid_value(name, text, fmt::format("a number from {} to {}", min, max)));
	return v;
}

Parsed<std::uint64_t> parse_size(std::string_view name, std::string_view text,
				 std::uint64_t max)
{
	auto bad = [&] {
		return std::unexpected(invalid_value(
			name, text,
			fmt::format("a size like 4096, 64K, 100M or 1.5G (at most {})", max)));
	};
	std::string_view rest = text;
	if (rest.ends_with("/s"))
		rest.remove_suffix(2);
	if (rest.ends_with('B') || rest.ends_with('b'))
		rest.remove_suffix(1);
	double mult = 1;
	bool binary = rest.ends_with('i') || rest.ends_with('I');
	if (binary)
		rest.remove_suffix(1);
	if (!rest.empty()) {
		static constexpr std::string_view units = "KMGT";
		char u = rest.back();
		if (u == 'k')
			u = 'K';
		auto pos = units.find(u);
		if (pos != std::string_view::npos) {
			mult = std::pow(binary ? 1024.0 : 1000.0, static_cast<double>(pos + 1));
			rest.remove_suffix(1);
		} else if (binary) {
			return bad();
		}
	}
	if (rest.empty() || rest.front() == '-' || rest.front() == '+')
		return bad();
	double x = 0;
	auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), x,
					 std::chars_format::fixed);
	if (ec != std::errc() || end != rest.data() + rest.size() || !std::isfinite(x))
		return bad();
	double v = std::round(x * mult);
	if (v > static_cast<double>(max) || v >= 18446744073709551616.0)
		return bad();
	/* "1.5" bytes is no size. */
	if (mult == 1 && x != std::floor(x))
		return bad();
	return static_cast<std::uint64_t>(v);
}

Parsed<std::size_t> parse_choice(std::string_view name, std::string_view text,
				 std::initializer_list<std::string_view> names)
{
	std::size_t i = 0;
	for (auto n : names) {
		if (n == text)
			return i;
		i++;
	}
	std::string list;
	i = 0;
	for (auto n : names) {
		list += i == 0 ? "" : (i + 1 == names.size() ? " or " : ", ");
		list += n;
		i++;
	}
	return std::unexpected(invalid_value(name, text, list));
}

} // namespace ktlsaccel::cli

namespace ktlsaccel::cli {

Parsed<void> parse_key_values(std::span<const std::string> args, std::span<const KeyParser> keys,
			      std::string_view what)
{
	if (args.empty())
		return std::unexpected(fmt::format("no {} given", what));
	std::vector<std::string_view> seen;
	for (std::size_t i = 0; i < args.size(); i += 2) {
		std::string_view key = args[i];
		const KeyParser *kp = nullptr;
		for (const auto &k : keys)
			if (k.key == key)
				kp = &k;
		if (!kp) {
			std::string list;
			for (const auto &k : keys)
				list += (list.empty() ? "" : ", ") + std::string(k.key);
			return std::unexpected(fmt::format("unknown {} '{}': expected one of {}",
							   what, key, list));
		}
		if (i + 1 >= args.size())
			return std::unexpected(fmt::format("missing value for '{}'", key));
		for (auto s : seen)
			if (s == key)
				return std::unexpected(fmt::format("'{}' given more than once", key));
		seen.push_back(key);
		if (auto r = kp->apply(args[i + 1]); !r)
			return r;
	}
	return {};
}

namespace {

// Stores a parsed value into an optional field, or passes the error on.
template <class Field, class V> Parsed<void> store(Field &field, Parsed<V> v)
{
	if (!v)
		return std::unexpected(v.error());
	field = static_cast<typename Field::value_type>(*v);
	return {};
}

} // namespace

Parsed<control::backend_change> parse_backend(std::string_view alg, std::string_view mode)
{
	static constexpr std::string_view algs[] = {"gcm(aes)", "rfc7539(chacha20,poly1305)",
						     "ccm(aes)"};
	if (std::find(std::begin(algs), std::end(algs), alg) == std::end(algs))
		return std::unexpected(invalid_value(
			"backend", alg, "gcm(aes), rfc7539(chacha20,poly1305) or ccm(aes)"));
	control::backend_change b{std::string(alg), control::backend_mode::auto_, {}};
	if (mode == "auto")
		return b;
	if (mode == "cpu") {
		b.mode = control::backend_mode::cpu;
		return b;
	}
	/* A crypto API driver name: at most CRYPTO_MAX_ALG_NAME - 1 printable bytes. */
	bool ok = !mode.empty() && mode.size() < 128 && mode != "driver" &&
		  std::all_of(mode.begin(), mode.end(),
			      [](char ch) { return ch > 0x20 && ch < 0x7f; });
	if (!ok)
		return std::unexpected(invalid_value(
			fmt::format("backend {}", alg), mode,
			"auto, cpu or the driver name of an asynchronous implementation"));
	b.mode = control::backend_mode::driver;
	b.driver = std::string(mode);
	return b;
}

Parsed<control::config_change> parse_set_args(std::span<const std::string> all)
{
	control::config_change c;
	/* "backend ALG MODE" takes two values: taken out first, the rest are KEY VALUE pairs. */
	std::vector<std::string> args;
	for (std::size_t i = 0; i < all.size();) {
		if (all[i] != "backend") {
			args.push_back(all[i]);
			if (i + 1 < all.size())
				args.push_back(all[i + 1]);
			i += 2;
			continue;
		}
		if (i + 2 >= all.size())
			return std::unexpected(std::string(
				"'backend' wants an algorithm and auto, cpu or a driver name"));
		auto b = parse_backend(all[i + 1], all[i + 2]);
		if (!b)
			return std::unexpected(b.error());
		for (const auto &x : c.backends)
			if (x.alg == b->alg)
				return std::unexpected(fmt::format(
					"'backend {}' given more than once", b->alg));
		c.backends.push_back(std::move(*b));
		i += 3;
	}
	if (args.empty() && !c.backends.empty())
		return c;
	const KeyParser keys[] = {
		{"queues", [&](auto v) { return store(c.queues, parse_number("queues", v, 1, 256)); }},
		{"depth", [&](auto v) { return store(c.depth, parse_number("depth", v, 1, 65536)); }},
		{"dispatch",
		 [&](auto v) { return store(c.dispatch, parse_choice("dispatch", v, {"spread", "flow"})); }},
		{"latency-us",
		 [&](auto v) { return store(c.latency_us, parse_number("latency-us", v, 0, 10000000)); }},
		{"throughput",
		 [&](auto v) { return store(c.throughput, parse_size("throughput", v, UINT64_MAX)); }},
		{"inline-threshold",
		 [&](auto v) {
			 return store(c.inline_threshold, parse_size("inline-threshold", v, UINT32_MAX));
		 }},
		{"decrypt",
		 [&](auto v) { return store(c.decrypt, parse_choice("decrypt", v, {"inline", "async"})); }},
		{"inline",
		 [&](auto v) { return store(c.inline_mode, parse_choice("inline", v, {"auto", "never"})); }},
		/* Never reached (taken out above); listed for the unknown-key message. */
		{"backend", [&](auto) -> Parsed<void> { return {}; }},
	};
	if (auto r = parse_key_values(args, keys, "setting"); !r)
		return std::unexpected(r.error());
	return c;
}

Parsed<control::fault_change> parse_fault_args(std::span<const std::string> args)
{
	control::fault_change c;
	const KeyParser keys[] = {
		{"rate", [&](auto v) { return store(c.rate, parse_number("rate", v, 0, 1000000)); }},
		{"errno",
		 [&](auto v) -> Parsed<void> {
			 auto i = parse_choice("errno", v, {"EBADMSG", "EIO"});
			 if (!i)
				 return std::unexpected(i.error());
			 c.error = *i == 0 ? EBADMSG : EIO;
			 return {};
		 }},
		{"ops",
		 [&](auto v) -> Parsed<void> {
			 auto i = parse_choice("ops", v, {"decrypt", "encrypt", "both"});
			 return store(c.ops, i ? Parsed<std::uint32_t>(*i + 1)
					       : std::unexpected(i.error()));
		 }},
		{"delay-us",
		 [&](auto v) { return store(c.delay_us, parse_number("delay-us", v, 0, 10000000)); }},
		{"stall-queue",
		 [&](auto v) { return store(c.stall_queue, parse_number("stall-queue", v, 0, 255)); }},
	};
	if (auto r = parse_key_values(args, keys, "fault setting"); !r)
		return std::unexpected(r.error());
	return c;
}

Parsed<std::uint32_t> parse_reset_args(std::span<const std::string> args)
{
	if (args.empty())
		return control::reset_all;
	std::uint32_t mask = 0;
	for (const auto &a : args) {
		auto i = parse_choice("reset", a, {"engine", "flows", "all"});
		if (!i)
			return std::unexpected(i.error());
		mask |= *i == 0 ? control::reset_engine
			: *i == 1 ? control::reset_flows
				   : control::reset_all;
	}
	return mask;
}

} // namespace ktlsaccel::cli

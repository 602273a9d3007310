// SPDX-License-Identifier: MIT
//
// Global options and dispatch: `ktlsaccel [-j|-p] <command> [args]`.

#include "cli.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <ostream>

#ifndef KTLSACCEL_VERSION
#define KTLSACCEL_VERSION "0"
#endif

namespace ktlsaccel::cli {

namespace {

constexpr std::array kCommands{
	Command{"show", "device, configuration, totals and a queue table", setup_show},
	Command{"queues", "per-queue detail", setup_queues},
	Command{"flows", "per-flow detail (one flow per kTLS socket and direction)", setup_flows},
	Command{"set", "change the configuration: set KEY VALUE [KEY VALUE ...]", setup_set},
	Command{"fault", "show, set or clear fault injection", setup_fault},
	Command{"reset", "zero the counters: reset [engine|flows]", setup_reset},
	Command{"monitor", "print configuration changes as they happen", setup_monitor},
	Command{"top", "live per-queue rates and latency", setup_top},
	Command{"selftest", "known-answer tests of the AEAD drivers through AF_ALG", setup_selftest},
};

} // namespace

std::span<const Command> commands()
{
	return kCommands;
}

int Context::fail(std::string_view message) const
{
	err << "ktlsaccel: " << message << '\n';
	return 1;
}

int Context::fail(const std::error_code &ec, std::string_view extack) const
{
	if (ec == control::errc::not_loaded) {
		err << control::describe(ec) << '\n';
		return 1;
	}
	return fail(control::describe(ec, extack));
}

int Context::with_client(const std::function<result<void>(control::client &)> &f) const
{
	auto c = control::client::open();
	if (!c)
		return fail(c.error());
	if (auto r = f(*c); !r)
		return fail(r.error(), c->extack());
	return 0;
}

CLI::Validator seconds_in(double min, double max)
{
	return CLI::Validator(
		[min, max](std::string &s) -> std::string {
			double v = 0;
			auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
			if (s.empty() || ec != std::errc() || end != s.data() + s.size() ||
			    !std::isfinite(v) || v < min || v > max)
				return fmt::format("invalid value '{}': expected a number of "
						   "seconds from {:g} to {:g}", s, min, max);
			return {};
		},
		fmt::format("SECONDS in [{:g} - {:g}]", min, max));
}

int run_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err,
	    bool out_is_tty)
{
	CLI::App app{"Inspect and control ktlsaccel, the asynchronous AEAD engine of kernel TLS",
		     "ktlsaccel"};
	app.require_subcommand(1);
	app.set_version_flag("--version", "ktlsaccel " KTLSACCEL_VERSION);
	app.footer("See ktlsaccel(8).\n");
	bool json = false, pretty = false;
	app.add_flag("-j,--json", json, "JSON output");
	app.add_flag("-p,--pretty", pretty, "pretty-printed JSON output (implies -j)");

	std::vector<std::pair<CLI::App *, Runner>> runners;
	for (const auto &cmd : kCommands) {
		CLI::App *sub = app.add_subcommand(std::string(cmd.name), std::string(cmd.help));
		/* -j/-p also after the command name: `ktlsaccel show -j`. */
		sub->add_flag("-j,--json", json, "JSON output");
		sub->add_flag("-p,--pretty", pretty, "pretty-printed JSON output (implies -j)");
		runners.emplace_back(sub, cmd.setup(*sub));
	}

	/* CLI11 wants argv order reversed in a vector. */
	std::vector<std::string> rev(args.rbegin(), args.rend());
	try {
		app.parse(rev);
	} catch (const CLI::CallForHelp &) {
		out << app.help();
		return 0;
	} catch (const CLI::CallForAllHelp &) {
		out << app.help("", CLI::AppFormatMode::All);
		return 0;
	} catch (const CLI::CallForVersion &e) {
		out << e.what() << '\n';
		return 0;
	} catch (const CLI::RequiredError &e) {
		/* No command: name the word that was not one. */
		for (const auto &a : args) {
			if (a.starts_with('-'))
				continue;
			if (std::ranges::any_of(kCommands, [&](const Command &c) { return c.name == a; }))
				break;
			std::string list;
			for (const auto &c : kCommands)
				list += (list.empty() ? "" : ", ") + std::string(c.name);
			err << "ktlsaccel: unknown command '" << a << "': expected one of " << list
			    << '\n';
			return 1;
		}
		err << "ktlsaccel: " << e.what() << "\nTry 'ktlsaccel --help'.\n";
		return 1;
	} catch (const CLI::ParseError &e) {
		err << "ktlsaccel: " << e.what() << "\nTry 'ktlsaccel --help'.\n";
		return 1;
	}

	Context ctx{out, err};
	ctx.format = pretty ? OutputFormat::json_pretty
			    : json ? OutputFormat::json : OutputFormat::human;
	ctx.out_is_tty = out_is_tty;
	for (auto &[sub, run] : runners) {
		if (!sub->parsed())
			continue;
		try {
			return run(ctx);
		} catch (const std::exception &e) {
			return ctx.fail(std::string("internal error: ") + e.what());
		}
	}
	return ctx.fail("no command given");
}

} // namespace ktlsaccel::cli

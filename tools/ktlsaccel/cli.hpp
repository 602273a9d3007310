// SPDX-License-Identifier: MIT
//
// The ktlsaccel CLI as a library: run_cli() parses a command line and runs
// one command from the table; main() is a thin wrapper, and the unit tests
// call run_cli() with string streams.
#pragma once

#include "output.hpp"

#include <ktlsaccel/control.hpp>

#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class Validator;
}

namespace ktlsaccel::cli {

// What a command runs with once its arguments are parsed.
struct Context {
	std::ostream &out;
	std::ostream &err;
	OutputFormat format = OutputFormat::human;
	bool out_is_tty = false;

	// "ktlsaccel: <message>" on err; returns the exit status 1.
	int fail(std::string_view message) const;
	// A control error in control::describe()'s words: the not-loaded text
	// exactly as it is, anything else prefixed with the program name.
	int fail(const std::error_code &ec, std::string_view extack = {}) const;
	// Opens a client and runs `f` with it: 0, or 1 after reporting why the
	// client could not be opened or `f` failed.
	int with_client(const std::function<result<void>(control::client &)> &f) const;
};

using Runner = std::function<int(Context &)>;

// One row of the command table: its name, one line of help, and a function
// that declares its arguments on `app` and returns what runs it.
struct Command {
	std::string_view name;
	std::string_view help;
	Runner (*setup)(CLI::App &app);
};

// The table, in the order `ktlsaccel --help` lists it.
std::span<const Command> commands();

// For a CLI11 option of seconds: a finite decimal number in [min, max]
// (CLI11's Range lets "nan" through, and "1e300" overflows a clock).
CLI::Validator seconds_in(double min, double max);

// args excludes the program name. Returns the exit status (0 or 1).
int run_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err,
	    bool out_is_tty = false);

// One setup function per command, each in its own source file.
Runner setup_show(CLI::App &app);
Runner setup_queues(CLI::App &app);
Runner setup_flows(CLI::App &app);
Runner setup_set(CLI::App &app);
Runner setup_fault(CLI::App &app);
Runner setup_reset(CLI::App &app);
Runner setup_monitor(CLI::App &app);
Runner setup_top(CLI::App &app);
Runner setup_selftest(CLI::App &app);

} // namespace ktlsaccel::cli

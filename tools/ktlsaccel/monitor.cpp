// SPDX-License-Identifier: MIT
//
// ktlsaccel monitor [--count N] [--timeout S]: one block (or JSON document
// per line) for every configuration change the module announces.

#include "cli.hpp"
#include "print.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>

namespace ktlsaccel::cli {

namespace {

struct MonitorOptions {
	unsigned count = 0;	// 0: for ever
	double timeout = 0;	// seconds without a notification; 0: none
};

} // namespace

Runner setup_monitor(CLI::App &app)
{
	auto o = std::make_shared<MonitorOptions>();
	app.add_option("-c,--count", o->count, "exit after N notifications")
		->check(CLI::PositiveNumber);
	app.add_option("-t,--timeout", o->timeout,
		       "exit with status 1 when no notification arrives for S seconds")
		->check(seconds_in(0.001, 86400.0));
	return [o](Context &ctx) {
		auto mon = control::monitor::open();
		if (!mon)
			return ctx.fail(mon.error());
		Printer p(ctx.out, ctx.format);
		auto timeout = o->timeout > 0
				       ? std::chrono::milliseconds(std::llround(o->timeout * 1000))
				       : std::chrono::milliseconds(-1);
		for (unsigned n = 0; o->count == 0 || n < o->count; n++) {
			auto dev = mon->wait(timeout);
			if (!dev) {
				if (dev.error() == control::errc::timeout)
					return ctx.fail(fmt::format(
						"no configuration change within {:g} s", o->timeout));
				if (dev.error() == std::errc::no_buffer_space) {
					/* Say so, and keep listening. */
					ctx.fail(dev.error(), "notifications were lost");
					n--;
					continue;
				}
				return ctx.fail(dev.error());
			}
			p.open_object();
			p.print_text("config changed\n");
			print_device(p, *dev);
			p.close_object();
			p.end_document();
		}
		return 0;
	};
}

} // namespace ktlsaccel::cli

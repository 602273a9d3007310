// SPDX-License-Identifier: MIT
//
// ktlsaccel reset [engine|flows]: zero the counters (all of them by default).

#include "args.hpp"
#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <memory>

namespace ktlsaccel::cli {

Runner setup_reset(CLI::App &app)
{
	auto args = std::make_shared<std::vector<std::string>>();
	app.add_option("what", *args, "engine (device totals and queues), flows, or all (default)");
	return [args](Context &ctx) {
		auto mask = parse_reset_args(*args);
		if (!mask)
			return ctx.fail(mask.error());
		return ctx.with_client([&](control::client &c) { return c.reset_stats(*mask); });
	};
}

} // namespace ktlsaccel::cli

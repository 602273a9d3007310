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
		auto client = ctx.open_client();
		if (!client)
			return 1;
		if (auto r = client->reset_stats(*mask); !r)
			return ctx.fail(r.error());
		return 0;
	};
}

} // namespace ktlsaccel::cli

// SPDX-License-Identifier: MIT
//
// ktlsaccel flows: one line per flow (a kTLS socket and direction).

#include "cli.hpp"
#include "print.hpp"

#include <CLI/CLI.hpp>

namespace ktlsaccel::cli {

Runner setup_flows(CLI::App &)
{
	return [](Context &ctx) {
		return ctx.with_client([&](control::client &c) -> result<void> {
			auto flows = c.dump_flows();
			if (!flows)
				return std::unexpected(flows.error());
			Printer p(ctx.out, ctx.format);
			print_flow_table(p, *flows);
			p.end_document();
			return {};
		});
	};
}

} // namespace ktlsaccel::cli

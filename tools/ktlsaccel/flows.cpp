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
		auto client = ctx.open_client();
		if (!client)
			return 1;
		auto flows = client->dump_flows();
		if (!flows)
			return ctx.fail(flows.error());

		Printer p(ctx.out, ctx.format);
		print_flow_table(p, *flows);
		p.end_document();
		return 0;
	};
}

} // namespace ktlsaccel::cli

// SPDX-License-Identifier: MIT
//
// ktlsaccel queues: every counter of every queue.

#include "cli.hpp"
#include "print.hpp"

#include <CLI/CLI.hpp>

namespace ktlsaccel::cli {

Runner setup_queues(CLI::App &)
{
	return [](Context &ctx) {
		auto client = ctx.open_client();
		if (!client)
			return 1;
		auto queues = client->dump_queues();
		if (!queues)
			return ctx.fail(queues.error());

		Printer p(ctx.out, ctx.format);
		p.open_array();
		for (const auto &q : *queues)
			print_queue(p, q);
		p.close_array();
		p.end_document();
		return 0;
	};
}

} // namespace ktlsaccel::cli

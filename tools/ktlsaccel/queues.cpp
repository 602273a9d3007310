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
		return ctx.with_client([&](control::client &c) -> result<void> {
			auto queues = c.dump_queues();
			if (!queues)
				return std::unexpected(queues.error());
			Printer p(ctx.out, ctx.format);
			p.open_array();
			for (const auto &q : *queues)
				print_queue(p, q);
			p.close_array();
			p.end_document();
			return {};
		});
	};
}

} // namespace ktlsaccel::cli

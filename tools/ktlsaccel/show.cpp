// SPDX-License-Identifier: MIT
//
// ktlsaccel show: the device, its configuration, totals and a queue table.

#include "cli.hpp"
#include "print.hpp"

#include <CLI/CLI.hpp>

namespace ktlsaccel::cli {

Runner setup_show(CLI::App &)
{
	return [](Context &ctx) {
		return ctx.with_client([&](control::client &c) -> result<void> {
			auto dev = c.get_device();
			if (!dev)
				return std::unexpected(dev.error());
			auto queues = c.dump_queues();
			if (!queues)
				return std::unexpected(queues.error());
			Printer p(ctx.out, ctx.format);
			p.open_object();
			print_device(p, *dev);
			p.print_nl();
			print_queue_table(p, "queue", *queues);
			p.close_object();
			p.end_document();
			return {};
		});
	};
}

} // namespace ktlsaccel::cli

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
		auto client = ctx.open_client();
		if (!client)
			return 1;
		auto dev = client->get_device();
		if (!dev)
			return ctx.fail(dev.error());
		auto queues = client->dump_queues();
		if (!queues)
			return ctx.fail(queues.error());

		Printer p(ctx.out, ctx.format);
		p.open_object();
		print_device(p, *dev);
		p.print_nl();
		print_queue_table(p, "queue", *queues);
		p.close_object();
		p.end_document();
		return 0;
	};
}

} // namespace ktlsaccel::cli

// SPDX-License-Identifier: MIT
//
// ktlsaccel fault                      the fault injection in force
// ktlsaccel fault KEY VALUE [...]      change it (what is not named stays)
// ktlsaccel fault clear                turn every fault off

#include "args.hpp"
#include "cli.hpp"
#include "print.hpp"

#include <CLI/CLI.hpp>

#include <memory>

namespace ktlsaccel::cli {

Runner setup_fault(CLI::App &app)
{
	auto args = std::make_shared<std::vector<std::string>>();
	app.add_option("settings", *args,
		       "clear, or KEY VALUE pairs: rate N (per million), errno EBADMSG|EIO, "
		       "ops decrypt|encrypt|both, delay-us N, stall-queue N");
	return [args](Context &ctx) {
		if (args->empty()) {
			return ctx.with_client([&](control::client &c) -> result<void> {
				auto dev = c.get_device();
				if (!dev)
					return std::unexpected(dev.error());
				Printer p(ctx.out, ctx.format);
				p.open_object();
				print_fault(p, dev->fault);
				p.close_object();
				p.end_document();
				return {};
			});
		}
		if ((*args)[0] == "clear") {
			if (args->size() > 1)
				return ctx.fail("'fault clear' takes no more arguments, got '" +
						(*args)[1] + "'");
			return ctx.with_client([](control::client &c) { return c.clear_fault(); });
		}
		auto change = parse_fault_args(*args);
		if (!change)
			return ctx.fail(change.error());
		return ctx.with_client([&](control::client &c) { return c.set_fault(*change); });
	};
}

} // namespace ktlsaccel::cli

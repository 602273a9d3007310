// SPDX-License-Identifier: MIT
//
// ktlsaccel set KEY VALUE [KEY VALUE ...]: one DEV_SET with every change, so
// they apply together or not at all.

#include "args.hpp"
#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <memory>

namespace ktlsaccel::cli {

Runner setup_set(CLI::App &app)
{
	auto args = std::make_shared<std::vector<std::string>>();
	app.add_option("settings", *args,
		       "KEY VALUE pairs: queues N, depth N, dispatch spread|flow, latency-us N, "
		       "throughput RATE (e.g. 100M, 1G bytes/s; 0: no cap), inline-threshold BYTES, "
		       "decrypt inline|async, inline auto|never, "
		       "backend ALG auto|cpu|DRIVER (ALG: gcm(aes), rfc7539(chacha20,poly1305), ccm(aes))")
		->required()
		->allow_extra_args();
	return [args](Context &ctx) {
		auto change = parse_set_args(*args);
		if (!change)
			return ctx.fail(change.error());
		return ctx.with_client([&](control::client &c) { return c.set_config(*change); });
	};
}

} // namespace ktlsaccel::cli

// SPDX-License-Identifier: MIT
//
// ktlsaccel top [--interval S] [--iterations N]: per-queue rates between two
// samples: records/s, MB/s, requests in flight, p50/p99 latency of the
// requests that completed in the interval (from the histogram deltas). On a
// terminal the screen is redrawn; otherwise (or with -j) one frame follows
// the other.

#include "cli.hpp"
#include "print.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>
#include <thread>

namespace ktlsaccel::cli {

namespace {

struct TopOptions {
	double interval = 1.0;
	unsigned iterations = 0;	// 0: until interrupted
};

using Sample = TopSample;

result<Sample> take_sample(control::client &client)
{
	auto q = client.dump_queues();
	if (!q)
		return std::unexpected(q.error());
	return Sample{std::chrono::steady_clock::now(), std::move(*q)};
}

nlohmann::ordered_json opt_json(std::optional<double> v)
{
	return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}

} // namespace

void print_top_frame(Printer &p, const Sample &before, const Sample &now)
{
	double secs = std::chrono::duration<double>(now.when - before.when).count();
	if (secs <= 0)
		secs = 1e-9;
	std::map<std::uint32_t, const control::stats *> old;
	for (const auto &q : before.queues)
		old[q.index] = &q.stats;

	p.print_text(fmt::format("{:>5} {:>12} {:>10} {:>9} {:>8} {:>8}\n", "queue", "records/s",
				 "MB/s", "in-flight", "p50", "p99"));
	p.open_object();
	p.open_array("queue");
	control::stats total_now, total_before;
	for (const auto &q : now.queues) {
		auto it = old.find(q.index);
		control::stats d =
			it == old.end() ? q.stats : control::stats::delta(q.stats, *it->second);
		double rps = static_cast<double>(d.completed) / secs;
		double mbps = static_cast<double>(d.bytes) / secs / 1e6;
		p.open_object();
		p.print_uint("index", "{:>5}", q.index);
		p.print_any("records-per-s", fmt::format(" {:>12.0f}", rps), rps);
		p.print_any("mb-per-s", fmt::format(" {:>10.1f}", mbps), mbps);
		p.print_uint("in-flight", " {:>9}", d.in_flight);
		p.print_any("p50-us", fmt::format(" {:>8}", human_us(d.p50_us())), opt_json(d.p50_us()));
		p.print_any("p99-us", fmt::format(" {:>8}", human_us(d.p99_us())), opt_json(d.p99_us()));
		p.print_nl();
		p.close_object();
	}
	p.close_array();
	p.close_object();
}

namespace {

// Samples every interval and prints a frame, until the iterations are done.
result<void> top(Context &ctx, const TopOptions &o, control::client &client)
{
	auto prev = take_sample(client);
	if (!prev)
		return std::unexpected(prev.error());
	bool redraw = ctx.out_is_tty && ctx.format == OutputFormat::human;
	Printer p(ctx.out, ctx.format);
	for (unsigned n = 0; o.iterations == 0 || n < o.iterations; n++) {
		std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
		auto cur = take_sample(client);
		if (!cur)
			return std::unexpected(cur.error());
		if (redraw)
			ctx.out << "\033[H\033[2J"
				<< fmt::format("ktlsaccel top: every {:g} s, {} queues\n\n", o.interval,
					       cur->queues.size());
		print_top_frame(p, *prev, *cur);
		p.end_document();
		if (!redraw && !p.json())
			ctx.out << '\n';
		prev = std::move(cur);
	}
	return {};
}

} // namespace

Runner setup_top(CLI::App &app)
{
	auto o = std::make_shared<TopOptions>();
	app.add_option("-i,--interval", o->interval, "seconds between samples (default 1)")
		->check(seconds_in(0.05, 3600.0));
	app.add_option("-n,--iterations", o->iterations, "stop after N frames")
		->check(CLI::PositiveNumber);
	return [o](Context &ctx) {
		return ctx.with_client([&](control::client &client) { return top(ctx, *o, client); });
	};
}

} // namespace ktlsaccel::cli

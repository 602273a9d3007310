// SPDX-License-Identifier: MIT

#include "print.hpp"

#include <fmt/format.h>

#include <cstring>

namespace ktlsaccel::cli {

std::string latency_summary(const control::stats &s)
{
	return fmt::format("p50 {} p99 {}", human_us(s.p50_us()), human_us(s.p99_us()));
}

void print_stats(Printer &p, const control::stats &s)
{
	p.open_object("stats");
	p.print_uint("submitted", "\tsubmitted {}", s.submitted);
	p.print_uint("completed", " completed {}", s.completed);
	p.print_uint("errors", " errors {}", s.errors);
	p.print_uint("backlogged", " backlogged {}", s.backlogged);
	p.print_uint("rejected", " rejected {}", s.rejected);
	p.print_uint("inlined", " inlined {}", s.inlined);
	p.print_uint("faults", " faults {}", s.faults);
	p.print_nl();
	p.print_size("bytes", "\tbytes {}", s.bytes);
	p.print_uint("in-flight", " in-flight {}", s.in_flight);
	p.print_uint("max-in-flight", " max-in-flight {}", s.max_in_flight);
	p.print_uint_array("latency", " latency " + latency_summary(s), s.latency);
	p.print_nl();
	p.print_uint("inline-waiter", "\tinline-waiter {}", s.inline_waiter);
	p.print_uint("inline-lone", " inline-lone {}", s.inline_lone);
	p.print_uint("inline-full", " inline-full {}", s.inline_full);
	p.print_uint("inline-policy", " inline-policy {}", s.inline_policy);
	p.print_uint("held", " held {}", s.held);
	p.print_nl();
	p.close_object();
}

void print_backends(Printer &p, std::span<const control::backend> backends)
{
	p.open_array("backend");
	for (const auto &b : backends) {
		p.open_object();
		p.print_string("alg", "\tbackend alg {}", b.alg);
		p.print_string("mode", " mode {}", to_string(b.mode));
		/* No driver: the module's CPU workers run this algorithm. */
		if (!b.driver.empty())
			p.print_string("driver", " driver {}", b.driver);
		p.print_nl();
		p.close_object();
	}
	p.close_array();
}

namespace {

std::string errno_name(std::uint32_t e)
{
	switch (e) {
	case 0: return "none";
	case EBADMSG: return "EBADMSG";
	case EIO: return "EIO";
	}
	return std::to_string(e);
}

} // namespace

void print_fault(Printer &p, const control::fault &f)
{
	p.open_object("fault");
	p.print_text("\tfault");
	p.print_uint("rate", " rate {}", f.rate);
	p.print_string("errno", " errno {}", errno_name(f.error));
	p.print_string("ops", " ops {}", to_string(f.ops));
	p.print_uint("delay-us", " delay-us {}", f.delay_us);
	p.print_opt_uint("stall-queue", " stall-queue {}",
			 f.stall_queue ? std::optional<std::uint64_t>(*f.stall_queue) : std::nullopt,
			 "none");
	p.print_nl();
	p.close_object();
}

void print_device(Printer &p, const control::device_info &d)
{
	p.print_text("ktlsaccel:");
	p.print_uint("priority", " priority {}", d.priority);
	p.print_uint("flows", " flows {}", d.flows);
	p.print_nl();
	p.print_uint("queues", "\tqueues {}", d.queues);
	p.print_uint("depth", " depth {}", d.depth);
	p.print_string("dispatch", " dispatch {}", to_string(d.dispatch));
	p.print_uint("latency-us", " latency-us {}", d.latency_us);
	p.print_size("throughput", " throughput {}", d.throughput, "unlimited");
	p.print_size("inline-threshold", " inline-threshold {}", d.inline_threshold);
	p.print_string("decrypt", " decrypt {}", to_string(d.decrypt));
	p.print_string("inline", " inline {}", to_string(d.inline_mode));
	p.print_nl();
	print_backends(p, d.backends);
	print_fault(p, d.fault);
	print_stats(p, d.stats);
}

void print_queue(Printer &p, const control::queue_info &q)
{
	p.open_object();
	p.print_uint("index", "queue {}:", q.index);
	p.print_uint("ring", " ring {}", q.ring);
	p.print_uint("backlog", " backlog {}", q.backlog);
	p.print_nl();
	print_stats(p, q.stats);
	p.close_object();
}

void print_queue_table(Printer &p, std::string_view key, std::span<const control::queue_info> queues)
{
	p.print_text(fmt::format("{:>5} {:>6} {:>7} {:>9} {:>12} {:>8} {:>8} {:>8} {:>8}\n",
				 "queue", "ring", "backlog", "in-flight", "completed", "errors",
				 "bytes", "p50", "p99"));
	p.open_array(key);
	for (const auto &q : queues) {
		p.open_object();
		p.print_uint("index", "{:>5}", q.index);
		p.print_uint("ring", " {:>6}", q.ring);
		p.print_uint("backlog", " {:>7}", q.backlog);
		p.open_object("stats");
		p.print_uint("in-flight", " {:>9}", q.stats.in_flight);
		p.print_uint("completed", " {:>12}", q.stats.completed);
		p.print_uint("errors", " {:>8}", q.stats.errors);
		p.print_size("bytes", " {:>8}", q.stats.bytes);
		p.print_uint_array("latency",
				   fmt::format(" {:>8} {:>8}", human_us(q.stats.p50_us()),
					       human_us(q.stats.p99_us())),
				   q.stats.latency);
		p.close_object();
		p.print_nl();
		p.close_object();
	}
	p.close_array();
}

void print_flow_table(Printer &p, std::span<const control::flow_info> flows)
{
	p.print_text(fmt::format("{:>6} {:>7} {:<16} {:<4} {:<28} {:<32} {:>4} {:>10} {:>6} {:>8} {:>9} {:>6}\n",
				 "id", "pid", "comm", "dir", "alg", "backend", "key", "completed",
				 "errors", "bytes", "in-flight", "max"));
	p.open_array();
	for (const auto &f : flows) {
		p.open_object();
		p.print_uint("id", "{:>6}", f.id);
		p.print_uint("pid", " {:>7}", f.pid);
		p.print_string("comm", " {:<16}", f.comm);
		p.print_string("direction", " {:<4}", to_string(f.direction));
		p.print_string("alg", " {:<28}", f.alg);
		/* Empty: a module that does not report it; JSON leaves it out. */
		p.print_any("backend", fmt::format(" {:<32}", f.backend.empty() ? "-" : printable(f.backend)),
			    f.backend.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(f.backend));
		p.print_uint("key-bits", " {:>4}", f.key_bits);
		p.open_object("stats");
		p.print_uint("completed", " {:>10}", f.stats.completed);
		p.print_uint("errors", " {:>6}", f.stats.errors);
		p.print_size("bytes", " {:>8}", f.stats.bytes);
		p.print_uint("in-flight", " {:>9}", f.stats.in_flight);
		p.print_uint("max-in-flight", " {:>6}", f.stats.max_in_flight);
		p.close_object();
		p.print_nl();
		p.close_object();
	}
	p.close_array();
}

} // namespace ktlsaccel::cli

/* SPDX-License-Identifier: MIT */
/*
 * Hand-made replies of the ktlsaccel family for the CLI and client tests: a
 * device under load with four queues and two flows.
 */
#pragma once

#include <ktlsaccel/control.hpp>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

namespace ktlsaccel::testfix {

/* Whether this host has ktlsaccel.ko loaded (then "not loaded" tests skip). */
inline bool module_loaded()
{
	std::ifstream in("/proc/modules");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("ktlsaccel ", 0) == 0)
			return true;
	return false;
}

inline control::stats sample_stats(std::uint64_t scale)
{
	control::stats s;
	s.submitted = 1000 * scale + 3;
	s.completed = 1000 * scale;
	s.errors = 1 * scale;
	s.backlogged = 7 * scale;
	s.rejected = 2;
	s.inlined = 11 * scale;
	s.faults = 1 * scale;
	s.bytes = 16384000 * scale;
	s.in_flight = 3;
	s.max_in_flight = 42;
	s.inline_waiter = 5 * scale;
	s.inline_lone = 3 * scale;
	s.inline_full = 2 * scale;
	s.inline_policy = 1 * scale;
	s.held = 9 * scale;
	/* Most requests took 16..31 us, a tail 256..511 us. */
	s.latency[4] = 980 * scale;
	s.latency[8] = 20 * scale;
	return s;
}

inline control::device_info sample_device()
{
	control::device_info d;
	d.priority = 4001;
	d.queues = 4;
	d.depth = 256;
	d.dispatch = control::dispatch_policy::flow;
	d.latency_us = 20;
	d.throughput = 1000000000;
	d.inline_threshold = 256;
	d.decrypt = control::decrypt_policy::async;
	d.flows = 2;
	d.inline_mode = control::inline_policy::never;
	d.backends = {
		{"gcm(aes)", control::backend_mode::auto_, "ktlsaccel-testcard-gcm-aes"},
		{"rfc7539(chacha20,poly1305)", control::backend_mode::cpu, ""},
		{"ccm(aes)", control::backend_mode::driver, "cryptd(ccm_base(ctr(aes-generic),cbcmac(aes-generic)))"},
	};
	d.fault.rate = 1000;
	d.fault.error = EBADMSG;
	d.fault.ops = control::fault_ops::decrypt;
	d.fault.delay_us = 5;
	d.fault.stall_queue = 2;
	d.stats = sample_stats(4);
	return d;
}

inline std::vector<control::queue_info> sample_queues()
{
	std::vector<control::queue_info> v;
	for (std::uint32_t i = 0; i < 4; i++)
		v.push_back(control::queue_info{i, 1 + i, i == 2 ? 5u : 0u, sample_stats(1)});
	return v;
}

inline std::vector<control::flow_info> sample_flows()
{
	control::flow_info tx{7, 1234, "curl", "gcm(aes)", 128, control::flow_direction::tx, sample_stats(2),
		    "ktlsaccel-testcard-gcm-aes"};
	control::flow_info rx{8, 1234, "curl", "rfc7539(chacha20,poly1305)", 256, control::flow_direction::rx,
		    sample_stats(2), "cpu"};
	return {tx, rx};
}

} // namespace ktlsaccel::testfix

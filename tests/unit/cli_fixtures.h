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

inline Stats sample_stats(std::uint64_t scale)
{
	Stats s;
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

inline DeviceInfo sample_device()
{
	DeviceInfo d;
	d.priority = 4001;
	d.queues = 4;
	d.depth = 256;
	d.dispatch = Dispatch::flow;
	d.latency_us = 20;
	d.throughput = 1000000000;
	d.inline_threshold = 256;
	d.decrypt = Decrypt::async;
	d.flows = 2;
	d.inline_mode = InlineMode::never;
	d.backends = {
		{"gcm(aes)", BackendMode::auto_, "ktlsaccel-testcard-gcm-aes"},
		{"rfc7539(chacha20,poly1305)", BackendMode::cpu, ""},
		{"ccm(aes)", BackendMode::driver, "cryptd(ccm_base(ctr(aes-generic),cbcmac(aes-generic)))"},
	};
	d.fault.rate = 1000;
	d.fault.error = EBADMSG;
	d.fault.ops = FaultOps::decrypt;
	d.fault.delay_us = 5;
	d.fault.stall_queue = 2;
	d.stats = sample_stats(4);
	return d;
}

inline std::vector<QueueInfo> sample_queues()
{
	std::vector<QueueInfo> v;
	for (std::uint32_t i = 0; i < 4; i++)
		v.push_back(QueueInfo{i, 1 + i, i == 2 ? 5u : 0u, sample_stats(1)});
	return v;
}

inline std::vector<FlowInfo> sample_flows()
{
	FlowInfo tx{7, 1234, "curl", "gcm(aes)", 128, Direction::tx, sample_stats(2),
		    "ktlsaccel-testcard-gcm-aes"};
	FlowInfo rx{8, 1234, "curl", "rfc7539(chacha20,poly1305)", 256, Direction::rx,
		    sample_stats(2), "cpu"};
	return {tx, rx};
}

} // namespace ktlsaccel::testfix

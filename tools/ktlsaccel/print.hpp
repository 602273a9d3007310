// SPDX-License-Identifier: MIT
//
// The objects of the ktlsaccel family on a Printer. Keys are the attribute
// names of uapi/linux/ktlsaccel.yaml; human output uses the same words.
#pragma once

#include "output.hpp"

#include <ktlsaccel/control.hpp>

#include <chrono>
#include <span>
#include <vector>

namespace ktlsaccel::cli {

// "stats" nest: every counter, human as three indented lines.
void print_stats(Printer &p, const control::stats &s);
// "fault" nest.
void print_fault(Printer &p, const control::fault &f);
// The backend of each algorithm (DEV_GET's KTLSACCEL_A_DEV_BACKEND nests).
void print_backends(Printer &p, std::span<const control::backend> backends);
// The DEV_GET attributes: header, configuration, fault, totals.
void print_device(Printer &p, const control::device_info &d);
// One queue in full (ktlsaccel queues).
void print_queue(Printer &p, const control::queue_info &q);
// A compact table of queues under `key` (ktlsaccel show).
void print_queue_table(Printer &p, std::string_view key, std::span<const control::queue_info> queues);
// A table of flows (ktlsaccel flows).
void print_flow_table(Printer &p, std::span<const control::flow_info> flows);

// Two samples of the queues, and one frame of `ktlsaccel top` between them.
struct TopSample {
	std::chrono::steady_clock::time_point when;
	std::vector<control::queue_info> queues;
};
void print_top_frame(Printer &p, const TopSample &before, const TopSample &now);

// "p50 12us p99 1.5ms"
std::string latency_summary(const control::stats &s);

} // namespace ktlsaccel::cli

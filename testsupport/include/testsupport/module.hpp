// SPDX-License-Identifier: MIT
//
// Loading and unloading ktlsaccel.ko, its load-time parameters, and its
// run-time settings (through netlink, the only way to change them), for
// the tests of the module and for ktlsaccel-bench. Root only.
#pragma once

#include <ktlsaccel/keys.hpp>

#include <filesystem>
#include <string>

namespace ktlsaccel::testsupport {

// The module's driver that serves the cipher's algorithm.
std::string module_driver(cipher c);

// The whole of a file (sysfs, procfs, debugfs); throws when it cannot be read.
std::string read_file(const std::filesystem::path &p);

bool module_loaded();

// Waits (up to 5 minutes, then throws) until the kernel's self-tests of
// all the module's algorithms passed: 6.12 runs them after insmod returned.
void wait_for_selftests();

// Loads ko with params ("queues=2 depth=8") as insmod does, then waits for
// the self-tests. Throws std::system_error when the kernel refuses it.
void load_module(const std::filesystem::path &ko, const std::string &params = "");

// Unloads the module, retrying for 10 s while a self-test or a closing
// socket still holds it; false if it is still loaded.
bool unload_module();

// /sys/module/ktlsaccel/parameters/<name>: what it was loaded with.
std::string get_param(const std::string &name);

// Run-time settings by the names (and in the words) of the module
// parameters that once were writable: dispatch (spread|flow),
// inline_threshold, decrypt (inline|async), fault_rate, fault_errno (5|74),
// fault_ops (decrypt|encrypt|both), fault_delay_us, fault_stall_queue
// (-1: none), and the engine's queues, depth, latency_us, throughput.
// set_knobs("queues=4 depth=16 latency_us=100") sends one DEV_SET and/or
// one FAULT_SET with all of them (fault_stall_queue=-1 is a FAULT_CLEAR
// followed by a FAULT_SET of the other faults in force). Throws
// std::runtime_error, with the kernel's extack, for an unknown name, a
// value that does not parse or one the kernel refuses.
void set_knobs(const std::string &assignments);
void set_knob(const std::string &name, const std::string &value);
// The setting now, read with DEV_GET, in the same words.
std::string get_knob(const std::string &name);

} // namespace ktlsaccel::testsupport

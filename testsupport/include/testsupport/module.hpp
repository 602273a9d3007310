// SPDX-License-Identifier: MIT
//
// Loading and unloading ktlsaccel.ko and its parameters in sysfs, for the
// tests of the module and for ktlsaccel-bench. Root only.
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

// /sys/module/ktlsaccel/parameters/<name>; set_param throws on failure.
void set_param(const std::string &name, const std::string &value);
std::string get_param(const std::string &name);

} // namespace ktlsaccel::testsupport

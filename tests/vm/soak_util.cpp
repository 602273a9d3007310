// SPDX-License-Identifier: MIT
#include "soak_util.hpp"
#include "vm.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ktlsaccel::vmtest {

unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *v = std::getenv(name);
	if (!v || !*v)
		return def;
	return std::strtoul(v, nullptr, 0);
}

std::map<std::string, long long> kmalloc_caches()
{
	std::ifstream f("/proc/slabinfo");
	std::map<std::string, long long> m;
	for (std::string line; std::getline(f, line);) {
		if (!line.starts_with("kmalloc-"))
			continue;
		std::istringstream in(line);
		std::string name;
		long long active, objs, size;
		in >> name >> active >> objs >> size;
		m[name] = active * size;
	}
	/* No numbers would make every leak check pass: refuse instead. */
	if (m.empty())
		throw std::runtime_error("/proc/slabinfo has no kmalloc- caches (unreadable, or "
					 "a kernel without CONFIG_SLUB_DEBUG)");
	return m;
}

long long kmalloc_bytes()
{
	long long total = 0;
	for (auto &[name, bytes] : kmalloc_caches())
		total += bytes;
	return total;
}

std::string kmalloc_growth(const std::map<std::string, long long> &before,
			   const std::map<std::string, long long> &after, long long min)
{
	std::string out;
	for (auto &[name, bytes] : after) {
		auto it = before.find(name);
		long long d = bytes - (it == before.end() ? 0 : it->second);
		if (d > min)
			out += " " + name + " +" + std::to_string(d);
	}
	return out;
}

long long meminfo_slab_bytes()
{
	std::ifstream f("/proc/meminfo");
	for (std::string line; std::getline(f, line);) {
		if (!line.starts_with("Slab:"))
			continue;
		std::istringstream in(line.substr(5));
		long long kb = 0;
		in >> kb;
		return kb * 1024;
	}
	return -1;
}

void settle_memory()
{
	/*
	 * Sockets, tfms and kTLS contexts are freed after an RCU grace period
	 * or from work items; give them time, then let the slab allocator
	 * give back empty slabs.
	 */
	/*
	 * SLUB counts every object of a CPU's current and partial slabs as
	 * active in /proc/slabinfo; "shrink" flushes those back, so what is
	 * counted is what is allocated. Under KASAN it also empties the
	 * cache's quarantine, where freed objects otherwise stay counted
	 * (20 module load/unload cycles read +1.8 MB without it).
	 */
	for (int i = 0; i < 6; i++) {
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		run("sync; echo 3 > /proc/sys/vm/drop_caches; "
		    "for f in /sys/kernel/slab/*/shrink; do echo 1 > $f; done 2>/dev/null");
	}
}

static const char *const kmemleak = "/sys/kernel/debug/kmemleak";

bool kmemleak_available()
{
	run("mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug");
	return std::filesystem::exists(kmemleak);
}

void kmemleak_clear()
{
	check_output(std::string("echo clear > ") + kmemleak);
}

std::string kmemleak_report()
{
	/* Objects younger than 5 s are never reported: wait that out first. */
	std::this_thread::sleep_for(std::chrono::seconds(6));
	check_output(std::string("echo scan > ") + kmemleak);
	std::this_thread::sleep_for(std::chrono::seconds(1));
	check_output(std::string("echo scan > ") + kmemleak);
	return check_output(std::string("cat ") + kmemleak);
}

static std::uint64_t mix(std::uint64_t x)
{
	/* splitmix64's finaliser */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void stream_bytes(std::uint64_t seed, std::uint64_t offset, std::uint8_t *out, std::size_t n)
{
	std::uint64_t word_index = offset / 8;
	std::uint64_t w = mix(seed ^ mix(word_index));
	for (std::size_t i = 0; i < n; i++) {
		std::uint64_t off = offset + i;
		if (off / 8 != word_index) {
			word_index = off / 8;
			w = mix(seed ^ mix(word_index));
		}
		out[i] = static_cast<std::uint8_t>(w >> (8 * (off % 8)));
	}
}

} // namespace ktlsaccel::vmtest

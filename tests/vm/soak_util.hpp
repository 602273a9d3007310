/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the soak and lifecycle-torture tests (test_soak.cpp,
 * test_module_torture.cpp): settings from the environment, slab usage and
 * kmemleak, and a byte stream that a receiver can check at any offset.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ktlsaccel::vmtest {

/* An unsigned setting from the environment, or @def when unset or empty. */
unsigned long env_ulong(const char *name, unsigned long def);

/* Bytes in use in the kmalloc-* caches (/proc/slabinfo, active objects). */
long long kmalloc_bytes();
/* The same per cache: name -> bytes in use. */
std::map<std::string, long long> kmalloc_caches();
/* Caches that grew by more than @min bytes from @before to @after, as text. */
std::string kmalloc_growth(const std::map<std::string, long long> &before,
			   const std::map<std::string, long long> &after, long long min);
/* Slab: of /proc/meminfo, in bytes. */
long long meminfo_slab_bytes();
/* Frees what can be freed (sync, drop_caches), waits for RCU callbacks. */
void settle_memory();

/*
 * kmemleak (CONFIG_DEBUG_KMEMLEAK): nullopt when this kernel has none;
 * otherwise clear() forgets what was reported so far and report() scans
 * (twice, as kmemleak only reports objects unreferenced in two scans
 * after their minimum age) and returns what it found ("" when nothing).
 */
bool kmemleak_available();
void kmemleak_clear();
std::string kmemleak_report();

/*
 * Pseudo-random bytes that depend only on (seed, offset), so a sender can
 * produce them in chunks of any size and a receiver check any range.
 */
void stream_bytes(std::uint64_t seed, std::uint64_t offset, std::uint8_t *out,
		  std::size_t n);

} // namespace ktlsaccel::vmtest

// SPDX-License-Identifier: MIT
//
// Lifecycle of ktlsaccel.ko: the kernel's module refcount keeps it loaded
// while a tfm uses it, and repeated load/unload cycles leave nothing behind
// (algorithms, threads, slab memory).

#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace ktlsaccel::vmtest;

namespace {

/* Bytes in use in the kmalloc caches, where the module's allocations live. */
long long kmalloc_bytes()
{
	std::ifstream f("/proc/slabinfo");
	long long total = 0;
	for (std::string line; std::getline(f, line);) {
		if (!line.starts_with("kmalloc-"))
			continue;
		std::istringstream in(line);
		std::string name;
		long long active, objs, size;
		in >> name >> active >> objs >> size;
		total += active * size;
	}
	return total;
}

void one_request()
{
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(bytes(16, 1)), 0);
	bytes out;
	ASSERT_EQ(a.encrypt(bytes(12, 2), bytes(13, 3), bytes(100, 4), 16, out), 0);
}

} // namespace

TEST(ModuleLifecycle, UnloadIsRefusedWhileATfmExistsAndWorksOnceItIsFreed)
{
	check_output("mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug");
	check_output("insmod " + module_path().string());
	wait_for_selftests();
	{
		aead a("ktlsaccel-gcm-aes");
		ASSERT_EQ(a.setkey(bytes(16, 1)), 0);
		auto r = run("rmmod ktlsaccel");
		EXPECT_NE(r.status, 0) << r.output;
		EXPECT_TRUE(module_loaded());
	}
	EXPECT_TRUE(unload_module());
	EXPECT_FALSE(module_loaded());
}

TEST(ModuleLifecycle, TwentyLoadUnloadCyclesLeaveNothingBehind)
{
	/* A first cycle warms caches (crypto templates, debugfs, kcapi). */
	{
		loaded_module mod("queues=4");
		one_request();
	}
	run("sync; echo 2 > /proc/sys/vm/drop_caches");
	long long before = kmalloc_bytes();
	for (int i = 0; i < 20; i++) {
		loaded_module mod("queues=4");
		one_request();
	}
	run("sync; echo 2 > /proc/sys/vm/drop_caches");
	long long after = kmalloc_bytes();
	std::printf("20 load/unload cycles: kmalloc bytes in use %lld -> %lld (%+lld)\n",
		    before, after, after - before);
	RecordProperty("kmalloc_growth", std::to_string(after - before));
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(check_output("grep -c ktlsaccel /proc/crypto || true"), "0\n");
	EXPECT_EQ(check_output("ps -e -o comm= | grep -c '^ktlsaccel/' || true"), "0\n");
	EXPECT_FALSE(std::filesystem::exists("/sys/kernel/debug/ktlsaccel"));
	/* Each cycle allocates several KiB; noise from the rest of the system stays below this. */
	EXPECT_LT(after - before, 256 * 1024);
}

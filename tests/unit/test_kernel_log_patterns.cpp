// SPDX-License-Identifier: MIT
//
// The kernel-log check fails a VM run on real warning, oops, sanitizer,
// lockdep and crypto self-test lines (samples in the kernels' own formats)
// and lets ordinary boot and kTLS messages through.

#include "kernel_log.h"

#include <gtest/gtest.h>

using ktlsaccel::testutil::KernelLogPatterns;

namespace {

const KernelLogPatterns &patterns()
{
	static const KernelLogPatterns p(KTLSACCEL_SOURCE_DIR "/tests/kernel-log-patterns.txt");
	return p;
}

TEST(KernelLogPatterns, FlagsEveryKindOfKernelProblem)
{
	const char *bad[] = {
		"WARNING: CPU: 1 PID: 231 at net/tls/tls_sw.c:1234 tls_sw_recvmsg+0x5a/0x60 [tls]",
		"BUG: kernel NULL pointer dereference, address: 0000000000000008",
		"Oops: 0000 [#1] PREEMPT SMP NOPTI",
		"general protection fault, probably for non-canonical address 0xdead000000000100",
		"BUG: KASAN: slab-use-after-free in tls_decrypt_done+0x1c/0x1e0 [tls]",
		"UBSAN: array-index-out-of-bounds in drivers/foo.c:12:3",
		"alg: self-tests for gcm(aes) (ktlsaccel-gcm-aes) failed (rc=-22)",
		"alg: aead: ktlsaccel-gcm-aes encryption test failed (wrong result) on test vector 2",
		"WARNING: possible circular locking dependency detected",
		"WARNING: possible recursive locking detected",
		"WARNING: inconsistent lock state",
		"WARNING: suspicious RCU usage",
		"BUG: sleeping function called from invalid context at mm/slab.h:742",
		"BUG: scheduling while atomic: kworker/0:1/12/0x00000002",
		"INFO: task kworker/u4:2:51 blocked for more than 120 seconds.",
		"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
		"kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
		"list_add corruption. prev->next should be next (ffff8880), but was 0000000000000000.",
		"Kernel panic - not syncing: Fatal exception",
	};
	for (const char *line : bad)
		EXPECT_TRUE(patterns().is_bad(line)) << line;
}

TEST(KernelLogPatterns, LetsOrdinaryMessagesThrough)
{
	const char *good[] = {
		"Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)",
		"tls: loading out-of-tree module taints kernel.",
		"ktlsaccel: registered gcm(aes), rfc7539(chacha20,poly1305), ccm(aes) at priority 4001",
		"alg: No test for __gcm(aes) (__generic-gcm-aesni)",
		"clocksource: Switched to clocksource tsc",
		"9pnet_virtio: no channels available for device hostroot",
		"random: crng init done",
	};
	for (const char *line : good)
		EXPECT_FALSE(patterns().is_bad(line)) << line;
}

} // namespace

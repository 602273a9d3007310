// SPDX-License-Identifier: MIT
//
// The kernel-log check fails a VM run on real warning, oops, sanitizer,
// lockdep and crypto self-test lines (samples in the kernels' own formats)
// and lets ordinary boot and kTLS messages through.

#include "kernel_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using ktlsaccel::testutil::KernelLogPatterns;

namespace {

const KernelLogPatterns &patterns()
{
	static const KernelLogPatterns p(KTLSACCEL_SOURCE_DIR "/tests/kernel-log-patterns.txt");
	return p;
}

// Lines of real kernel logs. Those marked "alone" are matched by their
// own pattern only, not by a broader one (WARNING:, BUG:), so a typo in
// that pattern cannot hide behind the broad one.
const char *const kBad[] = {
	"WARNING: CPU: 1 PID: 231 at net/tls/tls_sw.c:1234 tls_sw_recvmsg+0x5a/0x60 [tls]",
	"BUG: kernel NULL pointer dereference, address: 0000000000000008",
	"Oops: 0000 [#1] PREEMPT SMP NOPTI",
	"general protection fault, probably for non-canonical address 0xdead000000000100",
	"BUG: KASAN: slab-use-after-free in tls_decrypt_done+0x1c/0x1e0 [tls]",
	/* alone: KASAN's line after a general protection fault */
	"KASAN: null-ptr-deref in range [0x0000000000000008-0x000000000000000f]",
	"UBSAN: array-index-out-of-bounds in drivers/foo.c:12:3",
	/* alone: BUG_ON() */
	"kernel BUG at mm/slub.c:1!",
	"alg: self-tests for gcm(aes) (ktlsaccel-gcm-aes) failed (rc=-22)",
	"alg: aead: ktlsaccel-gcm-aes encryption test failed (wrong result) on test vector 2",
	/* alone: testmgr's AEAD error path since 5.x */
	"alg: aead: ktlsaccel-gcm-aes encryption failed on test vector 1; expected_error=0, "
	"actual_error=-74, cfg=\"random: inplace_one_sglist may_sleep use_digest\"",
	"WARNING: possible circular locking dependency detected",
	"WARNING: possible recursive locking detected",
	"WARNING: inconsistent lock state",
	"WARNING: suspicious RCU usage",
	/* alone: lockdep's headlines before Linux 4.15 */
	"[ INFO: possible circular locking dependency detected ]",
	"[ INFO: possible recursive locking detected ]",
	"[ INFO: inconsistent lock state ]",
	"[ INFO: suspicious RCU usage. ]",
	"BUG: sleeping function called from invalid context at mm/slab.h:742",
	"BUG: scheduling while atomic: kworker/0:1/12/0x00000002",
	"INFO: task kworker/u4:2:51 blocked for more than 120 seconds.",
	"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
	"kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
	"list_add corruption. prev->next should be next (ffff8880), but was 0000000000000000.",
	"list_del corruption, ffff888005c1e0c8->next is LIST_POISON1 (dead000000000100)",
	"Kernel panic - not syncing: Fatal exception",
};

// Which pattern each "alone" line above stands for.
const std::pair<const char *, const char *> kAlone[] = {
	{"KASAN", "KASAN: null-ptr-deref in range [0x0000000000000008-0x000000000000000f]"},
	{"kernel BUG", "kernel BUG at mm/slub.c:1!"},
	{"alg: .* failed on test",
	 "alg: aead: ktlsaccel-gcm-aes encryption failed on test vector 1; expected_error=0, "
	 "actual_error=-74, cfg=\"random: inplace_one_sglist may_sleep use_digest\""},
	{"possible circular locking dependency", "[ INFO: possible circular locking dependency detected ]"},
	{"possible recursive locking", "[ INFO: possible recursive locking detected ]"},
	{"inconsistent lock state", "[ INFO: inconsistent lock state ]"},
	{"suspicious RCU usage", "[ INFO: suspicious RCU usage. ]"},
};

TEST(KernelLogPatterns, FlagsEveryKindOfKernelProblem)
{
	for (const char *line : kBad)
		EXPECT_TRUE(patterns().is_bad(line)) << line;
}

// Each pattern of the file on its own matches some sample: one that does
// not (a typo, or a pattern no kernel line fits) fails here even when a
// broader pattern catches all the samples.
TEST(KernelLogPatterns, EveryPatternMatchesASample)
{
	ASSERT_GT(patterns().size(), 0u);
	for (std::size_t i = 0; i < patterns().size(); i++) {
		bool matched = false;
		for (const char *line : kBad)
			matched = matched || patterns().matches(i, line);
		EXPECT_TRUE(matched) << "no sample line matches the pattern '" << patterns().text(i)
				     << "'";
	}
}

// The "alone" lines are caught by their own pattern and no other, so the
// check above cannot pass for them through WARNING: or BUG:.
TEST(KernelLogPatterns, SomeLinesAreCaughtByTheirOwnPatternOnly)
{
	for (const auto &[pattern, line] : kAlone) {
		EXPECT_NE(std::find(std::begin(kBad), std::end(kBad), std::string_view(line)),
			  std::end(kBad))
			<< "not among the samples: " << line;
		std::vector<std::string> hits;
		for (std::size_t i = 0; i < patterns().size(); i++)
			if (patterns().matches(i, line))
				hits.push_back(patterns().text(i));
		EXPECT_EQ(hits, std::vector<std::string>{pattern}) << line;
	}
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

// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: raises one kernel WARN when loaded. The VM runner's own
 * tests load it to prove that a warning in the guest's kernel log fails a
 * run whose command succeeded. It is never installed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/module.h>

static int __init test_warn_init(void)
{
	WARN(1, "deliberate warning from the VM runner's self-test\n");
	return 0;
}

static void __exit test_warn_exit(void)
{
}

module_init(test_warn_init);
module_exit(test_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ktlsaccel VM runner self-test: raise a WARN on load");

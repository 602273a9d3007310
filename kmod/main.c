// SPDX-License-Identifier: GPL-2.0
/*
 * ktlsaccel: an asynchronous multi-queue AEAD engine for kernel TLS.
 *
 * The module registers gcm(aes), rfc7539(chacha20,poly1305) and ccm(aes)
 * as asynchronous algorithms at a priority above the CPU implementations,
 * so kTLS (and every other crypto API user) sends its records through a
 * model of a deep-pipeline accelerator: several queues, bounded rings,
 * backlog, modelled latency and throughput, counters and fault injection.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

#include "aead.h"
#include "config.h"
#include "debugfs.h"
#include "netlink.h"

static int __init ktlsaccel_init(void)
{
	int ret;

	/* The configuration from the parameters, the engine it describes. */
	ret = ktlsaccel_config_start();
	if (ret)
		return ret;

	/* The control plane needs only the configuration and the counters. */
	ret = ktlsaccel_netlink_init();
	if (ret)
		goto err_engine;
	ktlsaccel_debugfs_init();

	/*
	 * Last, and nothing may fail after it: from here on other CPUs can
	 * allocate tfms of the algorithms (the module is already live for
	 * try_module_get()), and the kernel tests them. Unregistering them
	 * again on an error path would leave such a tfm with freed code.
	 */
	ret = ktlsaccel_aead_register(ktlsaccel_config_priority());
	if (ret)
		goto err_control;
	pr_info("loaded\n");
	return 0;

err_control:
	ktlsaccel_debugfs_exit();
	ktlsaccel_netlink_exit();
err_engine:
	ktlsaccel_config_stop();
	return ret;
}

static void __exit ktlsaccel_exit(void)
{
	/* No tfm is left: each holds a reference to the module. */
	ktlsaccel_aead_unregister();
	ktlsaccel_debugfs_exit();
	ktlsaccel_netlink_exit();
	ktlsaccel_config_stop();
	pr_info("unloaded\n");
}

module_init(ktlsaccel_init);
module_exit(ktlsaccel_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Asynchronous multi-queue AEAD engine for kernel TLS");
MODULE_AUTHOR("The ktlsaccel authors");
/*
 * No MODULE_ALIAS_CRYPTO(): the engine takes over every user of these
 * algorithms, so it runs only where an administrator loaded it, never
 * because someone asked the crypto API for gcm(aes).
 */

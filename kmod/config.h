/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_CONFIG_H
#define _KTLSACCEL_CONFIG_H

#include <linux/crypto.h>
#include <net/netlink.h>

#include "aead.h"
#include "queue.h"

/*
 * Everything an operator sets, in one place. Load-time module parameters
 * (read-only in sysfs) give the first one; after that only the control
 * plane (netlink) changes it, as a whole, through ktlsaccel_config_apply().
 */
struct ktlsaccel_config {
	struct ktlsaccel_engine_config shape;
	struct ktlsaccel_engine_knobs knobs;
	struct {
		u32 mode;				/* enum ktlsaccel_backend_mode */
		char driver[CRYPTO_MAX_ALG_NAME];	/* mode DRIVER */
	} backend[KTLSACCEL_NR_ALGS];
};

/* Builds the configuration from the parameters and starts the engine. */
int ktlsaccel_config_start(void);
void ktlsaccel_config_stop(void);

/* The crypto API priority the algorithms are registered at (load time). */
int ktlsaccel_config_priority(void);

/* A copy of the configuration in force; a stall that ended reads as none. */
void ktlsaccel_config_get(struct ktlsaccel_config *cfg);

/*
 * Checks @cfg as a whole and, if it is valid, puts it in force: rebuilds
 * the queues when the shape changed, then publishes the rest. Sleeps;
 * serialised with every other change. Returns 0 or -errno with @extack
 * naming the problem; on error nothing changed.
 */
int ktlsaccel_config_apply(const struct ktlsaccel_config *cfg,
			   struct netlink_ext_ack *extack);

/* What FAULT_CLEAR restores: no fault of any kind. */
void ktlsaccel_config_clear_faults(struct ktlsaccel_config *cfg);

/* A stall of queue @queue from now on, for at most KTLSACCEL_MAX_STALL_MS. */
void ktlsaccel_config_stall(struct ktlsaccel_config *cfg, int queue);

#endif /* _KTLSACCEL_CONFIG_H */

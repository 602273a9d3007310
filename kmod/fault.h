/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_FAULT_H
#define _KTLSACCEL_FAULT_H

#include <linux/ktime.h>
#include <linux/types.h>

/*
 * Fault injection, as the operator set it (part of struct ktlsaccel_config;
 * the engine reads its copy on the request path).
 */
struct ktlsaccel_fault_config {
	u32 rate;		/* failures per KTLSACCEL_FAULT_RATE_SCALE */
	u32 err;		/* EBADMSG or EIO, positive */
	u32 ops;		/* enum ktlsaccel_fault_ops */
	u32 delay_us;		/* added to every queued request */
	int stall_queue;	/* -1: none */
	u64 stall_until_ns;	/* a stall ends on its own then */
};

/* No faults: what the module starts with and FAULT_CLEAR restores. */
void ktlsaccel_fault_init(struct ktlsaccel_fault_config *f);

/* 0, or the error to fail this request with instead of its own result. */
int ktlsaccel_fault_error(const struct ktlsaccel_fault_config *f, bool encrypt);

/* Whether the worker of queue @index must leave its ring alone now. */
static inline bool ktlsaccel_fault_stalled(const struct ktlsaccel_fault_config *f,
					   unsigned int index)
{
	/* The clock only when a stall is set: reading it is not free. */
	return f->stall_queue == (int)index && ktime_get_ns() < f->stall_until_ns;
}

#endif /* _KTLSACCEL_FAULT_H */

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_FAULT_H
#define _KTLSACCEL_FAULT_H

#include <linux/types.h>

/* The knobs, as the control plane sees them. */
struct ktlsaccel_fault_config {
	u32 rate;		/* failures per KTLSACCEL_FAULT_RATE_SCALE */
	u32 err;		/* EBADMSG or EIO, positive */
	u32 ops;		/* enum ktlsaccel_fault_ops */
	u32 delay_us;
	int stall_queue;	/* -1: none */
};

void ktlsaccel_fault_get(struct ktlsaccel_fault_config *f);
/* The caller has checked @f; wakes a queue that stops being stalled. */
void ktlsaccel_fault_set(const struct ktlsaccel_fault_config *f);
void ktlsaccel_fault_clear(void);

/* 0, or the error to fail this request with instead of running it. */
int ktlsaccel_fault_error(bool encrypt);
/* Extra modelled latency for every queued request, in nanoseconds. */
u64 ktlsaccel_fault_delay_ns(void);
/* Whether the worker of queue @index must leave its ring alone. */
bool ktlsaccel_fault_stalled(unsigned int index);

#endif /* _KTLSACCEL_FAULT_H */

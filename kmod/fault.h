/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_FAULT_H
#define _KTLSACCEL_FAULT_H

#include <linux/types.h>

/* 0, or the error to fail this request with instead of running it. */
int ktlsaccel_fault_error(bool encrypt);
/* Extra modelled latency for every queued request, in nanoseconds. */
u64 ktlsaccel_fault_delay_ns(void);
/* Whether the worker of queue @index must leave its ring alone. */
bool ktlsaccel_fault_stalled(unsigned int index);

#endif /* _KTLSACCEL_FAULT_H */

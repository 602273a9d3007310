// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection, for testing what kTLS and applications do when the
 * "card" misbehaves. All knobs are module parameters writable at run time
 * (/sys/module/ktlsaccel/parameters/fault_*) and read locklessly on the
 * request path.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/string.h>

#include "fault.h"
#include "param.h"
#include "queue.h"

#define FAULT_RATE_SCALE 1000000

static unsigned int fault_rate;
module_param(fault_rate, uint, 0644);
MODULE_PARM_DESC(fault_rate,
		 "Fail this many requests per million (default 0: none)");

static int fault_errno = EBADMSG;

static int fault_errno_set(const char *val, const struct kernel_param *kp)
{
	int err, v;

	err = kstrtoint(val, 0, &v);
	if (err)
		return err;
	if (v < 0)
		v = -v;
	/*
	 * Only errors a real engine reports: EBADMSG (authentication failed)
	 * and EIO (the device failed). Anything else would exercise error
	 * paths no caller is written for.
	 */
	if (v != EBADMSG && v != EIO)
		return -EINVAL;
	WRITE_ONCE(*(int *)kp->arg, v);
	return 0;
}

static const struct kernel_param_ops fault_errno_ops = {
	.set = fault_errno_set,
	.get = param_get_int,
};
module_param_cb(fault_errno, &fault_errno_ops, &fault_errno, 0644);
MODULE_PARM_DESC(fault_errno, "Error of injected failures: 74 (EBADMSG, default) or 5 (EIO)");

enum { FAULT_DECRYPT, FAULT_ENCRYPT, FAULT_BOTH };
static const char * const fault_ops_names[] = {
	[FAULT_DECRYPT] = "decrypt",
	[FAULT_ENCRYPT] = "encrypt",
	[FAULT_BOTH] = "both",
};

static int fault_ops = FAULT_DECRYPT;
static struct ktlsaccel_enum_param fault_ops_param = {
	.value = &fault_ops,
	.names = fault_ops_names,
	.count = ARRAY_SIZE(fault_ops_names),
};

module_param_cb(fault_ops, &ktlsaccel_enum_param_ops, &fault_ops_param, 0644);
MODULE_PARM_DESC(fault_ops,
		 "Which requests fault_rate applies to: decrypt (default), encrypt, both");

static unsigned int fault_delay_us;
module_param(fault_delay_us, uint, 0644);
MODULE_PARM_DESC(fault_delay_us, "Added latency of every queued request, in microseconds");

static int fault_stall_queue = -1;

static int fault_stall_set(const char *val, const struct kernel_param *kp)
{
	int err, v;

	err = kstrtoint(val, 0, &v);
	if (err)
		return err;
	if (v < -1)
		return -EINVAL;
	WRITE_ONCE(fault_stall_queue, v);
	/* Let the queue that was stalled see that it may run again. */
	ktlsaccel_engine_kick();
	return 0;
}

static const struct kernel_param_ops fault_stall_ops = {
	.set = fault_stall_set,
	.get = param_get_int,
};
module_param_cb(fault_stall_queue, &fault_stall_ops, &fault_stall_queue, 0644);
MODULE_PARM_DESC(fault_stall_queue,
		 "Index of a queue whose worker stops taking requests (-1: none)");

int ktlsaccel_fault_error(bool encrypt)
{
	unsigned int rate = READ_ONCE(fault_rate);

	if (likely(!rate))
		return 0;
	switch (READ_ONCE(fault_ops)) {
	case FAULT_DECRYPT:
		if (encrypt)
			return 0;
		break;
	case FAULT_ENCRYPT:
		if (!encrypt)
			return 0;
		break;
	}
	if (get_random_u32_below(FAULT_RATE_SCALE) >= rate)
		return 0;
	return -READ_ONCE(fault_errno);
}

u64 ktlsaccel_fault_delay_ns(void)
{
	return (u64)READ_ONCE(fault_delay_us) * NSEC_PER_USEC;
}

bool ktlsaccel_fault_stalled(unsigned int index)
{
	return READ_ONCE(fault_stall_queue) == (int)index;
}

/*
 * fault_ops is an index into fault_ops_names, as the module parameter shows
 * it; the control plane speaks enum ktlsaccel_fault_ops, which starts at 1.
 */
static u32 fault_ops_to_uapi(int ops)
{
	BUILD_BUG_ON(KTLSACCEL_FAULT_OPS_ENCRYPT - KTLSACCEL_FAULT_OPS_DECRYPT != FAULT_ENCRYPT);
	BUILD_BUG_ON(KTLSACCEL_FAULT_OPS_BOTH - KTLSACCEL_FAULT_OPS_DECRYPT != FAULT_BOTH);
	return ops + KTLSACCEL_FAULT_OPS_DECRYPT;
}

static int fault_ops_from_uapi(u32 ops)
{
	return ops - KTLSACCEL_FAULT_OPS_DECRYPT;
}

void ktlsaccel_fault_get(struct ktlsaccel_fault_config *f)
{
	f->rate = READ_ONCE(fault_rate);
	f->err = READ_ONCE(fault_errno);
	f->ops = fault_ops_to_uapi(READ_ONCE(fault_ops));
	f->delay_us = READ_ONCE(fault_delay_us);
	f->stall_queue = READ_ONCE(fault_stall_queue);
}

void ktlsaccel_fault_set(const struct ktlsaccel_fault_config *f)
{
	WRITE_ONCE(fault_errno, f->err);
	WRITE_ONCE(fault_ops, fault_ops_from_uapi(f->ops));
	WRITE_ONCE(fault_delay_us, f->delay_us);
	WRITE_ONCE(fault_stall_queue, f->stall_queue);
	WRITE_ONCE(fault_rate, f->rate);
	ktlsaccel_engine_kick();
}

void ktlsaccel_fault_clear(void)
{
	struct ktlsaccel_fault_config f = {
		.err = EBADMSG,
		.ops = KTLSACCEL_FAULT_OPS_DECRYPT,
		.stall_queue = -1,
	};

	ktlsaccel_fault_set(&f);
}

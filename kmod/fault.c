// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection, for testing what kTLS and applications do when the
 * "card" misbehaves: a fraction of requests fails, every queued request is
 * late, or one queue stops taking requests for a while. The knobs are part
 * of the configuration (config.c); this file only decides, per request.
 */

#include <linux/errno.h>
#include <linux/ktlsaccel.h>
#include <linux/random.h>

#include "fault.h"

void ktlsaccel_fault_init(struct ktlsaccel_fault_config *f)
{
	*f = (struct ktlsaccel_fault_config) {
		.err = EBADMSG,
		.ops = KTLSACCEL_FAULT_OPS_DECRYPT,
		.stall_queue = -1,
	};
}

int ktlsaccel_fault_error(const struct ktlsaccel_fault_config *f, bool encrypt)
{
	if (likely(!f->rate))
		return 0;
	if ((f->ops == KTLSACCEL_FAULT_OPS_DECRYPT && encrypt) ||
	    (f->ops == KTLSACCEL_FAULT_OPS_ENCRYPT && !encrypt))
		return 0;
	if (get_random_u32_below(KTLSACCEL_FAULT_RATE_SCALE) >= f->rate)
		return 0;
	return -(int)f->err;
}

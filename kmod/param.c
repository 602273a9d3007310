// SPDX-License-Identifier: GPL-2.0
/* Module parameters that take a word out of a fixed list. */

#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "param.h"

static int enum_param_set(const char *val, const struct kernel_param *kp)
{
	const struct ktlsaccel_enum_param *p = kp->arg;
	int i = __sysfs_match_string(p->names, p->count, val);

	if (i < 0)
		return i;
	WRITE_ONCE(*p->value, i);
	return 0;
}

static int enum_param_get(char *buf, const struct kernel_param *kp)
{
	const struct ktlsaccel_enum_param *p = kp->arg;

	return sysfs_emit(buf, "%s\n", p->names[READ_ONCE(*p->value)]);
}

const struct kernel_param_ops ktlsaccel_enum_param_ops = {
	.set = enum_param_set,
	.get = enum_param_get,
};

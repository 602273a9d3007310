/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_PARAM_H
#define _KTLSACCEL_PARAM_H

#include <linux/module.h>

/*
 * A module parameter that takes one of a few words and stores its index,
 * read locklessly with READ_ONCE() on the request path:
 *
 *	static int mode;
 *	static const char * const mode_names[] = { "a", "b" };
 *	static struct ktlsaccel_enum_param mode_param = {
 *		.value = &mode, .names = mode_names, .count = ARRAY_SIZE(mode_names),
 *	};
 *	module_param_cb(mode, &ktlsaccel_enum_param_ops, &mode_param, 0644);
 */
struct ktlsaccel_enum_param {
	int *value;
	const char * const *names;
	unsigned int count;
};

extern const struct kernel_param_ops ktlsaccel_enum_param_ops;

#endif /* _KTLSACCEL_PARAM_H */

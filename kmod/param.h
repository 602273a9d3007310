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
 *	KTLSACCEL_ENUM_PARAM(mode, mode_names, 0644, "a (default) or b");
 */
struct ktlsaccel_enum_param {
	int *value;
	const char * const *names;
	unsigned int count;
};

extern const struct kernel_param_ops ktlsaccel_enum_param_ops;

#define KTLSACCEL_ENUM_PARAM(_name, _names, _perm, _desc)			\
	static const struct ktlsaccel_enum_param _name##_param = {		\
		.value = &(_name),						\
		.names = (_names),						\
		.count = ARRAY_SIZE(_names),					\
	};									\
	module_param_cb(_name, &ktlsaccel_enum_param_ops,			\
			(void *)&_name##_param, _perm);				\
	MODULE_PARM_DESC(_name, _desc)

#endif /* _KTLSACCEL_PARAM_H */

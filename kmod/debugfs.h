/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_DEBUGFS_H
#define _KTLSACCEL_DEBUGFS_H

void ktlsaccel_debugfs_init(void);
void ktlsaccel_debugfs_exit(void);

#endif /* _KTLSACCEL_DEBUGFS_H */

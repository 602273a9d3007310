/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_NETLINK_H
#define _KTLSACCEL_NETLINK_H

int ktlsaccel_netlink_init(void);
void ktlsaccel_netlink_exit(void);

#endif /* _KTLSACCEL_NETLINK_H */

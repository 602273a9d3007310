/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_AEAD_H
#define _KTLSACCEL_AEAD_H

int ktlsaccel_aead_register(void);
void ktlsaccel_aead_unregister(void);

#endif /* _KTLSACCEL_AEAD_H */

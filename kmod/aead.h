/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_AEAD_H
#define _KTLSACCEL_AEAD_H

#include <linux/ktlsaccel.h>

int ktlsaccel_aead_register(void);
void ktlsaccel_aead_unregister(void);

unsigned int ktlsaccel_aead_priority(void);
unsigned int ktlsaccel_aead_inline_threshold(void);
void ktlsaccel_aead_set_inline_threshold(unsigned int bytes);
enum ktlsaccel_decrypt ktlsaccel_aead_decrypt_policy(void);
void ktlsaccel_aead_set_decrypt_policy(enum ktlsaccel_decrypt policy);

#endif /* _KTLSACCEL_AEAD_H */

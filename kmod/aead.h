/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_AEAD_H
#define _KTLSACCEL_AEAD_H

#include <linux/crypto.h>
#include <linux/ktlsaccel.h>
#include <net/netlink.h>

#include "queue.h"

/* gcm(aes), rfc7539(chacha20,poly1305), ccm(aes), in that order. */
#define KTLSACCEL_NR_ALGS	3

/* What the engine calls to run a request on the CPU. */
extern const struct ktlsaccel_engine_ops ktlsaccel_aead_engine_ops;

/* Probes what the kernel has (cards, SIMD cores) and starts watching. */
int ktlsaccel_aead_init(void);
void ktlsaccel_aead_exit(void);

/*
 * Registers the algorithms at @priority or, for an algorithm a card
 * already registered at or above it, just above that card.
 */
int ktlsaccel_aead_register(int priority);
void ktlsaccel_aead_unregister(void);

const char *ktlsaccel_aead_name(unsigned int i);
/* The index of the algorithm with crypto API name @name, or -ENOENT. */
int ktlsaccel_aead_index(const char *name);

/*
 * Backends. A check that passes is followed by a set that cannot fail; the
 * set applies to tfms created afterwards. @driver: the asynchronous
 * implementation for mode KTLSACCEL_BACKEND_DRIVER, ignored otherwise.
 */
int ktlsaccel_aead_check_backend(unsigned int i, u32 mode, const char *driver,
				 struct netlink_ext_ack *extack);
void ktlsaccel_aead_set_backend(unsigned int i, u32 mode, const char *driver);
/* The card new tfms of algorithm @i get now, or "" for the CPU. */
void ktlsaccel_aead_backend_card(unsigned int i, char *driver, size_t len);

#endif /* _KTLSACCEL_AEAD_H */

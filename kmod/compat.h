/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels this module is built for (Debian's
 * 6.1 and 6.12) lives here, so the rest of the module reads like code for
 * one kernel.
 *
 * Checked and deliberately not needed:
 *  - crypto_completion_t takes "void *data" since 6.3 (it took the
 *    crypto_async_request before). The module never installs a callback of
 *    its own: the fallback is synchronous, and callers' callbacks are only
 *    invoked through aead_request_complete(), which exists on both.
 *  - crypto_aead_set_reqsize_dma() (6.3): the request context is only ever
 *    touched by the CPU, so the plain crypto_aead_set_reqsize() is right.
 *  - crypto_engine (reworked in 6.6): not used; the engine is our own.
 */
#ifndef _KTLSACCEL_COMPAT_H
#define _KTLSACCEL_COMPAT_H

#include <linux/version.h>
#include <crypto/internal/aead.h>

/*
 * Complete @req with bottom halves disabled, as every crypto driver does
 * from its completion path: callers such as kTLS and IPsec expect softirq
 * context semantics and take their locks with spin_lock_bh() at most.
 */
static inline void ktlsaccel_request_complete(struct aead_request *req, int err)
{
	local_bh_disable();
	aead_request_complete(req, err);
	local_bh_enable();
}

#endif /* _KTLSACCEL_COMPAT_H */

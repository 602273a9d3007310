/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels this module is built for (Debian's
 * 6.1 and 6.12) lives here, so the rest of the module reads like code for
 * one kernel.
 */
#ifndef _KTLSACCEL_COMPAT_H
#define _KTLSACCEL_COMPAT_H

#include <crypto/algapi.h>
#include <crypto/internal/aead.h>

/*
 * Linux 6.3 changed both things below in one series; CRYPTO_DMA_PADDING,
 * which it added, tells the kernels apart without a version number.
 */

/*
 * A completion callback: since 6.3 it gets the request's data pointer,
 * before it got the crypto_async_request (whose ->data is that pointer).
 */
#ifdef CRYPTO_DMA_PADDING
#define KTLSACCEL_COMPLETION_ARG(name) void *(name)
static inline void *ktlsaccel_completion_data(void *data)
{
	return data;
}
#else
#define KTLSACCEL_COMPLETION_ARG(name) struct crypto_async_request *(name)
static inline void *ktlsaccel_completion_data(struct crypto_async_request *areq)
{
	return areq->data;
}
#endif

/*
 * The request context. Since 6.3 drivers of DMA-capable hardware align
 * their request context with crypto_aead_set_reqsize_dma(); the card
 * driver's context follows ours (in our sub-request), so ours is declared
 * the same way, and the card's own reqsize carries its alignment padding.
 */
#ifdef CRYPTO_DMA_PADDING
static inline void ktlsaccel_aead_set_reqsize(struct crypto_aead *tfm,
					      unsigned int size)
{
	crypto_aead_set_reqsize_dma(tfm, size);
}

static inline void *ktlsaccel_aead_request_ctx(struct aead_request *req)
{
	return aead_request_ctx_dma(req);
}
#else
static inline void ktlsaccel_aead_set_reqsize(struct crypto_aead *tfm,
					      unsigned int size)
{
	crypto_aead_set_reqsize(tfm, size);
}

static inline void *ktlsaccel_aead_request_ctx(struct aead_request *req)
{
	return aead_request_ctx(req);
}
#endif

/*
 * The crypto API's notification that an algorithm was registered: public
 * (include/crypto/algapi.h) on 6.12, private (crypto/internal.h) on 6.1,
 * with the same value on both.
 */
#define KTLSACCEL_CRYPTO_MSG_ALG_REGISTER	1

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

// SPDX-License-Identifier: GPL-2.0
/*
 * The algorithms: asynchronous AEADs whose requests go through the engine
 * (queue.c), which runs them with a synchronous software implementation
 * of the same algorithm (the "fallback").
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aes.h>
#include <crypto/chacha.h>
#include <crypto/internal/aead.h>
#include <crypto/internal/simd.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <asm/simd.h>

#include "aead.h"
#include "param.h"
#include "queue.h"
#include "stats.h"

/*
 * kTLS, IPsec and AF_ALG by name all take the highest priority. The CPU
 * implementations top out at 800 in mainline (x86 VAES/AVX-512 GCM, 2025;
 * Debian's 6.1 and 6.12 reach 500), so 1000 wins over every one of them,
 * while staying below real accelerators that register far higher (CAAM
 * uses 3000): on a machine that has a card, the card should win.
 */
static int priority = 1000;
module_param(priority, int, 0444);
MODULE_PARM_DESC(priority, "Crypto API priority of the algorithms (default 1000)");

static unsigned int inline_threshold;
module_param(inline_threshold, uint, 0644);
MODULE_PARM_DESC(inline_threshold,
		 "Run requests with cryptlen <= this many bytes in the caller (default 0: off)");

/*
 * Decrypt policy. With an asynchronous decrypt, kTLS (6.1 and 6.12) fails a
 * whole TLS 1.2 recv() with EBADMSG when a corrupted record follows good
 * ones in the same call, and the good records' plaintext never reaches the
 * application; with a synchronous result the application first gets the
 * good bytes and EBADMSG on the next call, which is what the kernel's own
 * net/tls selftest (tls_err.bad_in_large_read) expects.
 *
 * "inline" is the default: loading the module must not change what
 * applications observe, and the cost is small because only TLS 1.2 RX can
 * pipeline decryption at all (TLS 1.3 RX waits for each record). "async"
 * pipelines TLS 1.2 RX records through the queues, for throughput, with the
 * behaviour above.
 */
static const char * const decrypt_names[] = {
	[KTLSACCEL_DECRYPT_INLINE] = "inline",
	[KTLSACCEL_DECRYPT_ASYNC] = "async",
};

static int decrypt = KTLSACCEL_DECRYPT_INLINE;
static struct ktlsaccel_enum_param decrypt_param = {
	.value = &decrypt,
	.names = decrypt_names,
	.count = ARRAY_SIZE(decrypt_names),
};

module_param_cb(decrypt, &ktlsaccel_enum_param_ops, &decrypt_param, 0644);
MODULE_PARM_DESC(decrypt,
		 "Decrypt policy: inline (default, synchronous semantics) or async (pipelined)");

struct ktlsaccel_tfm_ctx {
	struct crypto_aead *fallback;
	struct crypto_aead *simd;	/* NULL: none for this algorithm */
	struct ktlsaccel_flow flow;
};

/*
 * The fastest CPU implementations of gcm(aes) (x86 AES-NI with PCLMULQDQ,
 * arm64 CE) are registered only behind the crypto SIMD helper: an
 * asynchronous "gcm(aes)" that the fallback's mask excludes, wrapping an
 * internal synchronous "__gcm(aes)". Without it the fallback is
 * gcm_base(ctr(aes-...), ghash-generic), whose table-driven GHASH costs as
 * much as the AES itself. The internal one may run only where SIMD is
 * usable, which the worker's kthread context is; elsewhere the generic
 * fallback runs. Only gcm(aes) has one: looking up "__<name>" for other
 * algorithms would just cost a module request per socket.
 */
static struct crypto_aead *alloc_simd(const char *name)
{
	struct crypto_aead *tfm;

	if (strcmp(name, "gcm(aes)"))
		return NULL;
	tfm = crypto_alloc_aead("__gcm(aes)", CRYPTO_ALG_INTERNAL,
				CRYPTO_ALG_INTERNAL | CRYPTO_ALG_ASYNC |
				CRYPTO_ALG_NEED_FALLBACK);
	return IS_ERR(tfm) ? NULL : tfm;
}

static int ktlsaccel_init_tfm(struct crypto_aead *tfm)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(tfm);
	struct crypto_aead *fallback;
	int ret;

	/*
	 * The mask excludes asynchronous implementations and those that need
	 * a fallback themselves: we never get ourselves (we have both flags)
	 * and the worker can run the result to completion. Templates such as
	 * ccm() are instantiated (and their modules loaded) here on first use.
	 */
	fallback = crypto_alloc_aead(crypto_tfm_alg_name(crypto_aead_tfm(tfm)), 0,
				     CRYPTO_ALG_ASYNC | CRYPTO_ALG_NEED_FALLBACK);
	if (IS_ERR(fallback)) {
		pr_warn_ratelimited("no synchronous %s to run requests with: %ld\n",
				    crypto_tfm_alg_name(crypto_aead_tfm(tfm)),
				    PTR_ERR(fallback));
		return PTR_ERR(fallback);
	}
	ctx->fallback = fallback;
	ctx->simd = alloc_simd(crypto_tfm_alg_name(crypto_aead_tfm(tfm)));
	crypto_aead_set_reqsize(tfm, sizeof(struct ktlsaccel_rctx) +
				max(crypto_aead_reqsize(fallback),
				    ctx->simd ? crypto_aead_reqsize(ctx->simd) : 0));
	ret = ktlsaccel_flow_register(&ctx->flow,
				      crypto_tfm_alg_name(crypto_aead_tfm(tfm)),
				      crypto_tfm_alg_driver_name(crypto_aead_tfm(tfm)));
	if (ret) {
		if (ctx->simd)
			crypto_free_aead(ctx->simd);
		crypto_free_aead(fallback);
	}
	return ret;
}

static void ktlsaccel_exit_tfm(struct crypto_aead *tfm)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(tfm);

	ktlsaccel_flow_unregister(&ctx->flow);
	/* The key schedule lives only in the fallbacks; freeing wipes it. */
	if (ctx->simd)
		crypto_free_aead(ctx->simd);
	crypto_free_aead(ctx->fallback);
}

static int ktlsaccel_setkey(struct crypto_aead *tfm, const u8 *key,
			    unsigned int keylen)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(tfm);
	int err;

	crypto_aead_clear_flags(ctx->fallback, CRYPTO_TFM_REQ_MASK);
	crypto_aead_set_flags(ctx->fallback,
			      crypto_aead_get_flags(tfm) & CRYPTO_TFM_REQ_MASK);
	err = crypto_aead_setkey(ctx->fallback, key, keylen);
	if (!err && ctx->simd) {
		crypto_aead_clear_flags(ctx->simd, CRYPTO_TFM_REQ_MASK);
		crypto_aead_set_flags(ctx->simd,
				      crypto_aead_get_flags(tfm) & CRYPTO_TFM_REQ_MASK);
		err = crypto_aead_setkey(ctx->simd, key, keylen);
	}
	if (!err)
		WRITE_ONCE(ctx->flow.keylen, keylen);
	return err;
}

static int ktlsaccel_setauthsize(struct crypto_aead *tfm, unsigned int authsize)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(tfm);
	int err = crypto_aead_setauthsize(ctx->fallback, authsize);

	if (!err && ctx->simd)
		err = crypto_aead_setauthsize(ctx->simd, authsize);
	return err;
}

int ktlsaccel_aead_process(struct aead_request *req, bool encrypt,
			   bool may_sleep)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(crypto_aead_reqtfm(req));
	struct ktlsaccel_rctx *rctx = aead_request_ctx(req);
	struct aead_request *subreq = &rctx->subreq;
	struct crypto_aead *child = ctx->fallback;

	if (ctx->simd && crypto_simd_usable())
		child = ctx->simd;
	aead_request_set_tfm(subreq, child);
	aead_request_set_callback(subreq, may_sleep ? CRYPTO_TFM_REQ_MAY_SLEEP : 0,
				  NULL, NULL);
	aead_request_set_crypt(subreq, req->src, req->dst, req->cryptlen, req->iv);
	aead_request_set_ad(subreq, req->assoclen);
	return encrypt ? crypto_aead_encrypt(subreq) : crypto_aead_decrypt(subreq);
}

static int ktlsaccel_submit(struct aead_request *req, bool encrypt)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(crypto_aead_reqtfm(req));
	struct ktlsaccel_rctx *rctx = aead_request_ctx(req);
	unsigned int threshold = READ_ONCE(inline_threshold);
	bool run_inline;

	run_inline = (threshold && req->cryptlen <= threshold) ||
		     (!encrypt && READ_ONCE(decrypt) == KTLSACCEL_DECRYPT_INLINE);
	rctx->flow = &ctx->flow;
	ktlsaccel_flow_saw(&ctx->flow, encrypt);
	return ktlsaccel_engine_submit(req, encrypt, run_inline);
}

static int ktlsaccel_encrypt(struct aead_request *req)
{
	return ktlsaccel_submit(req, true);
}

static int ktlsaccel_decrypt(struct aead_request *req)
{
	return ktlsaccel_submit(req, false);
}

#define KTLSACCEL_AEAD(_name, _driver, _ivsize, _chunksize)		\
	{								\
		.setkey = ktlsaccel_setkey,				\
		.setauthsize = ktlsaccel_setauthsize,			\
		.encrypt = ktlsaccel_encrypt,				\
		.decrypt = ktlsaccel_decrypt,				\
		.init = ktlsaccel_init_tfm,				\
		.exit = ktlsaccel_exit_tfm,				\
		.ivsize = _ivsize,					\
		.maxauthsize = 16,					\
		.chunksize = _chunksize,				\
		.base = {						\
			.cra_name = _name,				\
			.cra_driver_name = _driver,			\
			.cra_flags = CRYPTO_ALG_ASYNC |			\
				     CRYPTO_ALG_NEED_FALLBACK,		\
			.cra_blocksize = 1,				\
			.cra_ctxsize = sizeof(struct ktlsaccel_tfm_ctx), \
			.cra_module = THIS_MODULE,			\
		},							\
	}

static struct aead_alg algs[] = {
	KTLSACCEL_AEAD("gcm(aes)", "ktlsaccel-gcm-aes", 12, AES_BLOCK_SIZE),
	KTLSACCEL_AEAD("rfc7539(chacha20,poly1305)",
		       "ktlsaccel-rfc7539-chacha20-poly1305", 12, CHACHA_BLOCK_SIZE),
	KTLSACCEL_AEAD("ccm(aes)", "ktlsaccel-ccm-aes", AES_BLOCK_SIZE,
		       AES_BLOCK_SIZE),
};

int ktlsaccel_aead_register(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(algs); i++)
		algs[i].base.cra_priority = priority;
	/*
	 * Starts the kernel's self-tests for each; one that fails is logged
	 * ("alg: self-tests ... failed") and never handed out.
	 */
	return crypto_register_aeads(algs, ARRAY_SIZE(algs));
}

void ktlsaccel_aead_unregister(void)
{
	crypto_unregister_aeads(algs, ARRAY_SIZE(algs));
}

unsigned int ktlsaccel_aead_priority(void)
{
	return priority;
}

unsigned int ktlsaccel_aead_inline_threshold(void)
{
	return READ_ONCE(inline_threshold);
}

void ktlsaccel_aead_set_inline_threshold(unsigned int bytes)
{
	WRITE_ONCE(inline_threshold, bytes);
}

enum ktlsaccel_decrypt ktlsaccel_aead_decrypt_policy(void)
{
	return READ_ONCE(decrypt);
}

void ktlsaccel_aead_set_decrypt_policy(enum ktlsaccel_decrypt policy)
{
	WRITE_ONCE(decrypt, policy);
}

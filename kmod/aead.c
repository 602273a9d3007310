// SPDX-License-Identifier: GPL-2.0
/*
 * The algorithms: asynchronous AEADs whose requests go through the engine
 * (queue.c), which runs them on a backend: the CPU (a synchronous software
 * implementation of the same algorithm, the "fallback") or a card (an
 * asynchronous implementation of another driver, usually hardware).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aes.h>
#include <crypto/algapi.h>
#include <crypto/chacha.h>
#include <crypto/internal/aead.h>
#include <crypto/internal/simd.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/string.h>
#include <asm/simd.h>

#include "aead.h"
#include "compat.h"

struct ktlsaccel_tfm_ctx {
	struct crypto_aead *fallback;
	struct crypto_aead *simd;	/* NULL: none for this algorithm */
	struct crypto_aead *card;	/* NULL: the CPU runs the requests */
	struct ktlsaccel_flow flow;
};

/*
 * Per algorithm: where new tfms run their requests. "auto" is resolved
 * when asked and again whenever an asynchronous hardware implementation of
 * the algorithm registers (the crypto API's notifier), never per tfm: a
 * lookup that finds nothing costs a module request.
 */
struct backend {
	u32 mode;				/* enum ktlsaccel_backend_mode */
	char driver[CRYPTO_MAX_ALG_NAME];	/* asked for: mode DRIVER */
	char card[CRYPTO_MAX_ALG_NAME];		/* resolved; "": the CPU */
	bool stale;				/* resolve before the next use */
};

static struct backend backends[KTLSACCEL_NR_ALGS];
static DEFINE_MUTEX(backend_lock);	/* backends, simd_gcm */

/*
 * The fastest CPU implementations of gcm(aes) (x86 AES-NI with PCLMULQDQ,
 * arm64 CE) are registered only behind the crypto SIMD helper: an
 * asynchronous "gcm(aes)" that the fallback's mask excludes, wrapping an
 * internal synchronous "__gcm(aes)". Without it the fallback is
 * gcm_base(ctr(aes-...), ghash-generic), whose table-driven GHASH costs as
 * much as the AES itself. The internal one may run only where SIMD is
 * usable; elsewhere the generic fallback runs. Whether it exists is probed
 * once, and again when a "__gcm(aes)" registers (aesni_intel loaded after
 * us), so that a machine without it pays no module request per tfm.
 */
static bool simd_gcm;
static bool simd_gcm_stale = true;

static int alg_notify(struct notifier_block *nb, unsigned long msg, void *data);

static struct notifier_block alg_nb = {
	.notifier_call = alg_notify,
	/* Before cryptomgr, which ends the chain for a registration. */
	.priority = 1,
};

static unsigned int alg_index(struct crypto_aead *tfm);

static bool is_ours(struct crypto_aead *tfm)
{
	return crypto_aead_tfm(tfm)->__crt_alg->cra_module == THIS_MODULE;
}

static struct crypto_aead *probe_card(const char *name)
{
	/* Hardware drivers flag themselves CRYPTO_ALG_KERN_DRIVER_ONLY; we do not. */
	return crypto_alloc_aead(name, CRYPTO_ALG_KERN_DRIVER_ONLY | CRYPTO_ALG_ASYNC,
				 CRYPTO_ALG_KERN_DRIVER_ONLY | CRYPTO_ALG_ASYNC);
}

static const char *alg_names[KTLSACCEL_NR_ALGS] = {
	"gcm(aes)", "rfc7539(chacha20,poly1305)", "ccm(aes)",
};

/* Under backend_lock. */
static void backend_resolve(unsigned int i)
{
	struct backend *b = &backends[i];
	struct crypto_aead *t;

	b->card[0] = '\0';
	b->stale = false;
	switch (b->mode) {
	case KTLSACCEL_BACKEND_DRIVER:
		strscpy(b->card, b->driver, sizeof(b->card));
		break;
	case KTLSACCEL_BACKEND_AUTO:
		t = probe_card(alg_names[i]);
		if (IS_ERR(t))
			break;
		if (!is_ours(t))
			strscpy(b->card, crypto_aead_driver_name(t), sizeof(b->card));
		crypto_free_aead(t);
		break;
	}
}

/* The card for a new tfm of algorithm @i; NULL: the CPU. */
static struct crypto_aead *card_alloc(unsigned int i)
{
	struct backend *b = &backends[i];
	struct crypto_aead *t = NULL;

	mutex_lock(&backend_lock);
	if (READ_ONCE(b->stale))
		backend_resolve(i);
	if (b->card[0]) {
		t = crypto_alloc_aead(b->card, 0, 0);
		if (IS_ERR(t)) {
			/* Gone (its module unloaded): the CPU, until it is back. */
			pr_warn_ratelimited("%s: card %s unavailable (%ld), using the CPU\n",
					    alg_names[i], b->card, PTR_ERR(t));
			b->stale = true;
			t = NULL;
		} else if (is_ours(t)) {
			crypto_free_aead(t);
			t = NULL;
		}
	}
	mutex_unlock(&backend_lock);
	return t;
}

static struct crypto_aead *simd_alloc(unsigned int i)
{
	struct crypto_aead *tfm = NULL;

	if (i != 0)	/* only gcm(aes) has one */
		return NULL;
	mutex_lock(&backend_lock);
	if (READ_ONCE(simd_gcm_stale) || simd_gcm) {
		WRITE_ONCE(simd_gcm_stale, false);
		tfm = crypto_alloc_aead("__gcm(aes)", CRYPTO_ALG_INTERNAL,
					CRYPTO_ALG_INTERNAL | CRYPTO_ALG_ASYNC |
					CRYPTO_ALG_NEED_FALLBACK);
		simd_gcm = !IS_ERR(tfm);
		if (!simd_gcm)
			tfm = NULL;
	}
	mutex_unlock(&backend_lock);
	return tfm;
}

static int alg_notify(struct notifier_block *nb, unsigned long msg, void *data)
{
	struct crypto_alg *alg = data;
	unsigned int i;

	if (msg != KTLSACCEL_CRYPTO_MSG_ALG_REGISTER ||
	    (alg->cra_flags & CRYPTO_ALG_TYPE_MASK) != CRYPTO_ALG_TYPE_AEAD)
		return NOTIFY_DONE;
	if (!strcmp(alg->cra_name, "__gcm(aes)"))
		WRITE_ONCE(simd_gcm_stale, true);
	if (!(alg->cra_flags & CRYPTO_ALG_KERN_DRIVER_ONLY))
		return NOTIFY_DONE;
	for (i = 0; i < KTLSACCEL_NR_ALGS; i++)
		if (!strcmp(alg->cra_name, alg_names[i]))
			WRITE_ONCE(backends[i].stale, true);
	return NOTIFY_DONE;
}

static int ktlsaccel_init_tfm(struct crypto_aead *tfm)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(tfm);
	unsigned int i = alg_index(tfm);
	unsigned int reqsize;
	int err;

	/*
	 * The mask excludes asynchronous implementations and those that need
	 * a fallback themselves: we never get ourselves (we have both flags)
	 * and a worker can run the result to completion. Templates such as
	 * ccm() are instantiated (and their modules loaded) here on first use.
	 */
	ctx->fallback = crypto_alloc_aead(alg_names[i], 0,
					  CRYPTO_ALG_ASYNC | CRYPTO_ALG_NEED_FALLBACK);
	if (IS_ERR(ctx->fallback)) {
		pr_warn_ratelimited("no synchronous %s to run requests with: %ld\n",
				    alg_names[i], PTR_ERR(ctx->fallback));
		return PTR_ERR(ctx->fallback);
	}
	ctx->simd = simd_alloc(i);
	ctx->card = card_alloc(i);
	err = ktlsaccel_engine_flow_init(&ctx->flow);
	if (err)
		goto err_free;

	reqsize = crypto_aead_reqsize(ctx->fallback);
	if (ctx->simd)
		reqsize = max(reqsize, crypto_aead_reqsize(ctx->simd));
	if (ctx->card)
		reqsize = max(reqsize, crypto_aead_reqsize(ctx->card));
	ktlsaccel_aead_set_reqsize(tfm, sizeof(struct ktlsaccel_rctx) + reqsize);

	/* Before registering: a flow dump copies it from then on. */
	ctx->flow.backend = ctx->card ? crypto_aead_driver_name(ctx->card) : "cpu";
	err = ktlsaccel_flow_register(&ctx->flow, alg_names[i],
				      crypto_tfm_alg_driver_name(crypto_aead_tfm(tfm)));
	if (err)
		goto err_flow;
	return 0;

err_flow:
	ktlsaccel_engine_flow_exit(&ctx->flow);
err_free:
	if (ctx->card)
		crypto_free_aead(ctx->card);
	if (ctx->simd)
		crypto_free_aead(ctx->simd);
	crypto_free_aead(ctx->fallback);
	return err;
}

static void ktlsaccel_exit_tfm(struct crypto_aead *tfm)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(tfm);

	ktlsaccel_flow_unregister(&ctx->flow);
	ktlsaccel_engine_flow_exit(&ctx->flow);
	/* The key schedules live only in the children; freeing wipes them. */
	if (ctx->card)
		crypto_free_aead(ctx->card);
	if (ctx->simd)
		crypto_free_aead(ctx->simd);
	crypto_free_aead(ctx->fallback);
}

static int child_setkey(struct crypto_aead *tfm, struct crypto_aead *child,
			const u8 *key, unsigned int keylen)
{
	if (!child)
		return 0;
	crypto_aead_clear_flags(child, CRYPTO_TFM_REQ_MASK);
	crypto_aead_set_flags(child, crypto_aead_get_flags(tfm) & CRYPTO_TFM_REQ_MASK);
	return crypto_aead_setkey(child, key, keylen);
}

static int ktlsaccel_setkey(struct crypto_aead *tfm, const u8 *key,
			    unsigned int keylen)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(tfm);
	int err;

	err = child_setkey(tfm, ctx->fallback, key, keylen) ?:
	      child_setkey(tfm, ctx->simd, key, keylen) ?:
	      child_setkey(tfm, ctx->card, key, keylen);
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
	if (!err && ctx->card)
		err = crypto_aead_setauthsize(ctx->card, authsize);
	return err;
}

/* Runs @req on the CPU, now, in the current context. */
static int aead_run(struct aead_request *req, bool encrypt, bool may_sleep)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(crypto_aead_reqtfm(req));
	struct ktlsaccel_rctx *rctx = ktlsaccel_aead_request_ctx(req);
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

const struct ktlsaccel_engine_ops ktlsaccel_aead_engine_ops = {
	.run = aead_run,
};

static int ktlsaccel_submit(struct aead_request *req, bool encrypt)
{
	struct ktlsaccel_tfm_ctx *ctx = crypto_aead_ctx(crypto_aead_reqtfm(req));

	ktlsaccel_flow_saw(&ctx->flow, encrypt);
	return ktlsaccel_engine_submit(&ctx->flow, ctx->card, req, encrypt);
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

static struct aead_alg algs[KTLSACCEL_NR_ALGS] = {
	KTLSACCEL_AEAD("gcm(aes)", "ktlsaccel-gcm-aes", 12, AES_BLOCK_SIZE),
	KTLSACCEL_AEAD("rfc7539(chacha20,poly1305)",
		       "ktlsaccel-rfc7539-chacha20-poly1305", 12, CHACHA_BLOCK_SIZE),
	KTLSACCEL_AEAD("ccm(aes)", "ktlsaccel-ccm-aes", AES_BLOCK_SIZE,
		       AES_BLOCK_SIZE),
};

static unsigned int alg_index(struct crypto_aead *tfm)
{
	return crypto_aead_alg(tfm) - algs;
}

const char *ktlsaccel_aead_name(unsigned int i)
{
	return alg_names[i];
}

int ktlsaccel_aead_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < KTLSACCEL_NR_ALGS; i++)
		if (!strcmp(name, alg_names[i]))
			return i;
	return -ENOENT;
}

int ktlsaccel_aead_check_backend(unsigned int i, u32 mode, const char *driver,
				 struct netlink_ext_ack *extack)
{
	struct crypto_aead *t;
	int err = 0;

	if (mode != KTLSACCEL_BACKEND_DRIVER)
		return 0;
	if (!driver || !*driver) {
		NL_SET_ERR_MSG(extack, "backend mode driver needs a driver name");
		return -EINVAL;
	}
	t = crypto_alloc_aead(driver, 0, 0);
	if (IS_ERR(t)) {
		NL_SET_ERR_MSG(extack, "no such driver");
		return -ENOENT;
	}
	if (is_ours(t)) {
		NL_SET_ERR_MSG(extack, "the driver is ktlsaccel's own");
		err = -EINVAL;
	} else if (strcmp(crypto_tfm_alg_name(crypto_aead_tfm(t)), alg_names[i])) {
		NL_SET_ERR_MSG(extack, "the driver implements another algorithm");
		err = -EINVAL;
	} else if (!(crypto_aead_tfm(t)->__crt_alg->cra_flags & CRYPTO_ALG_ASYNC)) {
		NL_SET_ERR_MSG(extack, "the driver is synchronous: use backend cpu");
		err = -EINVAL;
	}
	crypto_free_aead(t);
	return err;
}

void ktlsaccel_aead_set_backend(unsigned int i, u32 mode, const char *driver)
{
	mutex_lock(&backend_lock);
	backends[i].mode = mode;
	strscpy(backends[i].driver, mode == KTLSACCEL_BACKEND_DRIVER ? driver : "",
		sizeof(backends[i].driver));
	backends[i].stale = true;
	mutex_unlock(&backend_lock);
}

void ktlsaccel_aead_backend_card(unsigned int i, char *driver, size_t len)
{
	mutex_lock(&backend_lock);
	/* A card whose driver was unloaded since: look again. */
	if (backends[i].stale ||
	    (backends[i].card[0] && !crypto_has_alg(backends[i].card, CRYPTO_ALG_TYPE_AEAD,
					      CRYPTO_ALG_TYPE_MASK)))
		backend_resolve(i);
	strscpy(driver, backends[i].card, len);
	mutex_unlock(&backend_lock);
}

int ktlsaccel_aead_init(void)
{
	unsigned int i;

	for (i = 0; i < KTLSACCEL_NR_ALGS; i++)
		backends[i].stale = true;
	return crypto_register_notifier(&alg_nb);
}

void ktlsaccel_aead_exit(void)
{
	crypto_unregister_notifier(&alg_nb);
}

int ktlsaccel_aead_register(int priority)
{
	struct crypto_aead *card;
	unsigned int i;
	int err;

	for (i = 0; i < KTLSACCEL_NR_ALGS; i++) {
		int prio = priority;

		/*
		 * A card registered at or above us (CAAM: 3000) would take
		 * kTLS away from the engine, and with it every counter and
		 * the pipeline in front of it: go just above it; with the
		 * default backend the requests still end up on that card.
		 * A card that registers later than us does not move us: see
		 * kmod/README.md.
		 */
		card = probe_card(alg_names[i]);
		if (!IS_ERR(card)) {
			int cprio = crypto_aead_tfm(card)->__crt_alg->cra_priority;

			if (cprio >= prio) {
				prio = cprio + 1;
				pr_info("%s: priority %d, above %s\n", alg_names[i],
					prio, crypto_aead_driver_name(card));
			}
			crypto_free_aead(card);
		}
		algs[i].base.cra_priority = prio;
	}
	/*
	 * Starts the kernel's self-tests for each; one that fails is logged
	 * ("alg: self-tests ... failed") and never handed out. They must test
	 * the queued path, not whatever the dispatch would choose for them.
	 */
	ktlsaccel_engine_force_queue(true);
	err = crypto_register_aeads(algs, ARRAY_SIZE(algs));
	ktlsaccel_engine_force_queue(false);
	return err;
}

void ktlsaccel_aead_unregister(void)
{
	crypto_unregister_aeads(algs, ARRAY_SIZE(algs));
}

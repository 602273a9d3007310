// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: a pretend cipher accelerator. It registers asynchronous,
 * driver-only gcm(aes), rfc7539(chacha20,poly1305) and ccm(aes) that behave
 * like a card's driver (a ring of fixed depth, -EBUSY and a backlog when the
 * ring is full, completions from softirq after a modelled latency, errors on
 * demand), so that ktlsaccel's card backend is tested against something that
 * is not itself. The arithmetic is the kernel's own synchronous software
 * implementation of each algorithm. It is never installed.
 *
 * The ring is one FIFO for all tfms, as a card's is: a request holds a slot
 * from submission until its completion, and is completed in order by one
 * soft hrtimer that fires at the head's deadline.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/errno.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <crypto/aes.h>
#include <crypto/chacha.h>
#include <crypto/internal/aead.h>

/*
 * Compat. Since 6.3 drivers whose request context a device reads get it
 * DMA-aligned (crypto_aead_set_reqsize_dma()/aead_request_ctx_dma()); a
 * card's driver uses them, so this one does too where they exist.
 * crypto_completion_t takes "void *data" since 6.3 (the request before):
 * nothing here depends on it, because the software sub-request is
 * synchronous (the allocation mask excludes CRYPTO_ALG_ASYNC) and never
 * calls back, and callers are completed through aead_request_complete(),
 * which both kernels have. CRYPTO_DMA_ALIGN came with the _dma helpers
 * (6.3), so it tells the two apart without a version number.
 */
#ifdef CRYPTO_DMA_ALIGN
#define card_set_reqsize(tfm, size) crypto_aead_set_reqsize_dma(tfm, size)
#define card_rctx(req) aead_request_ctx_dma(req)
#else
#define card_set_reqsize(tfm, size) crypto_aead_set_reqsize(tfm, size)
#define card_rctx(req) aead_request_ctx(req)
#endif

#define CARD_MAX_DEPTH 4096
#define CARD_MAX_LATENCY_US 1000000

static int priority = 300;
module_param(priority, int, 0444);
MODULE_PARM_DESC(priority, "Crypto API priority of the three algorithms (default 300, as safexcel and ccp)");

static unsigned int depth = 64;
static unsigned int latency_us = 100;
static unsigned int fail_next;
static int fail_errno = EBADMSG;

static int set_bounded_uint(const char *val, unsigned int *dst,
			    unsigned int lo, unsigned int hi)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err)
		return err;
	if (v < lo || v > hi)
		return -ERANGE;
	WRITE_ONCE(*dst, v);
	return 0;
}

static int depth_set(const char *val, const struct kernel_param *kp)
{
	return set_bounded_uint(val, &depth, 1, CARD_MAX_DEPTH);
}

static const struct kernel_param_ops depth_ops = {
	.set = depth_set,
	.get = param_get_uint,
};
module_param_cb(depth, &depth_ops, &depth, 0644);
MODULE_PARM_DESC(depth, "Slots in the ring: requests in flight at once (1..4096, default 64)");

static int latency_set(const char *val, const struct kernel_param *kp)
{
	return set_bounded_uint(val, &latency_us, 0, CARD_MAX_LATENCY_US);
}

static const struct kernel_param_ops latency_ops = {
	.set = latency_set,
	.get = param_get_uint,
};
module_param_cb(latency_us, &latency_ops, &latency_us, 0644);
MODULE_PARM_DESC(latency_us, "Modelled time a request spends in the ring, in microseconds (0..1000000, default 100)");

module_param(fail_next, uint, 0644);
MODULE_PARM_DESC(fail_next, "The next N requests to leave the ring complete with fail_errno");

static int fail_errno_set(const char *val, const struct kernel_param *kp)
{
	int v;
	int err = kstrtoint(val, 0, &v);

	if (err)
		return err;
	if (v != EBADMSG && v != EIO)
		return -EINVAL;
	WRITE_ONCE(fail_errno, v);
	return 0;
}

static const struct kernel_param_ops fail_errno_ops = {
	.set = fail_errno_set,
	.get = param_get_int,
};
module_param_cb(fail_errno, &fail_errno_ops, &fail_errno, 0644);
MODULE_PARM_DESC(fail_errno, "Error injected requests complete with: EBADMSG (74, default) or EIO (5)");

struct card_stats {
	u64 submitted;		/* accepted: into the ring or the backlog */
	u64 completed;
	u64 errors;		/* completed with an error */
	u64 backlogged;		/* answered -EBUSY and queued */
	u64 rejected;		/* answered -ENOSPC */
	u64 max_in_flight;
	u64 bytes;		/* cryptlen of the completed requests */
};

static struct {
	spinlock_t lock;	/* everything below */
	struct list_head ring;
	struct list_head backlog;
	unsigned int in_flight;	/* ring slots taken */
	bool armed;		/* the timer is queued or running */
	struct card_stats stats;
	struct hrtimer timer;
} card;

struct card_tfm_ctx {
	/* The key lives only here; freeing it wipes it (kfree_sensitive). */
	struct crypto_aead *sw;
};

struct card_rctx {
	struct list_head node;		/* in card.ring or card.backlog */
	struct list_head admitted;	/* backlog -> ring, to be told so */
	struct aead_request *req;
	ktime_t deadline;
	bool encrypt;
	struct aead_request subreq;	/* last: the sw request's context follows */
};

/* Called with card.lock held. */
static void ring_enter(struct card_rctx *rctx)
{
	rctx->deadline = ktime_add_us(ktime_get(), READ_ONCE(latency_us));
	list_add_tail(&rctx->node, &card.ring);
	card.in_flight++;
	if (card.in_flight > card.stats.max_in_flight)
		card.stats.max_in_flight = card.in_flight;
	if (!card.armed) {
		card.armed = true;
		hrtimer_start(&card.timer, rctx->deadline, HRTIMER_MODE_ABS_SOFT);
	}
}

static int card_submit(struct aead_request *req, bool encrypt)
{
	struct card_rctx *rctx = card_rctx(req);
	int ret = -EINPROGRESS;

	rctx->req = req;
	rctx->encrypt = encrypt;
	spin_lock_bh(&card.lock);
	/* Behind a non-empty backlog even with a free slot: order is kept. */
	if (card.in_flight < READ_ONCE(depth) && list_empty(&card.backlog)) {
		ring_enter(rctx);
		card.stats.submitted++;
	} else if (req->base.flags & CRYPTO_TFM_REQ_MAY_BACKLOG) {
		list_add_tail(&rctx->node, &card.backlog);
		card.stats.submitted++;
		card.stats.backlogged++;
		ret = -EBUSY;
	} else {
		card.stats.rejected++;
		ret = -ENOSPC;
	}
	spin_unlock_bh(&card.lock);
	return ret;
}

static int card_encrypt(struct aead_request *req)
{
	return card_submit(req, true);
}

static int card_decrypt(struct aead_request *req)
{
	return card_submit(req, false);
}

/* Softirq: the "hardware" doing the work of one request. */
static int card_compute(struct card_rctx *rctx)
{
	struct aead_request *req = rctx->req;
	struct card_tfm_ctx *ctx = crypto_aead_ctx(crypto_aead_reqtfm(req));
	struct aead_request *subreq = &rctx->subreq;

	aead_request_set_tfm(subreq, ctx->sw);
	/* No MAY_SLEEP: this runs in softirq. */
	aead_request_set_callback(subreq, 0, NULL, NULL);
	aead_request_set_crypt(subreq, req->src, req->dst, req->cryptlen,
			       req->iv);
	aead_request_set_ad(subreq, req->assoclen);
	return rctx->encrypt ? crypto_aead_encrypt(subreq) :
			       crypto_aead_decrypt(subreq);
}

/* Called with card.lock held: true if this completion is to fail. */
static bool take_fail(void)
{
	unsigned int n = READ_ONCE(fail_next);

	if (!n)
		return false;
	WRITE_ONCE(fail_next, n - 1);
	return true;
}

/*
 * Soft hrtimer, so softirq context, never the submitter's: completes the
 * ring's head while its deadline has passed, moves backlogged requests into
 * the freed slots (telling their owners -EINPROGRESS before their result,
 * as the crypto API requires), then sleeps until the next head's deadline.
 * card.armed stays true throughout, so submitters never queue the timer
 * while it runs here.
 */
static enum hrtimer_restart card_timer_fn(struct hrtimer *timer)
{
	enum hrtimer_restart ret = HRTIMER_NORESTART;
	struct card_rctx *rctx, *next, *tmp;
	unsigned int cryptlen;
	LIST_HEAD(admitted);
	bool fail;
	int err;

	spin_lock(&card.lock);
	for (;;) {
		rctx = list_first_entry_or_null(&card.ring, struct card_rctx,
						node);
		if (!rctx || ktime_after(rctx->deadline, ktime_get()))
			break;
		list_del(&rctx->node);
		fail = take_fail();
		spin_unlock(&card.lock);

		cryptlen = rctx->req->cryptlen;
		err = fail ? -READ_ONCE(fail_errno) : card_compute(rctx);

		spin_lock(&card.lock);
		card.in_flight--;
		card.stats.completed++;
		card.stats.bytes += cryptlen;
		if (err)
			card.stats.errors++;
		while (card.in_flight < READ_ONCE(depth)) {
			next = list_first_entry_or_null(&card.backlog,
							struct card_rctx, node);
			if (!next)
				break;
			list_del(&next->node);
			ring_enter(next);
			list_add_tail(&next->admitted, &admitted);
		}
		spin_unlock(&card.lock);

		/* Only this function completes, so these precede their results. */
		list_for_each_entry_safe(next, tmp, &admitted, admitted) {
			list_del(&next->admitted);
			aead_request_complete(next->req, -EINPROGRESS);
		}
		aead_request_complete(rctx->req, err);
		spin_lock(&card.lock);
	}
	if (rctx) {
		hrtimer_set_expires(timer, rctx->deadline);
		ret = HRTIMER_RESTART;
	} else {
		card.armed = false;
	}
	spin_unlock(&card.lock);
	return ret;
}

static int card_init_tfm(struct crypto_aead *tfm)
{
	struct card_tfm_ctx *ctx = crypto_aead_ctx(tfm);
	const char *name = crypto_tfm_alg_name(crypto_aead_tfm(tfm));
	struct crypto_aead *sw;

	/*
	 * A synchronous implementation that needs no fallback: never this
	 * card, never ktlsaccel (both asynchronous), and safe to run to
	 * completion in softirq.
	 */
	sw = crypto_alloc_aead(name, 0,
			       CRYPTO_ALG_ASYNC | CRYPTO_ALG_NEED_FALLBACK);
	if (IS_ERR(sw)) {
		pr_warn_ratelimited("no synchronous %s to compute with: %ld\n",
				    name, PTR_ERR(sw));
		return PTR_ERR(sw);
	}
	ctx->sw = sw;
	card_set_reqsize(tfm, sizeof(struct card_rctx) +
			 crypto_aead_reqsize(sw));
	return 0;
}

static void card_exit_tfm(struct crypto_aead *tfm)
{
	struct card_tfm_ctx *ctx = crypto_aead_ctx(tfm);

	crypto_free_aead(ctx->sw);
}

static int card_setkey(struct crypto_aead *tfm, const u8 *key,
		       unsigned int keylen)
{
	struct card_tfm_ctx *ctx = crypto_aead_ctx(tfm);

	crypto_aead_clear_flags(ctx->sw, CRYPTO_TFM_REQ_MASK);
	crypto_aead_set_flags(ctx->sw,
			      crypto_aead_get_flags(tfm) & CRYPTO_TFM_REQ_MASK);
	return crypto_aead_setkey(ctx->sw, key, keylen);
}

static int card_setauthsize(struct crypto_aead *tfm, unsigned int authsize)
{
	struct card_tfm_ctx *ctx = crypto_aead_ctx(tfm);

	return crypto_aead_setauthsize(ctx->sw, authsize);
}

#define CARD_AEAD(_name, _driver, _ivsize, _chunksize)			\
	{								\
		.setkey = card_setkey,					\
		.setauthsize = card_setauthsize,			\
		.encrypt = card_encrypt,				\
		.decrypt = card_decrypt,				\
		.init = card_init_tfm,					\
		.exit = card_exit_tfm,					\
		.ivsize = _ivsize,					\
		.maxauthsize = 16,					\
		.chunksize = _chunksize,				\
		.base = {						\
			.cra_name = _name,				\
			.cra_driver_name = _driver,			\
			.cra_flags = CRYPTO_ALG_ASYNC |			\
				     CRYPTO_ALG_KERN_DRIVER_ONLY,	\
			.cra_blocksize = 1,				\
			.cra_ctxsize = sizeof(struct card_tfm_ctx),	\
			.cra_module = THIS_MODULE,			\
		},							\
	}

static struct aead_alg algs[] = {
	CARD_AEAD("gcm(aes)", "ktlsaccel-testcard-gcm-aes", 12, AES_BLOCK_SIZE),
	CARD_AEAD("rfc7539(chacha20,poly1305)",
		  "ktlsaccel-testcard-rfc7539-chacha20-poly1305", 12,
		  CHACHA_BLOCK_SIZE),
	CARD_AEAD("ccm(aes)", "ktlsaccel-testcard-ccm-aes", AES_BLOCK_SIZE,
		  AES_BLOCK_SIZE),
};

static int stats_show(struct seq_file *m, void *v)
{
	struct card_stats s;
	unsigned int in_flight;

	spin_lock_bh(&card.lock);
	s = card.stats;
	in_flight = card.in_flight;
	spin_unlock_bh(&card.lock);
	seq_printf(m,
		   "submitted=%llu completed=%llu errors=%llu backlogged=%llu rejected=%llu in_flight=%u max_in_flight=%llu bytes=%llu\n",
		   s.submitted, s.completed, s.errors, s.backlogged,
		   s.rejected, in_flight, s.max_in_flight, s.bytes);
	return 0;
}

static int stats_open(struct inode *inode, struct file *file)
{
	return single_open(file, stats_show, NULL);
}

/* Any write resets the counters; max_in_flight restarts from now. */
static ssize_t stats_write(struct file *file, const char __user *buf,
			   size_t count, loff_t *ppos)
{
	spin_lock_bh(&card.lock);
	memset(&card.stats, 0, sizeof(card.stats));
	card.stats.max_in_flight = card.in_flight;
	spin_unlock_bh(&card.lock);
	return count;
}

static const struct file_operations stats_fops = {
	.owner = THIS_MODULE,
	.open = stats_open,
	.read = seq_read,
	.write = stats_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static struct dentry *debugfs_dir;

static int __init card_init(void)
{
	unsigned int i;
	int err;

	spin_lock_init(&card.lock);
	INIT_LIST_HEAD(&card.ring);
	INIT_LIST_HEAD(&card.backlog);
	hrtimer_init(&card.timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	card.timer.function = card_timer_fn;

	debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0600, debugfs_dir, NULL, &stats_fops);

	for (i = 0; i < ARRAY_SIZE(algs); i++)
		algs[i].base.cra_priority = priority;
	/* The kernel's self-tests run through the ring here. */
	err = crypto_register_aeads(algs, ARRAY_SIZE(algs));
	if (err) {
		debugfs_remove_recursive(debugfs_dir);
		return err;
	}
	return 0;
}

static void __exit card_exit(void)
{
	/* No tfm is left (each holds a module reference), so the ring is empty. */
	crypto_unregister_aeads(algs, ARRAY_SIZE(algs));
	hrtimer_cancel(&card.timer);
	debugfs_remove_recursive(debugfs_dir);
}

module_init(card_init);
module_exit(card_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ktlsaccel test card: an asynchronous AEAD accelerator modelled in software");

// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration: what the operator set, owned here. Module parameters
 * give the first one and are read-only afterwards; every change at run
 * time comes through the control plane (netlink.c) as a whole new
 * configuration that is checked completely before any of it takes effect.
 * The engine and the algorithms get their parts pushed to them; neither
 * reads another file's variables.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/ktime.h>
#include <linux/ktlsaccel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/string.h>

#include "config.h"
#include "param.h"

/* ---- load-time parameters ------------------------------------------------ */

static unsigned int queues;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "Number of queues (default 0: one per online CPU)");

/*
 * 128: one kTLS connection was measured with up to 110 records in flight
 * (TLS 1.2, TX and RX together), so one queue can take a connection's
 * whole burst before backpressure starts.
 */
static unsigned int depth = 128;
module_param(depth, uint, 0444);
MODULE_PARM_DESC(depth, "Ring slots per queue (default 128)");

static unsigned int latency_us;
module_param(latency_us, uint, 0444);
MODULE_PARM_DESC(latency_us, "Modelled pipeline latency per request, microseconds (default 0)");

static unsigned long long throughput;
module_param(throughput, ullong, 0444);
MODULE_PARM_DESC(throughput, "Modelled throughput cap per queue, bytes/s (default 0: none)");

/*
 * kTLS, IPsec and AF_ALG by name all take the highest priority. The CPU
 * implementations top out at 800 in mainline (x86 VAES/AVX-512 GCM, 2025;
 * Debian's 6.1 and 6.12 reach 500), so 1000 wins over every one of them.
 * Cards register anywhere from 300 (safexcel, ccp) to 3000 (CAAM): the
 * algorithms go above a card present at load (aead.c), and the default
 * backend hands the requests to it.
 */
static int priority = 1000;
module_param(priority, int, 0444);
MODULE_PARM_DESC(priority, "Crypto API priority of the algorithms (default 1000; above a card present at load)");

static const char * const dispatch_names[] = {
	[KTLSACCEL_DISPATCH_SPREAD] = "spread",
	[KTLSACCEL_DISPATCH_FLOW] = "flow",
};

static int dispatch = KTLSACCEL_DISPATCH_SPREAD;
static struct ktlsaccel_enum_param dispatch_param = {
	.value = &dispatch, .names = dispatch_names, .count = ARRAY_SIZE(dispatch_names),
};
module_param_cb(dispatch, &ktlsaccel_enum_param_ops, &dispatch_param, 0444);
MODULE_PARM_DESC(dispatch,
		 "spread (default): a flow's queued requests round-robin over all queues; flow: each flow pinned to one queue");

static const char * const inline_names[] = {
	[KTLSACCEL_INLINE_AUTO] = "auto",
	[KTLSACCEL_INLINE_NEVER] = "never",
};

static int inline_mode = KTLSACCEL_INLINE_AUTO;
static struct ktlsaccel_enum_param inline_param = {
	.value = &inline_mode, .names = inline_names, .count = ARRAY_SIZE(inline_names),
};
module_param_cb(inline_mode, &ktlsaccel_enum_param_ops, &inline_param, 0444);
MODULE_PARM_DESC(inline_mode,
		 "auto (default): requests that gain nothing from a queue run in the caller; never: all through the queues");

static unsigned int inline_threshold;
module_param(inline_threshold, uint, 0444);
MODULE_PARM_DESC(inline_threshold,
		 "Run requests with cryptlen <= this many bytes in the caller (default 0: off)");

/*
 * Decrypt policy. With an asynchronous decrypt, kTLS (6.1 and 6.12) fails a
 * whole TLS 1.2 recv() with EBADMSG when a corrupted record follows good
 * ones in the same call, and the good records' plaintext never reaches the
 * application; with a synchronous result the application first gets the
 * good bytes and EBADMSG on the next call, which is what the kernel's own
 * net/tls selftest (tls_err.bad_in_large_read) expects. "inline", the
 * default, keeps that; "async" pipelines TLS 1.2 RX records. A card or the
 * model runs every request asynchronously, as a card would without us.
 */
static const char * const decrypt_names[] = {
	[KTLSACCEL_DECRYPT_INLINE] = "inline",
	[KTLSACCEL_DECRYPT_ASYNC] = "async",
};

static int decrypt = KTLSACCEL_DECRYPT_INLINE;
static struct ktlsaccel_enum_param decrypt_param = {
	.value = &decrypt, .names = decrypt_names, .count = ARRAY_SIZE(decrypt_names),
};
module_param_cb(decrypt, &ktlsaccel_enum_param_ops, &decrypt_param, 0444);
MODULE_PARM_DESC(decrypt,
		 "Decrypt policy on the CPU: inline (default, synchronous semantics) or async (pipelined)");

static char *backend = "auto";
module_param(backend, charp, 0444);
MODULE_PARM_DESC(backend,
		 "auto (default: a card when present), cpu, or a comma-separated list of asynchronous drivers to use");

static unsigned int fault_rate;
module_param(fault_rate, uint, 0444);
MODULE_PARM_DESC(fault_rate, "Fail this many requests per million (default 0)");

static unsigned int fault_errno = EBADMSG;
module_param(fault_errno, uint, 0444);
MODULE_PARM_DESC(fault_errno, "Error of injected failures: 74 (EBADMSG, default) or 5 (EIO)");

static const char * const fault_ops_names[] = { "decrypt", "encrypt", "both" };

static int fault_ops;
static struct ktlsaccel_enum_param fault_ops_param = {
	.value = &fault_ops, .names = fault_ops_names, .count = ARRAY_SIZE(fault_ops_names),
};
module_param_cb(fault_ops, &ktlsaccel_enum_param_ops, &fault_ops_param, 0444);
MODULE_PARM_DESC(fault_ops, "Which requests fault_rate applies to: decrypt (default), encrypt, both");

static unsigned int fault_delay_us;
module_param(fault_delay_us, uint, 0444);
MODULE_PARM_DESC(fault_delay_us, "Added latency of every queued request, microseconds (default 0)");

/* ---- the configuration in force ----------------------------------------- */

/*
 * Changes are serialised by config_lock, held across a rebuild of the
 * queues (which waits for the old ones to drain); readers copy the
 * configuration under current_lock and never wait for a change.
 */
static struct ktlsaccel_config current_cfg;
static DEFINE_MUTEX(config_lock);
static DEFINE_SPINLOCK(current_lock);

int ktlsaccel_config_priority(void)
{
	return priority;
}

void ktlsaccel_config_clear_faults(struct ktlsaccel_config *cfg)
{
	ktlsaccel_fault_init(&cfg->knobs.fault);
}

void ktlsaccel_config_stall(struct ktlsaccel_config *cfg, int queue)
{
	cfg->knobs.fault.stall_queue = queue;
	cfg->knobs.fault.stall_until_ns = ktime_get_ns() +
		(u64)KTLSACCEL_MAX_STALL_MS * NSEC_PER_MSEC;
}

void ktlsaccel_config_get(struct ktlsaccel_config *cfg)
{
	spin_lock(&current_lock);
	*cfg = current_cfg;
	spin_unlock(&current_lock);
	if (cfg->knobs.fault.stall_queue >= 0 &&
	    ktime_get_ns() >= cfg->knobs.fault.stall_until_ns)
		cfg->knobs.fault.stall_queue = -1;
}

/* Every bound of the uapi header, whoever asks: one place checks them. */
static int validate(const struct ktlsaccel_config *cfg,
		    struct netlink_ext_ack *extack)
{
	const struct ktlsaccel_engine_config *s = &cfg->shape;
	const struct ktlsaccel_engine_knobs *k = &cfg->knobs;
	const struct ktlsaccel_fault_config *f = &k->fault;
	unsigned int i;
	int err;

	if (s->queues < 1 || s->queues > KTLSACCEL_MAX_QUEUES) {
		NL_SET_ERR_MSG(extack, "queues must be 1..256");
		return -EINVAL;
	}
	if (s->depth < 1 || s->depth > KTLSACCEL_MAX_DEPTH) {
		NL_SET_ERR_MSG(extack, "depth must be 1..65536");
		return -EINVAL;
	}
	if (s->latency_us > KTLSACCEL_MAX_LATENCY_US) {
		NL_SET_ERR_MSG(extack, "latency-us must be 0..10000000");
		return -EINVAL;
	}
	/* A floor, so that no request waits for ages behind a tiny cap. */
	if (s->throughput && s->throughput < KTLSACCEL_MIN_THROUGHPUT) {
		NL_SET_ERR_MSG(extack, "throughput must be 0 (none) or at least 1000000 bytes/s");
		return -EINVAL;
	}
	if (k->dispatch > KTLSACCEL_DISPATCH_FLOW || k->decrypt > KTLSACCEL_DECRYPT_ASYNC ||
	    k->inline_mode > KTLSACCEL_INLINE_NEVER) {
		NL_SET_ERR_MSG(extack, "dispatch, decrypt or inline out of range");
		return -EINVAL;
	}
	if (f->rate > KTLSACCEL_FAULT_RATE_SCALE) {
		NL_SET_ERR_MSG(extack, "fault rate must be 0..1000000 (per million)");
		return -EINVAL;
	}
	if (f->err != EBADMSG && f->err != EIO) {
		NL_SET_ERR_MSG(extack, "fault errno must be EBADMSG or EIO");
		return -EINVAL;
	}
	if (f->ops < KTLSACCEL_FAULT_OPS_DECRYPT || f->ops > KTLSACCEL_FAULT_OPS_BOTH) {
		NL_SET_ERR_MSG(extack, "fault ops must be 1 (decrypt), 2 (encrypt) or 3 (both)");
		return -EINVAL;
	}
	if (f->delay_us > KTLSACCEL_MAX_LATENCY_US) {
		NL_SET_ERR_MSG(extack, "fault delay-us must be 0..10000000");
		return -EINVAL;
	}
	if (f->stall_queue >= (int)s->queues || f->stall_queue < -1) {
		NL_SET_ERR_MSG(extack, "fault stall-queue is not an existing queue");
		return -EINVAL;
	}
	for (i = 0; i < KTLSACCEL_NR_ALGS; i++) {
		if (cfg->backend[i].mode > KTLSACCEL_BACKEND_DRIVER) {
			NL_SET_ERR_MSG(extack, "backend mode must be auto, cpu or driver");
			return -EINVAL;
		}
		err = ktlsaccel_aead_check_backend(i, cfg->backend[i].mode,
						   cfg->backend[i].driver, extack);
		if (err)
			return err;
	}
	return 0;
}

static bool same_shape(const struct ktlsaccel_engine_config *a,
		       const struct ktlsaccel_engine_config *b)
{
	return a->queues == b->queues && a->depth == b->depth &&
	       a->latency_us == b->latency_us && a->throughput == b->throughput;
}

int ktlsaccel_config_apply(const struct ktlsaccel_config *cfg,
			   struct netlink_ext_ack *extack)
{
	struct ktlsaccel_config *old = &current_cfg;
	unsigned int i;
	int err;

	mutex_lock(&config_lock);
	err = validate(cfg, extack);
	if (err)
		goto out;
	/* The knobs first: only they can fail after the queues were rebuilt. */
	err = ktlsaccel_engine_set_knobs(&cfg->knobs);
	if (err)
		goto out;
	if (!same_shape(&cfg->shape, &old->shape)) {
		err = ktlsaccel_engine_reconfigure(&cfg->shape);
		if (err) {
			NL_SET_ERR_MSG(extack, "the engine could not be rebuilt");
			/* Best effort: the old knobs back (a copy may fail). */
			if (ktlsaccel_engine_set_knobs(&old->knobs))
				pr_warn("could not restore the previous knobs\n");
			goto out;
		}
	}
	for (i = 0; i < KTLSACCEL_NR_ALGS; i++)
		if (cfg->backend[i].mode != old->backend[i].mode ||
		    strcmp(cfg->backend[i].driver, old->backend[i].driver))
			ktlsaccel_aead_set_backend(i, cfg->backend[i].mode,
						   cfg->backend[i].driver);
	spin_lock(&current_lock);
	current_cfg = *cfg;
	spin_unlock(&current_lock);
out:
	mutex_unlock(&config_lock);
	return err;
}

/* backend=auto | cpu | DRIVER[,DRIVER...] */
static int parse_backend(struct ktlsaccel_config *cfg)
{
	char *list, *cur, *name;
	struct crypto_aead *t;
	unsigned int i;
	int err = 0, idx;

	for (i = 0; i < KTLSACCEL_NR_ALGS; i++)
		cfg->backend[i].mode = KTLSACCEL_BACKEND_AUTO;
	if (!backend || !strcmp(backend, "auto"))
		return 0;
	if (!strcmp(backend, "cpu")) {
		for (i = 0; i < KTLSACCEL_NR_ALGS; i++)
			cfg->backend[i].mode = KTLSACCEL_BACKEND_CPU;
		return 0;
	}
	list = kstrdup(backend, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	cur = list;
	while ((name = strsep(&cur, ",")) && !err) {
		if (!*name)
			continue;
		t = crypto_alloc_aead(name, 0, 0);
		if (IS_ERR(t)) {
			pr_err("backend: no driver %s\n", name);
			err = -ENOENT;
			break;
		}
		idx = ktlsaccel_aead_index(crypto_tfm_alg_name(crypto_aead_tfm(t)));
		crypto_free_aead(t);
		if (idx < 0) {
			pr_err("backend: %s implements none of our algorithms\n", name);
			err = -EINVAL;
			break;
		}
		cfg->backend[idx].mode = KTLSACCEL_BACKEND_DRIVER;
		strscpy(cfg->backend[idx].driver, name, sizeof(cfg->backend[idx].driver));
		err = ktlsaccel_aead_check_backend(idx, KTLSACCEL_BACKEND_DRIVER, name, NULL);
		if (err)
			pr_err("backend: %s cannot be used (%d)\n", name, err);
	}
	kfree(list);
	return err;
}

int ktlsaccel_config_start(void)
{
	struct ktlsaccel_config *cfg = &current_cfg;
	unsigned int i;
	int err;

	cfg->shape = (struct ktlsaccel_engine_config) {
		.queues = queues ?: min_t(unsigned int, num_online_cpus(),
					  KTLSACCEL_MAX_QUEUES),
		.depth = depth,
		.latency_us = latency_us,
		.throughput = throughput,
	};
	cfg->knobs = (struct ktlsaccel_engine_knobs) {
		.dispatch = dispatch,
		.inline_mode = inline_mode,
		.decrypt = decrypt,
		.inline_threshold = inline_threshold,
	};
	ktlsaccel_fault_init(&cfg->knobs.fault);
	cfg->knobs.fault.rate = fault_rate;
	cfg->knobs.fault.err = fault_errno;
	cfg->knobs.fault.ops = fault_ops + KTLSACCEL_FAULT_OPS_DECRYPT;
	cfg->knobs.fault.delay_us = fault_delay_us;

	err = ktlsaccel_aead_init();
	if (err)
		return err;
	err = parse_backend(cfg);
	if (!err)
		err = validate(cfg, NULL);
	if (err) {
		pr_err("invalid parameters: see modinfo ktlsaccel for the ranges\n");
		goto err_aead;
	}
	err = ktlsaccel_engine_init(&cfg->shape, &cfg->knobs,
				    &ktlsaccel_aead_engine_ops);
	if (err)
		goto err_aead;
	for (i = 0; i < KTLSACCEL_NR_ALGS; i++)
		ktlsaccel_aead_set_backend(i, cfg->backend[i].mode, cfg->backend[i].driver);
	return 0;

err_aead:
	ktlsaccel_aead_exit();
	return err;
}

void ktlsaccel_config_stop(void)
{
	ktlsaccel_engine_exit();
	ktlsaccel_aead_exit();
}

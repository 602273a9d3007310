/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_QUEUE_H
#define _KTLSACCEL_QUEUE_H

#include <crypto/aead.h>
#include <linux/list.h>
#include <linux/ktlsaccel.h>
#include <linux/types.h>

#include "fault.h"
#include "stats.h"

/* The engine's shape; changed as a whole by rebuilding the queues. */
struct ktlsaccel_engine_config {
	unsigned int queues;
	unsigned int depth;		/* ring slots per queue */
	unsigned int latency_us;	/* modelled pipeline latency per request */
	u64 throughput;			/* modelled bytes/s per queue, 0: none */
};

/* What the engine reads on the request path; replaced as a whole. */
struct ktlsaccel_engine_knobs {
	u32 dispatch;			/* enum ktlsaccel_dispatch */
	u32 inline_mode;		/* enum ktlsaccel_inline */
	u32 decrypt;			/* enum ktlsaccel_decrypt */
	u32 inline_threshold;		/* cryptlen; 0: off */
	struct ktlsaccel_fault_config fault;
};

/* What the engine calls in the layer above it (the algorithms, aead.c). */
struct ktlsaccel_engine_ops {
	/* Runs @req to completion on the CPU, in the current context. */
	int (*run)(struct aead_request *req, bool encrypt, bool may_sleep);
};

/*
 * Per-request context, at aead_request_ctx() of the caller's request. The
 * caller owns the request until it is completed, so the engine can link it
 * into its lists without allocating anything.
 */
struct ktlsaccel_rctx {
	struct list_head node;		/* in a queue's lists */
	struct list_head order;		/* in its flow's submission order */
	struct aead_request *req;
	struct ktlsaccel_flow *flow;
	struct crypto_aead *card;	/* NULL: the CPU runs it */
	void *queue;			/* the queue holding its slot */
	u64 submit_ns;			/* handed over (local_clock(): histograms) */
	u64 deadline_ns;		/* modelled completion (ktime_get_ns(), 0: none) */
	int result;
	bool encrypt;
	bool done;			/* result known, waiting for its turn */
	/* Last: the fallback's or the card's request context follows it. */
	struct aead_request subreq;
};

int ktlsaccel_engine_init(const struct ktlsaccel_engine_config *cfg,
			  const struct ktlsaccel_engine_knobs *knobs,
			  const struct ktlsaccel_engine_ops *ops);
void ktlsaccel_engine_exit(void);

/* Sets up the engine's part of a new flow (its order, its history). */
int ktlsaccel_engine_flow_init(struct ktlsaccel_flow *flow);
void ktlsaccel_engine_flow_exit(struct ktlsaccel_flow *flow);

/*
 * Hands @req of @flow to the engine; @card: the asynchronous driver's tfm
 * to run it on, NULL for the CPU. Returns -EINPROGRESS (queued), -EBUSY
 * (backlogged: -EINPROGRESS then the result follow through the callback),
 * or the result of running it in the caller's context.
 */
int ktlsaccel_engine_submit(struct ktlsaccel_flow *flow, struct crypto_aead *card,
			    struct aead_request *req, bool encrypt);

/*
 * While on, every request goes through the queues, whatever the caller:
 * the kernel's self-tests at registration must test the queued path.
 */
void ktlsaccel_engine_force_queue(bool on);

/*
 * Replaces the queues with a new set built from @cfg while requests are in
 * flight: new requests go to the new queues at once, the old queues finish
 * (and drain their backlogs) before they are freed. Sleeps. The caller has
 * checked @cfg. Returns 0 or -ENOMEM, in which case nothing changed.
 */
int ktlsaccel_engine_reconfigure(const struct ktlsaccel_engine_config *cfg);

/*
 * Publishes new knobs (a copy is made). Wakes the workers, so that a queue
 * that stops being stalled runs again. Returns 0 or -ENOMEM.
 */
int ktlsaccel_engine_set_knobs(const struct ktlsaccel_engine_knobs *knobs);

/* Zeroes the counters of the engine and its queues (gauges excepted). */
void ktlsaccel_engine_reset_stats(void);

/* What a reader (debugfs, netlink) learns about one queue. */
struct ktlsaccel_queue_info {
	unsigned int index;
	unsigned int ring;		/* requests holding a slot now */
	unsigned int backlog;		/* requests waiting for a slot */
	struct ktlsaccel_stats stats;
};

/* Snapshots: the whole engine (queues already replaced included), each queue. */
void ktlsaccel_engine_stats(struct ktlsaccel_stats *s);
/*
 * Fills @qi for queue @index of the current set; -ENOENT past the last one.
 * Index-based so that a netlink dump can resume where it stopped.
 */
int ktlsaccel_engine_queue_info(unsigned int index, struct ktlsaccel_queue_info *qi);

#endif /* _KTLSACCEL_QUEUE_H */

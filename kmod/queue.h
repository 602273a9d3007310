/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_QUEUE_H
#define _KTLSACCEL_QUEUE_H

#include <crypto/aead.h>
#include <linux/list.h>
#include <linux/ktlsaccel.h>
#include <linux/types.h>

#include "stats.h"

/* What the engine models; changed as a whole by reconfigure. */
struct ktlsaccel_engine_config {
	unsigned int queues;
	unsigned int depth;		/* ring slots per queue */
	unsigned int latency_us;	/* pipeline latency per request */
	u64 throughput;			/* bytes/s per queue, 0: unlimited */
};

/*
 * Per-request context, at aead_request_ctx() of the caller's request. The
 * caller owns the request until it is completed, so the engine can link it
 * into its lists without allocating anything.
 */
struct ktlsaccel_rctx {
	struct list_head node;
	struct aead_request *req;
	struct ktlsaccel_flow *flow;
	u64 submit_ns;			/* when the caller handed it over */
	u64 deadline_ns;		/* modelled completion time */
	int result;
	bool encrypt;
	/* Last: the fallback's request context follows it. */
	struct aead_request subreq;
};

int ktlsaccel_engine_init(void);
void ktlsaccel_engine_exit(void);

/*
 * Hands @req to the engine. Returns -EINPROGRESS (queued), -EBUSY
 * (backlogged: -EINPROGRESS then the result follow through the callback),
 * -ENOSPC (refused, ring full and no MAY_BACKLOG), or, when @run_inline,
 * the result of running it in the caller's context.
 */
int ktlsaccel_engine_submit(struct aead_request *req, bool encrypt,
			    bool run_inline);

/*
 * Replaces the queues with a new set built from @cfg while requests are in
 * flight: new requests go to the new queues at once, the old queues finish
 * (and drain their backlogs) before they are freed. Sleeps. Returns 0 or
 * -EINVAL/-ENOMEM, in which case nothing changed.
 */
int ktlsaccel_engine_reconfigure(const struct ktlsaccel_engine_config *cfg);
void ktlsaccel_engine_get_config(struct ktlsaccel_engine_config *cfg);

enum ktlsaccel_dispatch ktlsaccel_engine_dispatch(void);
void ktlsaccel_engine_set_dispatch(enum ktlsaccel_dispatch policy);

/* Zeroes the counters of the engine and its queues (gauges excepted). */
void ktlsaccel_engine_reset_stats(void);

/* Wakes every worker, e.g. after a queue stopped being stalled. */
void ktlsaccel_engine_kick(void);

/* What a reader (debugfs, later netlink) learns about one queue. */
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

/* Provided by aead.c: runs the request through the fallback now. */
int ktlsaccel_aead_process(struct aead_request *req, bool encrypt,
			   bool may_sleep);

#endif /* _KTLSACCEL_QUEUE_H */

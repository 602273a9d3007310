/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KTLSACCEL_STATS_H
#define _KTLSACCEL_STATS_H

#include <linux/atomic.h>
#include <linux/crypto.h>
#include <linux/cred.h>
#include <linux/ktlsaccel.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/types.h>

/* Why the engine ran a request in the caller's context. */
enum ktlsaccel_inline_reason {
	KTLSACCEL_INLINE_WAITER,	/* the caller sleeps until it is done anyway */
	KTLSACCEL_INLINE_LONE,		/* nothing of its flow could overlap it */
	KTLSACCEL_INLINE_FULL,		/* ring full, caller may not be backlogged */
	KTLSACCEL_INLINE_POLICY,	/* decrypt policy or inline threshold */
	KTLSACCEL_INLINE_REASONS
};

/* Bucket i counts requests that took [2^i, 2^(i+1)) microseconds (0: < 2). */
#define KTLSACCEL_LAT_BUCKETS KTLSACCEL_LATENCY_BUCKETS

/*
 * Requests in flight (queued, or at a card, and not yet delivered) and
 * their peak, for the engine, each queue and each flow. The engine's peak
 * cannot be derived from the queues' peaks (they peak at different times),
 * so it keeps its own. Requests run in the caller's context never count.
 */
struct ktlsaccel_gauge {
	atomic_t cur;
	atomic_t max;
};

void ktlsaccel_gauge_inc(struct ktlsaccel_gauge *g);
void ktlsaccel_gauge_dec(struct ktlsaccel_gauge *g);
void ktlsaccel_gauge_reset(struct ktlsaccel_gauge *g);

/*
 * Counters of one queue or one flow. Atomics rather than a lock: they are
 * bumped by submitters on any CPU and by the queue's worker, and read by
 * netlink and debugfs without stopping either. A queue, which every CPU's
 * submitters share, keeps one copy per CPU (ktlsaccel_counters_sum() adds
 * them up), so that no cache line of it is written by every CPU; a flow is
 * one socket direction, submitted under its socket's lock, and keeps one.
 *
 * Invariant once idle: submitted == completed + errors, in_flight == 0.
 * Requests refused with -ENOSPC are counted as rejected, not submitted.
 */
struct ktlsaccel_order;

struct ktlsaccel_counters {
	/*
	 * Requests run in the caller's context touch only their reason,
	 * bytes and completed (or errors): the snapshot counts them as
	 * submitted and inlined, and they are never in flight.
	 */
	atomic64_t submitted;	/* queued or sent to a card */
	atomic64_t completed;	/* finished with 0 */
	atomic64_t errors;	/* finished with an error */
	atomic64_t backlogged;	/* accepted with -EBUSY */
	atomic64_t rejected;	/* refused with -ENOSPC */
	atomic64_t faults;	/* errors injected by fault.c */
	atomic64_t bytes;	/* cryptlen of finished requests */
	/* Why inlined requests ran in the caller: enum ktlsaccel_inline_reason */
	atomic64_t inline_reason[KTLSACCEL_INLINE_REASONS];
	atomic64_t held;	/* completions held back for the flow's order */
	atomic64_t latency[KTLSACCEL_LAT_BUCKETS];
};

/* A plain copy of the counters, for reporting. */
struct ktlsaccel_stats {
	u64 submitted, completed, errors, backlogged, rejected, inlined;
	u64 faults, bytes;
	u64 inline_reason[KTLSACCEL_INLINE_REASONS];
	u64 held;
	u32 in_flight, max_in_flight;
	u64 latency[KTLSACCEL_LAT_BUCKETS];
};

/*
 * Every tfm is a flow: kTLS allocates one per socket direction, so a flow
 * is what an operator recognises as "this connection's TX".
 */
struct ktlsaccel_flow {
	u64 id;				/* the registry's key */
	kuid_t uid;			/* creator's euid: who may see pid, comm */
	pid_t pid;
	char comm[TASK_COMM_LEN];
	const char *driver;
	const char *alg;		/* crypto API name, e.g. "gcm(aes)" */
	/*
	 * "cpu" or the card driver that runs the requests; NULL: not known.
	 * Set before ktlsaccel_flow_register() or with WRITE_ONCE(); must
	 * stay valid until ktlsaccel_flow_unregister() returns.
	 */
	const char *backend;
	atomic_t ops_seen;		/* KTLSACCEL_FLOW_ENCRYPT | _DECRYPT */
	unsigned int keylen;
	atomic_t cursor;		/* round-robin position for "spread" */

	/* Its requests in submission order, for ordered completions (queue.c). */
	struct ktlsaccel_order *order;

	/* The lone-record heuristic; written by the submitter only. */
	bool async_mode;		/* the last record was queued */
	bool overlapped;		/* a record found another in flight */
	u8 skip;			/* records to run inline before probing */
	u8 backoff;

	struct ktlsaccel_counters c;
	struct ktlsaccel_gauge in_flight;	/* queued or at a card */
};

void ktlsaccel_counters_submit(struct ktlsaccel_counters *c, bool backlogged);
void ktlsaccel_counters_done(struct ktlsaccel_counters *c, int err,
			     unsigned int bytes, u64 submit_ns, u64 now_ns);
void ktlsaccel_counters_inline(struct ktlsaccel_counters *c, unsigned int reason,
			       int err, unsigned int bytes);
void ktlsaccel_counters_snapshot(const struct ktlsaccel_counters *c,
				 struct ktlsaccel_stats *s);
void ktlsaccel_counters_sum(struct ktlsaccel_counters __percpu *pc,
			    struct ktlsaccel_stats *s);
void ktlsaccel_counters_reset_all(struct ktlsaccel_counters __percpu *pc);
void ktlsaccel_gauge_snapshot(const struct ktlsaccel_gauge *g,
			      struct ktlsaccel_stats *s);
void ktlsaccel_stats_add(struct ktlsaccel_stats *sum,
			 const struct ktlsaccel_stats *s);

#define KTLSACCEL_FLOW_ENCRYPT	BIT(0)
#define KTLSACCEL_FLOW_DECRYPT	BIT(1)

void ktlsaccel_counters_reset(struct ktlsaccel_counters *c);

/*
 * A copy of one flow, taken while the registry holds it: the flow itself
 * may be freed (with its tfm, from any context) as soon as the copy is made.
 */
struct ktlsaccel_flow_info {
	u64 id;
	kuid_t uid;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	const char *alg;		/* the module's own names: live as long as it */
	const char *driver;
	char backend[CRYPTO_MAX_ALG_NAME];	/* "" when the flow has none */
	unsigned int keylen;
	enum ktlsaccel_direction direction;
	struct ktlsaccel_stats stats;
};

/* Gives the flow its id; -ENOMEM (the registry could not grow) fails the tfm. */
int ktlsaccel_flow_register(struct ktlsaccel_flow *flow, const char *alg,
			    const char *driver);
void ktlsaccel_flow_unregister(struct ktlsaccel_flow *flow);
/*
 * Copies the live flow with the smallest id >= @id into @fi; -ENOENT when
 * there is none. O(log n), the registry locked for that one flow only: a
 * walk resumes from the id after the last one it saw.
 */
int ktlsaccel_flow_find(u64 id, struct ktlsaccel_flow_info *fi);

/* A flow is TX, RX or both depending on the requests it has seen. */
static inline void ktlsaccel_flow_saw(struct ktlsaccel_flow *flow, bool encrypt)
{
	int bit = encrypt ? KTLSACCEL_FLOW_ENCRYPT : KTLSACCEL_FLOW_DECRYPT;

	/* Read first: after the first record this never writes again. */
	if (unlikely(!(atomic_read(&flow->ops_seen) & bit)))
		atomic_or(bit, &flow->ops_seen);
}

enum ktlsaccel_direction ktlsaccel_flow_direction(const struct ktlsaccel_flow *flow);
/* Live flows, from a counter (no walk). */
unsigned int ktlsaccel_flows_count(void);
/* Sleeps between flows: process context only. */
void ktlsaccel_flows_reset_stats(void);

#endif /* _KTLSACCEL_STATS_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Counters and the flow registry. Nothing here takes a lock on the request
 * path; the registry's lock is only taken when a tfm is created or freed and,
 * for one flow at a time, when someone reads or resets the flows.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/log2.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/time64.h>
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "stats.h"

/*
 * Flows by id. A dump resumes from the last id it sent with one lookup,
 * and takes the lock for one flow at a time: the flow lives in its tfm's
 * context, which is freed without an RCU grace period, so what a reader
 * copies it copies under the lock that unregistering takes. _BH: a tfm may
 * be freed from softirq context (e.g. an xfrm state).
 */
static DEFINE_XARRAY_FLAGS(flows, XA_FLAGS_LOCK_BH);
static atomic64_t last_flow_id;
static atomic_t nr_flows;

static void update_max(atomic_t *max, int val)
{
	int old = atomic_read(max);

	while (val > old && !atomic_try_cmpxchg(max, &old, val))
		;
}

void ktlsaccel_gauge_inc(struct ktlsaccel_gauge *g)
{
	update_max(&g->max, atomic_inc_return(&g->cur));
}

void ktlsaccel_gauge_dec(struct ktlsaccel_gauge *g)
{
	atomic_dec(&g->cur);
}

/* The peak restarts from the present. */
void ktlsaccel_gauge_reset(struct ktlsaccel_gauge *g)
{
	atomic_set(&g->max, atomic_read(&g->cur));
}

void ktlsaccel_gauge_snapshot(const struct ktlsaccel_gauge *g,
			      struct ktlsaccel_stats *s)
{
	s->in_flight = atomic_read(&g->cur);
	s->max_in_flight = atomic_read(&g->max);
}

void ktlsaccel_counters_submit(struct ktlsaccel_counters *c, bool backlogged)
{
	atomic64_inc(&c->submitted);
	if (backlogged)
		atomic64_inc(&c->backlogged);
}

void ktlsaccel_counters_done(struct ktlsaccel_counters *c, int err,
			     unsigned int bytes, u64 submit_ns, u64 now_ns)
{
	u64 us = now_ns > submit_ns ? (now_ns - submit_ns) / NSEC_PER_USEC : 0;
	unsigned int bucket = us > 1 ? ilog2(us) : 0;

	if (bucket >= KTLSACCEL_LAT_BUCKETS)
		bucket = KTLSACCEL_LAT_BUCKETS - 1;
	atomic64_inc(&c->latency[bucket]);
	atomic64_add(bytes, &c->bytes);
	if (err)
		atomic64_inc(&c->errors);
	else
		atomic64_inc(&c->completed);
}

/*
 * A request run in the caller's context: three atomics, no gauge and no
 * latency sample (the histograms are of the pipeline, and a clock read
 * can cost more than a small record: the HPET under emulation).
 */
void ktlsaccel_counters_inline(struct ktlsaccel_counters *c, unsigned int reason,
			       int err, unsigned int bytes)
{
	atomic64_inc(&c->inline_reason[reason]);
	atomic64_add(bytes, &c->bytes);
	atomic64_inc(err ? &c->errors : &c->completed);
}

void ktlsaccel_counters_snapshot(const struct ktlsaccel_counters *c,
				 struct ktlsaccel_stats *s)
{
	unsigned int i;

	/*
	 * Finished before started, since a request is counted submitted (or
	 * by its reason) before it finishes: under traffic each figure is of
	 * its own moment, and this order keeps finished from running ahead
	 * of submitted where the machine keeps stores in order (x86).
	 */
	s->completed = atomic64_read(&c->completed);
	s->errors = atomic64_read(&c->errors);
	s->inlined = 0;
	for (i = 0; i < KTLSACCEL_INLINE_REASONS; i++) {
		s->inline_reason[i] = atomic64_read(&c->inline_reason[i]);
		s->inlined += s->inline_reason[i];
	}
	s->submitted = atomic64_read(&c->submitted) + s->inlined;
	s->backlogged = atomic64_read(&c->backlogged);
	s->rejected = atomic64_read(&c->rejected);
	s->faults = atomic64_read(&c->faults);
	s->bytes = atomic64_read(&c->bytes);
	s->held = atomic64_read(&c->held);
	s->in_flight = 0;
	s->max_in_flight = 0;
	for (i = 0; i < KTLSACCEL_LAT_BUCKETS; i++)
		s->latency[i] = atomic64_read(&c->latency[i]);
}

/* The per-CPU copies of one queue's counters, added up (no gauge). */
void ktlsaccel_counters_sum(struct ktlsaccel_counters __percpu *pc,
			    struct ktlsaccel_stats *s)
{
	struct ktlsaccel_stats one;
	int cpu;

	memset(s, 0, sizeof(*s));
	for_each_possible_cpu(cpu) {
		ktlsaccel_counters_snapshot(per_cpu_ptr(pc, cpu), &one);
		ktlsaccel_stats_add(s, &one);
	}
}

void ktlsaccel_counters_reset_all(struct ktlsaccel_counters __percpu *pc)
{
	int cpu;

	for_each_possible_cpu(cpu)
		ktlsaccel_counters_reset(per_cpu_ptr(pc, cpu));
}

void ktlsaccel_stats_add(struct ktlsaccel_stats *sum,
			 const struct ktlsaccel_stats *s)
{
	unsigned int i;

	sum->submitted += s->submitted;
	sum->completed += s->completed;
	sum->errors += s->errors;
	sum->backlogged += s->backlogged;
	sum->rejected += s->rejected;
	sum->inlined += s->inlined;
	sum->faults += s->faults;
	sum->bytes += s->bytes;
	for (i = 0; i < KTLSACCEL_INLINE_REASONS; i++)
		sum->inline_reason[i] += s->inline_reason[i];
	sum->held += s->held;
	sum->in_flight += s->in_flight;
	/*
	 * Queues peak at different times: the largest peak is a lower bound
	 * of the sum's peak. The engine replaces it with its own gauge.
	 */
	sum->max_in_flight = max(sum->max_in_flight, s->max_in_flight);
	for (i = 0; i < KTLSACCEL_LAT_BUCKETS; i++)
		sum->latency[i] += s->latency[i];
}

void ktlsaccel_counters_reset(struct ktlsaccel_counters *c)
{
	unsigned int i;

	atomic64_set(&c->submitted, 0);
	atomic64_set(&c->completed, 0);
	atomic64_set(&c->errors, 0);
	atomic64_set(&c->backlogged, 0);
	atomic64_set(&c->rejected, 0);
	atomic64_set(&c->faults, 0);
	atomic64_set(&c->bytes, 0);
	for (i = 0; i < KTLSACCEL_INLINE_REASONS; i++)
		atomic64_set(&c->inline_reason[i], 0);
	atomic64_set(&c->held, 0);
	for (i = 0; i < KTLSACCEL_LAT_BUCKETS; i++)
		atomic64_set(&c->latency[i], 0);
}

int ktlsaccel_flow_register(struct ktlsaccel_flow *flow, const char *alg,
			    const char *driver)
{
	int err;

	flow->pid = task_tgid_nr(current);
	flow->uid = current_euid();
	get_task_comm(flow->comm, current);
	flow->driver = driver;
	flow->alg = alg;
	atomic_set(&flow->ops_seen, 0);
	flow->keylen = 0;
	atomic_set(&flow->cursor, 0);

	/*
	 * Ids only grow (never reused while the module is loaded), so a dump
	 * that resumes after id N cannot list a flow twice. The index is an
	 * unsigned long: 2^64 ids on 64-bit, 2^32 on 32-bit, where an id past
	 * the end fails the tfm rather than alias a live flow.
	 */
	flow->id = atomic64_inc_return(&last_flow_id);
	if (flow->id != (unsigned long)flow->id)
		return -ENOSPC;
	err = xa_insert_bh(&flows, flow->id, flow, GFP_KERNEL);
	if (err)
		return err;
	atomic_inc(&nr_flows);
	return 0;
}

void ktlsaccel_flow_unregister(struct ktlsaccel_flow *flow)
{
	xa_erase_bh(&flows, flow->id);
	atomic_dec(&nr_flows);
}

static void flow_copy(const struct ktlsaccel_flow *flow,
		      struct ktlsaccel_flow_info *fi)
{
	const char *backend;

	fi->id = flow->id;
	fi->uid = flow->uid;
	fi->pid = flow->pid;
	memcpy(fi->comm, flow->comm, sizeof(fi->comm));
	fi->alg = flow->alg;
	fi->driver = flow->driver;
	/* The backend's name may belong to a card driver that goes away. */
	backend = READ_ONCE(flow->backend);
	if (backend)
		strscpy(fi->backend, backend, sizeof(fi->backend));
	else
		fi->backend[0] = '\0';
	fi->keylen = READ_ONCE(flow->keylen);
	fi->direction = ktlsaccel_flow_direction(flow);
	ktlsaccel_counters_snapshot(&flow->c, &fi->stats);
	ktlsaccel_gauge_snapshot(&flow->in_flight, &fi->stats);
}

int ktlsaccel_flow_find(u64 id, struct ktlsaccel_flow_info *fi)
{
	unsigned long index = id;
	struct ktlsaccel_flow *flow;

	if (id != index)
		return -ENOENT;
	xa_lock_bh(&flows);
	flow = xa_find(&flows, &index, ULONG_MAX, XA_PRESENT);
	if (flow)
		flow_copy(flow, fi);
	xa_unlock_bh(&flows);
	return flow ? 0 : -ENOENT;
}

enum ktlsaccel_direction ktlsaccel_flow_direction(const struct ktlsaccel_flow *flow)
{
	switch (atomic_read(&flow->ops_seen)) {
	case KTLSACCEL_FLOW_ENCRYPT:
		return KTLSACCEL_DIRECTION_TX;
	case KTLSACCEL_FLOW_DECRYPT:
		return KTLSACCEL_DIRECTION_RX;
	case KTLSACCEL_FLOW_ENCRYPT | KTLSACCEL_FLOW_DECRYPT:
		return KTLSACCEL_DIRECTION_BOTH;
	default:
		return KTLSACCEL_DIRECTION_NONE;
	}
}

unsigned int ktlsaccel_flows_count(void)
{
	return atomic_read(&nr_flows);
}

/* One flow per lock hold, as ktlsaccel_flow_find(): tfms come and go meanwhile. */
void ktlsaccel_flows_reset_stats(void)
{
	struct ktlsaccel_flow *flow;
	unsigned long index = 0;

	for (;;) {
		xa_lock_bh(&flows);
		flow = xa_find(&flows, &index, ULONG_MAX, XA_PRESENT);
		if (flow) {
			ktlsaccel_counters_reset(&flow->c);
			ktlsaccel_gauge_reset(&flow->in_flight);
		}
		xa_unlock_bh(&flows);
		if (!flow || index == ULONG_MAX)
			break;
		index++;
		cond_resched();
	}
}

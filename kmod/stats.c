// SPDX-License-Identifier: GPL-2.0
/*
 * Counters and the flow registry. Nothing here takes a lock on the request
 * path; the registry lock is only taken when a tfm is created or freed and
 * when someone reads the list.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/log2.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/time64.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "stats.h"

/*
 * The registry lists flows in id order: a netlink dump resumes after the
 * last id it sent, so a flow listed after one with a higher id would be
 * skipped. The id is therefore taken under the lock that adds the flow.
 */
static LIST_HEAD(flows);
/* _bh: a tfm may be freed from softirq context (e.g. an xfrm state). */
static DEFINE_SPINLOCK(flows_lock);
static u64 last_flow_id;	/* under flows_lock */

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

void ktlsaccel_counters_submit(struct ktlsaccel_counters *c, bool backlogged)
{
	atomic64_inc(&c->submitted);
	if (backlogged)
		atomic64_inc(&c->backlogged);
	update_max(&c->max_in_flight, atomic_inc_return(&c->in_flight));
}

void ktlsaccel_counters_done(struct ktlsaccel_counters *c, int err,
			     unsigned int bytes, u64 submit_ns, u64 now_ns)
{
	u64 us = now_ns > submit_ns ? (now_ns - submit_ns) / NSEC_PER_USEC : 0;
	unsigned int bucket = us > 1 ? ilog2(us) : 0;

	if (bucket >= KTLSACCEL_LAT_BUCKETS)
		bucket = KTLSACCEL_LAT_BUCKETS - 1;
	/* submit_ns 0: a request run inline, timed by nobody. */
	if (submit_ns)
		atomic64_inc(&c->latency[bucket]);
	atomic64_add(bytes, &c->bytes);
	if (err)
		atomic64_inc(&c->errors);
	else
		atomic64_inc(&c->completed);
	atomic_dec(&c->in_flight);
}

void ktlsaccel_counters_snapshot(const struct ktlsaccel_counters *c,
				 struct ktlsaccel_stats *s)
{
	unsigned int i;

	s->submitted = atomic64_read(&c->submitted);
	s->completed = atomic64_read(&c->completed);
	s->errors = atomic64_read(&c->errors);
	s->backlogged = atomic64_read(&c->backlogged);
	s->rejected = atomic64_read(&c->rejected);
	s->inlined = atomic64_read(&c->inlined);
	s->faults = atomic64_read(&c->faults);
	s->bytes = atomic64_read(&c->bytes);
	for (i = 0; i < KTLSACCEL_INLINE_REASONS; i++)
		s->inline_reason[i] = atomic64_read(&c->inline_reason[i]);
	s->held = atomic64_read(&c->held);
	s->in_flight = atomic_read(&c->in_flight);
	s->max_in_flight = atomic_read(&c->max_in_flight);
	for (i = 0; i < KTLSACCEL_LAT_BUCKETS; i++)
		s->latency[i] = atomic64_read(&c->latency[i]);
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
	atomic64_set(&c->inlined, 0);
	atomic64_set(&c->faults, 0);
	atomic64_set(&c->bytes, 0);
	for (i = 0; i < KTLSACCEL_INLINE_REASONS; i++)
		atomic64_set(&c->inline_reason[i], 0);
	atomic64_set(&c->held, 0);
	/* in_flight describes the present; the peak restarts from it. */
	atomic_set(&c->max_in_flight, atomic_read(&c->in_flight));
	for (i = 0; i < KTLSACCEL_LAT_BUCKETS; i++)
		atomic64_set(&c->latency[i], 0);
}

void ktlsaccel_flow_register(struct ktlsaccel_flow *flow, const char *alg,
			     const char *driver)
{
	flow->pid = task_tgid_nr(current);
	get_task_comm(flow->comm, current);
	flow->driver = driver;
	flow->alg = alg;
	atomic_set(&flow->ops_seen, 0);
	flow->keylen = 0;
	atomic_set(&flow->cursor, 0);

	spin_lock_bh(&flows_lock);
	flow->id = ++last_flow_id;
	list_add_tail(&flow->node, &flows);
	spin_unlock_bh(&flows_lock);
}

void ktlsaccel_flow_unregister(struct ktlsaccel_flow *flow)
{
	spin_lock_bh(&flows_lock);
	list_del(&flow->node);
	spin_unlock_bh(&flows_lock);
}

void ktlsaccel_flows_for_each(void (*fn)(const struct ktlsaccel_flow *flow,
					 void *arg), void *arg)
{
	const struct ktlsaccel_flow *flow;

	spin_lock_bh(&flows_lock);
	list_for_each_entry(flow, &flows, node)
		fn(flow, arg);
	spin_unlock_bh(&flows_lock);
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
	const struct ktlsaccel_flow *flow;
	unsigned int n = 0;

	spin_lock_bh(&flows_lock);
	list_for_each_entry(flow, &flows, node)
		n++;
	spin_unlock_bh(&flows_lock);
	return n;
}

void ktlsaccel_flows_reset_stats(void)
{
	struct ktlsaccel_flow *flow;

	spin_lock_bh(&flows_lock);
	list_for_each_entry(flow, &flows, node)
		ktlsaccel_counters_reset(&flow->c);
	spin_unlock_bh(&flows_lock);
}

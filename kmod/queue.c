// SPDX-License-Identifier: GPL-2.0
/*
 * The engine: a model of a multi-queue accelerator with deep pipelines.
 *
 * Each queue is a bounded ring of @depth slots. A request holds a slot from
 * the moment it is accepted until its completion has been delivered, so
 * "in the ring" is exactly what a card would have outstanding. Requests
 * that find the ring full wait on the queue's backlog if the caller allows
 * it (CRYPTO_TFM_REQ_MAY_BACKLOG), as crypto_enqueue_request() does for the
 * kernel's own software queues.
 *
 * Every queue has one kernel thread. A kthread rather than work items,
 * because a queue is a serial pipeline: its worker runs the cipher for one
 * request after another, and also delivers completions in ring order no
 * earlier than each one's modelled completion time, sleeping on an
 * absolute hrtimer until the next one is due. One long-lived thread per
 * queue does both with no re-arming, keeps the -EINPROGRESS notification
 * of a backlogged request strictly before its final completion (the same
 * thread delivers both), and leaves placement to the scheduler: the
 * threads are not bound to CPUs, so CPU hotplug needs no handling.
 *
 * The set of queues is published with RCU: reconfiguration builds a new
 * set, makes submitters use it, and lets the old queues drain completely
 * (backlog included) before their threads stop.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait.h>

#include "compat.h"
#include "fault.h"
#include "param.h"
#include "queue.h"

static unsigned int queues;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "Number of queues at load (default 0: one per online CPU)");

/*
 * 128: one kTLS connection was measured with up to 110 records in flight
 * (TLS 1.2, TX and RX together), so one queue can take a connection's
 * whole burst before backpressure starts.
 */
static unsigned int depth = 128;
module_param(depth, uint, 0444);
MODULE_PARM_DESC(depth, "Ring slots per queue at load (default 128)");

static unsigned int latency_us;
module_param(latency_us, uint, 0444);
MODULE_PARM_DESC(latency_us, "Modelled pipeline latency per request at load, in microseconds");

static unsigned long long throughput;
module_param(throughput, ullong, 0444);
MODULE_PARM_DESC(throughput, "Modelled throughput cap per queue at load, bytes/s (0: none)");

static int dispatch = KTLSACCEL_DISPATCH_SPREAD;

static const char * const dispatch_names[] = {
	[KTLSACCEL_DISPATCH_SPREAD] = "spread",
	[KTLSACCEL_DISPATCH_FLOW] = "flow",
};

static struct ktlsaccel_enum_param dispatch_param = {
	.value = &dispatch,
	.names = dispatch_names,
	.count = ARRAY_SIZE(dispatch_names),
};

module_param_cb(dispatch, &ktlsaccel_enum_param_ops, &dispatch_param, 0644);
MODULE_PARM_DESC(dispatch,
		 "spread (default): a flow's requests round-robin over all queues; flow: each flow pinned to one queue");

struct ktlsaccel_queue {
	spinlock_t lock;		/* protects the lists and counts */
	struct list_head pending;	/* in the ring, not yet run */
	struct list_head done;		/* run, waiting for deadline_ns */
	struct list_head backlog;	/* accepted with -EBUSY, not in the ring */
	unsigned int in_ring;		/* pending + done + the one running */
	unsigned int nr_backlog;
	bool draining;			/* replaced: finish everything, ignore stalls */

	unsigned int index;
	unsigned int depth;
	u64 latency_ns;
	u64 throughput;
	u64 busy_until_ns;		/* worker only: throughput model */
	u64 last_deadline_ns;		/* worker only: completions stay in order */

	struct task_struct *worker;
	wait_queue_head_t idle_wq;	/* draining: woken when the ring empties */
	struct ktlsaccel_counters c;
};

struct ktlsaccel_qset {
	struct ktlsaccel_engine_config cfg;
	unsigned int nr;
	struct ktlsaccel_queue *q[];
};

static struct {
	struct ktlsaccel_qset __rcu *qset;
	struct mutex lock;		/* serialises reconfiguration and readers */
	struct ktlsaccel_stats retired;	/* counters of queues already freed */
	struct ktlsaccel_gauge in_flight;	/* over every queue, old and new */
} engine;

static void account_submit(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
			   bool backlogged)
{
	/*
	 * The engine's gauge goes up first and down last, so that it never
	 * shows fewer requests than a queue or a flow does.
	 */
	ktlsaccel_gauge_inc(&engine.in_flight);
	ktlsaccel_counters_submit(&q->c, backlogged);
	ktlsaccel_counters_submit(&rctx->flow->c, backlogged);
}

/* Must run before the request is completed: it reads the request. */
static void account_done(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
			 int err)
{
	u64 now = ktime_get_ns();

	ktlsaccel_counters_done(&q->c, err, rctx->req->cryptlen,
				rctx->submit_ns, now);
	ktlsaccel_counters_done(&rctx->flow->c, err, rctx->req->cryptlen,
				rctx->submit_ns, now);
	ktlsaccel_gauge_dec(&engine.in_flight);
}

static int run_request(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
		       bool may_sleep)
{
	int err = ktlsaccel_fault_error(rctx->encrypt);

	if (unlikely(err)) {
		atomic64_inc(&q->c.faults);
		atomic64_inc(&rctx->flow->c.faults);
		return err;
	}
	return ktlsaccel_aead_process(rctx->req, rctx->encrypt, may_sleep);
}

/* A request enters the ring: its modelled pipeline latency starts now. */
static void enter_ring(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx)
{
	rctx->deadline_ns = ktime_get_ns() + q->latency_ns +
			    ktlsaccel_fault_delay_ns();
	list_add_tail(&rctx->node, &q->pending);
	q->in_ring++;
}

static struct ktlsaccel_queue *pick_queue(const struct ktlsaccel_qset *qs,
					  struct ktlsaccel_flow *flow)
{
	u32 i = (u32)flow->id;

	if (qs->nr == 1)
		return qs->q[0];
	/*
	 * Records of one flow may complete out of order when spread: kTLS
	 * keeps TX records in order on its tx_list and decrypts each TLS 1.2
	 * RX record into its own place, so it does not mind.
	 */
	if (READ_ONCE(dispatch) == KTLSACCEL_DISPATCH_SPREAD)
		i += atomic_inc_return(&flow->cursor);
	return qs->q[i % qs->nr];
}

int ktlsaccel_engine_submit(struct aead_request *req, bool encrypt,
			    bool run_inline)
{
	struct ktlsaccel_rctx *rctx = aead_request_ctx(req);
	struct ktlsaccel_queue *q;
	unsigned long flags;
	bool wake = false;
	int ret;

	rctx->req = req;
	rctx->encrypt = encrypt;
	rctx->submit_ns = ktime_get_ns();

	/* RCU keeps @q alive until we are done with it (see reconfigure). */
	rcu_read_lock();
	q = pick_queue(rcu_dereference(engine.qset), rctx->flow);

	if (run_inline) {
		/* Accounted on the queue it would have used; no slot taken. */
		account_submit(q, rctx, false);
		atomic64_inc(&q->c.inlined);
		atomic64_inc(&rctx->flow->c.inlined);
		ret = run_request(q, rctx, false);
		account_done(q, rctx, ret);
		rcu_read_unlock();
		return ret;
	}

	spin_lock_irqsave(&q->lock, flags);
	if (q->in_ring < q->depth && list_empty(&q->backlog)) {
		/* The worker only sleeps with nothing pending. */
		wake = list_empty(&q->pending);
		enter_ring(q, rctx);
		account_submit(q, rctx, false);
		ret = -EINPROGRESS;
	} else if (req->base.flags & CRYPTO_TFM_REQ_MAY_BACKLOG) {
		list_add_tail(&rctx->node, &q->backlog);
		q->nr_backlog++;
		account_submit(q, rctx, true);
		ret = -EBUSY;
	} else {
		/* What crypto_enqueue_request() returns in this case. */
		atomic64_inc(&q->c.rejected);
		atomic64_inc(&rctx->flow->c.rejected);
		ret = -ENOSPC;
	}
	spin_unlock_irqrestore(&q->lock, flags);
	/* From here on @req may already be completed and freed. */

	if (wake)
		wake_up_process(q->worker);
	rcu_read_unlock();
	return ret;
}

static bool queue_stalled(struct ktlsaccel_queue *q)
{
	return !q->draining && ktlsaccel_fault_stalled(q->index);
}

static struct ktlsaccel_rctx *take_pending(struct ktlsaccel_queue *q)
{
	struct ktlsaccel_rctx *rctx = NULL;

	spin_lock_irq(&q->lock);
	if (!list_empty(&q->pending) && !queue_stalled(q)) {
		rctx = list_first_entry(&q->pending, struct ktlsaccel_rctx, node);
		list_del(&rctx->node);
	}
	spin_unlock_irq(&q->lock);
	return rctx;
}

/* When the modelled card reports @rctx done: latency, throughput, ring order. */
static void queue_model_deadline(struct ktlsaccel_queue *q,
				 struct ktlsaccel_rctx *rctx)
{
	u64 deadline = rctx->deadline_ns;

	if (q->throughput) {
		u64 now = ktime_get_ns();
		u64 start = max(now, q->busy_until_ns);

		q->busy_until_ns = start +
			mul_u64_u64_div_u64(rctx->req->cryptlen + rctx->req->assoclen,
					    NSEC_PER_SEC, q->throughput);
		deadline = max(deadline, q->busy_until_ns);
	}
	/* A ring completes in order, even when the latency knob moved. */
	deadline = max(deadline, q->last_deadline_ns);
	q->last_deadline_ns = deadline;
	rctx->deadline_ns = deadline;
}

/* The request has been run: it waits for its modelled completion. */
static void queue_ran(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx)
{
	/*
	 * A draining queue is a card being replaced: it hands back what it
	 * holds as soon as it has run it (queue_complete_due() no longer
	 * looks at deadlines). Honouring the model would make a
	 * reconfiguration wait (under the engine and genetlink mutexes) for
	 * up to the backlog times the latency, or for hours at a tiny
	 * throughput cap.
	 */
	if (!READ_ONCE(q->draining))
		queue_model_deadline(q, rctx);

	spin_lock_irq(&q->lock);
	list_add_tail(&rctx->node, &q->done);
	spin_unlock_irq(&q->lock);
}

/*
 * Delivers the completions that are due and moves backlogged requests into
 * the slots they free. Returns whether it did anything.
 */
static bool queue_complete_due(struct ktlsaccel_queue *q)
{
	struct ktlsaccel_rctx *rctx, *tmp;
	LIST_HEAD(promoted);
	LIST_HEAD(due);
	u64 now = ktime_get_ns();
	bool empty;

	spin_lock_irq(&q->lock);
	list_for_each_entry_safe(rctx, tmp, &q->done, node) {
		/* In ring order; a draining queue no longer waits (queue_ran()). */
		if (rctx->deadline_ns > now && !q->draining)
			break;
		list_move_tail(&rctx->node, &due);
		q->in_ring--;
	}
	/*
	 * Fill the freed slots from the backlog now, so that a backlog only
	 * exists while the ring is full: new submitters queue behind it.
	 * The slots are taken here; the requests join the ring's pending
	 * list only after their -EINPROGRESS notification has been sent.
	 */
	while (q->in_ring < q->depth && !list_empty(&q->backlog)) {
		list_move_tail(q->backlog.next, &promoted);
		q->nr_backlog--;
		q->in_ring++;
	}
	spin_unlock_irq(&q->lock);

	if (list_empty(&due) && list_empty(&promoted))
		return false;

	list_for_each_entry_safe(rctx, tmp, &due, node) {
		list_del(&rctx->node);
		account_done(q, rctx, rctx->result);
		ktlsaccel_request_complete(rctx->req, rctx->result);
	}

	/*
	 * The caller's request is in the ring now: tell it, as the crypto
	 * API requires for a request that returned -EBUSY, before anything
	 * else can complete it. Only this thread completes requests of this
	 * queue, so the final completion cannot overtake this one.
	 */
	list_for_each_entry(rctx, &promoted, node)
		ktlsaccel_request_complete(rctx->req, -EINPROGRESS);

	spin_lock_irq(&q->lock);
	list_for_each_entry_safe(rctx, tmp, &promoted, node) {
		rctx->deadline_ns = ktime_get_ns() + q->latency_ns +
				    ktlsaccel_fault_delay_ns();
		list_move_tail(&rctx->node, &q->pending);
	}
	empty = !q->in_ring && !q->nr_backlog;
	spin_unlock_irq(&q->lock);

	if (empty && READ_ONCE(q->draining))
		wake_up(&q->idle_wq);
	return true;
}

static void queue_sleep(struct ktlsaccel_queue *q)
{
	struct ktlsaccel_rctx *first;
	bool timed = false;
	ktime_t expires;

	set_current_state(TASK_INTERRUPTIBLE);
	spin_lock_irq(&q->lock);
	/* (draining is set under q->lock: seen here, or its wake-up comes after) */
	if (kthread_should_stop() ||
	    (!list_empty(&q->pending) && !queue_stalled(q)) ||
	    (q->draining && !list_empty(&q->done))) {
		spin_unlock_irq(&q->lock);
		__set_current_state(TASK_RUNNING);
		return;
	}
	first = list_first_entry_or_null(&q->done, struct ktlsaccel_rctx, node);
	if (first) {
		expires = ns_to_ktime(first->deadline_ns);
		timed = true;
	}
	spin_unlock_irq(&q->lock);

	if (timed)
		schedule_hrtimeout(&expires, HRTIMER_MODE_ABS);
	else
		schedule();
	__set_current_state(TASK_RUNNING);
}

static int queue_worker(void *arg)
{
	struct ktlsaccel_queue *q = arg;

	while (!kthread_should_stop()) {
		struct ktlsaccel_rctx *rctx = take_pending(q);
		bool busy = false;

		if (rctx) {
			/* A kthread may sleep: let a long request yield. */
			rctx->result = run_request(q, rctx, true);
			queue_ran(q, rctx);
			busy = true;
		}
		if (queue_complete_due(q))
			busy = true;
		if (busy)
			cond_resched();
		else
			queue_sleep(q);
	}
	return 0;
}

static bool queue_idle(struct ktlsaccel_queue *q)
{
	bool idle;

	spin_lock_irq(&q->lock);
	idle = !q->in_ring && !q->nr_backlog;
	spin_unlock_irq(&q->lock);
	return idle;
}

static struct ktlsaccel_queue *queue_create(unsigned int index,
					    const struct ktlsaccel_engine_config *cfg)
{
	struct ktlsaccel_queue *q;

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->pending);
	INIT_LIST_HEAD(&q->done);
	INIT_LIST_HEAD(&q->backlog);
	init_waitqueue_head(&q->idle_wq);
	q->index = index;
	q->depth = cfg->depth;
	q->latency_ns = (u64)cfg->latency_us * NSEC_PER_USEC;
	q->throughput = cfg->throughput;

	q->worker = kthread_create(queue_worker, q, "ktlsaccel/%u", index);
	if (IS_ERR(q->worker)) {
		struct task_struct *err = q->worker;

		kfree(q);
		return ERR_CAST(err);
	}
	wake_up_process(q->worker);
	return q;
}

/* Stop taking new work from the stall knob: @q must now run dry. */
static void queue_start_draining(struct ktlsaccel_queue *q)
{
	spin_lock_irq(&q->lock);
	q->draining = true;
	spin_unlock_irq(&q->lock);
	wake_up_process(q->worker);
}

/* Waits until @q has delivered every request it accepted, then frees it. */
static void queue_destroy(struct ktlsaccel_queue *q, struct ktlsaccel_stats *retired)
{
	struct ktlsaccel_stats s;

	wait_event(q->idle_wq, queue_idle(q));
	kthread_stop(q->worker);

	ktlsaccel_counters_snapshot(&q->c, &s);
	ktlsaccel_stats_add(retired, &s);
	kfree(q);
}

static void qset_destroy(struct ktlsaccel_qset *qs, struct ktlsaccel_stats *retired)
{
	unsigned int i;

	/* Let all old queues drain at once, then wait for each. */
	for (i = 0; i < qs->nr; i++)
		queue_start_draining(qs->q[i]);
	for (i = 0; i < qs->nr; i++)
		queue_destroy(qs->q[i], retired);
	kfree(qs);
}

static struct ktlsaccel_qset *qset_create(const struct ktlsaccel_engine_config *cfg)
{
	struct ktlsaccel_stats unused = {};
	struct ktlsaccel_qset *qs;
	unsigned int i;

	qs = kzalloc(struct_size(qs, q, cfg->queues), GFP_KERNEL);
	if (!qs)
		return ERR_PTR(-ENOMEM);
	qs->cfg = *cfg;
	for (i = 0; i < cfg->queues; i++) {
		struct ktlsaccel_queue *q = queue_create(i, cfg);

		if (IS_ERR(q)) {
			/* Nothing was ever submitted to these. */
			qs->nr = i;
			qset_destroy(qs, &unused);
			return ERR_CAST(q);
		}
		qs->q[i] = q;
	}
	qs->nr = cfg->queues;
	return qs;
}

static bool config_valid(const struct ktlsaccel_engine_config *cfg)
{
	return cfg->queues >= 1 && cfg->queues <= KTLSACCEL_MAX_QUEUES &&
	       cfg->depth >= 1 && cfg->depth <= KTLSACCEL_MAX_DEPTH &&
	       cfg->latency_us <= KTLSACCEL_MAX_LATENCY_US;
}

int ktlsaccel_engine_reconfigure(const struct ktlsaccel_engine_config *cfg)
{
	struct ktlsaccel_qset *new, *old;

	if (!config_valid(cfg))
		return -EINVAL;

	mutex_lock(&engine.lock);
	new = qset_create(cfg);
	if (IS_ERR(new)) {
		mutex_unlock(&engine.lock);
		return PTR_ERR(new);
	}
	old = rcu_replace_pointer(engine.qset, new, lockdep_is_held(&engine.lock));
	/* After this no submitter can still be adding to the old queues. */
	synchronize_rcu();
	qset_destroy(old, &engine.retired);
	mutex_unlock(&engine.lock);
	pr_info("reconfigured: %u queues, depth %u, latency %u us, throughput %llu B/s\n",
		cfg->queues, cfg->depth, cfg->latency_us, cfg->throughput);
	return 0;
}

void ktlsaccel_engine_get_config(struct ktlsaccel_engine_config *cfg)
{
	mutex_lock(&engine.lock);
	*cfg = rcu_dereference_protected(engine.qset,
					 lockdep_is_held(&engine.lock))->cfg;
	mutex_unlock(&engine.lock);
}

enum ktlsaccel_dispatch ktlsaccel_engine_dispatch(void)
{
	return READ_ONCE(dispatch);
}

void ktlsaccel_engine_set_dispatch(enum ktlsaccel_dispatch policy)
{
	WRITE_ONCE(dispatch, policy);
}

void ktlsaccel_engine_reset_stats(void)
{
	struct ktlsaccel_qset *qs;
	unsigned int i;

	mutex_lock(&engine.lock);
	memset(&engine.retired, 0, sizeof(engine.retired));
	ktlsaccel_gauge_reset(&engine.in_flight);
	qs = rcu_dereference_protected(engine.qset, lockdep_is_held(&engine.lock));
	for (i = 0; i < qs->nr; i++)
		ktlsaccel_counters_reset(&qs->q[i]->c);
	mutex_unlock(&engine.lock);
}

void ktlsaccel_engine_kick(void)
{
	struct ktlsaccel_qset *qs;
	unsigned int i;

	rcu_read_lock();
	qs = rcu_dereference(engine.qset);
	for (i = 0; qs && i < qs->nr; i++)
		wake_up_process(qs->q[i]->worker);
	rcu_read_unlock();
}

void ktlsaccel_engine_stats(struct ktlsaccel_stats *s)
{
	struct ktlsaccel_qset *qs;
	struct ktlsaccel_stats qstat;
	unsigned int i;

	mutex_lock(&engine.lock);
	*s = engine.retired;
	qs = rcu_dereference_protected(engine.qset, lockdep_is_held(&engine.lock));
	for (i = 0; i < qs->nr; i++) {
		ktlsaccel_counters_snapshot(&qs->q[i]->c, &qstat);
		ktlsaccel_stats_add(s, &qstat);
	}
	s->max_in_flight = atomic_read(&engine.in_flight.max);
	mutex_unlock(&engine.lock);
}

int ktlsaccel_engine_queue_info(unsigned int index, struct ktlsaccel_queue_info *qi)
{
	struct ktlsaccel_queue *q;
	struct ktlsaccel_qset *qs;
	int ret = -ENOENT;

	mutex_lock(&engine.lock);
	qs = rcu_dereference_protected(engine.qset, lockdep_is_held(&engine.lock));
	if (index < qs->nr) {
		q = qs->q[index];
		qi->index = index;
		spin_lock_irq(&q->lock);
		qi->ring = q->in_ring;
		qi->backlog = q->nr_backlog;
		spin_unlock_irq(&q->lock);
		ktlsaccel_counters_snapshot(&q->c, &qi->stats);
		ret = 0;
	}
	mutex_unlock(&engine.lock);
	return ret;
}

int ktlsaccel_engine_init(void)
{
	struct ktlsaccel_engine_config cfg = {
		.queues = queues ?: min_t(unsigned int, num_online_cpus(),
					  KTLSACCEL_MAX_QUEUES),
		.depth = depth,
		.latency_us = latency_us,
		.throughput = throughput,
	};
	struct ktlsaccel_qset *qs;

	mutex_init(&engine.lock);
	memset(&engine.retired, 0, sizeof(engine.retired));
	if (!config_valid(&cfg)) {
		pr_err("invalid configuration: queues 1..%u, depth 1..%u, latency_us <= %u\n",
		       KTLSACCEL_MAX_QUEUES, KTLSACCEL_MAX_DEPTH,
		       KTLSACCEL_MAX_LATENCY_US);
		return -EINVAL;
	}
	qs = qset_create(&cfg);
	if (IS_ERR(qs))
		return PTR_ERR(qs);
	rcu_assign_pointer(engine.qset, qs);
	return 0;
}

void ktlsaccel_engine_exit(void)
{
	struct ktlsaccel_qset *qs;

	/* The algorithms are gone and no tfm exists: nothing can submit. */
	qs = rcu_replace_pointer(engine.qset, NULL, true);
	synchronize_rcu();
	qset_destroy(qs, &engine.retired);
	mutex_destroy(&engine.lock);
}

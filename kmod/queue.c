// SPDX-License-Identifier: GPL-2.0
/*
 * The engine: a multi-queue pipeline in front of a CPU implementation or a
 * card, with a model of a deep-pipeline accelerator on top.
 *
 * Each queue is a bounded ring of @depth slots. A request holds a slot from
 * the moment it is accepted until its completion has been delivered, so
 * "in the ring" is exactly what a card would have outstanding. Requests
 * that find the ring full wait on the queue's backlog if the caller allows
 * it (CRYPTO_TFM_REQ_MAY_BACKLOG), as crypto_enqueue_request() does for the
 * kernel's own software queues; a caller that does not allow it runs its
 * request itself, or, if its flow has requests in flight (which it must not
 * overtake), is accepted beyond the depth: nothing is refused.
 *
 * Where a request runs:
 *  - on a card (the flow's backend is an asynchronous driver): every
 *    request is handed to the card from the submitter's context with the
 *    engine's own completion callback, and completed from the card's
 *    completion context; the queue's thread only steps in for what waits
 *    (a stalled queue, the model's deadlines, promotions from the backlog);
 *  - on the CPU with a model (latency, throughput or fault delay set):
 *    every request goes through the queue's thread, as it would to a card;
 *  - on the CPU without a model: in the caller's context when nothing is
 *    gained by queueing (see inline_reason()), otherwise through the queue
 *    threads, which spread one flow's records over all CPUs.
 *
 * Completions of one flow are delivered in submission order, as one ring
 * of a card would deliver them, whatever queue or card ran them: crypto
 * API users such as IPsec and MACsec rely on it. A request that finishes
 * before an earlier one of its flow is held (counted as "held") until the
 * earlier one is delivered.
 *
 * Every queue has one kernel thread. It runs CPU requests one after
 * another, delivers modelled completions no earlier than each one's
 * deadline (sleeping on an absolute hrtimer until the next one is due),
 * moves requests from the backlog into freed slots and sends their
 * -EINPROGRESS notification before anything else can complete them. The
 * threads are not bound to CPUs, so CPU hotplug needs no handling.
 *
 * The set of queues and the knobs are published with RCU: reconfiguration
 * builds a new set, makes submitters use it, and lets the old queues drain
 * completely (backlog included) before their threads stop.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "compat.h"
#include "queue.h"

/* The most records a flow runs inline before it tries queueing one again. */
#define MAX_BACKOFF	64

/*
 * A TLS record's largest plaintext (TLS_MAX_PAYLOAD_SIZE in net/tls.h).
 * kTLS closes a record short of it only where the caller's data ends.
 */
#define FULL_RECORD	16384U

struct ktlsaccel_queue {
	spinlock_t lock;		/* protects the lists, counts and model */
	struct list_head pending;	/* in the ring, not yet run or sent to a card */
	struct list_head done;		/* result known, waiting for deadline_ns */
	struct list_head backlog;	/* accepted with -EBUSY, not in the ring */
	unsigned int in_ring;		/* slots held: from acceptance to delivery */
	unsigned int nr_backlog;
	bool draining;			/* replaced: finish everything, ignore stalls */
	bool sleeping;			/* the worker waits to be woken */

	unsigned int index;
	unsigned int depth;
	u64 latency_ns;
	u64 throughput;
	u64 busy_until_ns;		/* throughput model */
	u64 last_deadline_ns;		/* completions stay in ring order */

	struct task_struct *worker;
	wait_queue_head_t idle_wq;	/* draining: woken when the ring empties */
	struct ktlsaccel_counters __percpu *pc;	/* see qc() */
	struct ktlsaccel_gauge in_flight;
};

struct ktlsaccel_qset {
	struct ktlsaccel_engine_config cfg;
	unsigned int nr;
	struct ktlsaccel_queue *q[];
};

/*
 * A flow's submission order. Separate from the flow (which lives in the
 * tfm) and reference counted: whoever delivers a flow's completions keeps
 * it until it has finished, although the last completion may let the
 * caller free the tfm at once.
 */
struct ktlsaccel_order {
	spinlock_t lock;		/* protects list and delivering */
	struct list_head list;		/* accepted requests, oldest first */
	bool delivering;		/* someone delivers, the others leave it to them */
	refcount_t ref;
};

static struct {
	struct ktlsaccel_qset __rcu *qset;
	struct ktlsaccel_engine_knobs __rcu *knobs;
	const struct ktlsaccel_engine_ops *ops;
	struct mutex lock;		/* serialises reconfiguration and readers */
	struct ktlsaccel_stats retired;	/* counters of queues already freed */
	struct ktlsaccel_gauge in_flight;	/* over every queue, old and new */
	bool force_queue;
} engine;

static struct ktlsaccel_rctx *req_rctx(struct aead_request *req)
{
	return ktlsaccel_aead_request_ctx(req);
}

/*
 * This CPU's copy of @q's counters. Their updates are atomic, so being
 * preempted or migrated between here and the update only means adding to
 * another CPU's copy, which the sum does not mind.
 */
static struct ktlsaccel_counters *qc(struct ktlsaccel_queue *q)
{
	return raw_cpu_ptr(q->pc);
}

static void queue_stats(struct ktlsaccel_queue *q, struct ktlsaccel_stats *s)
{
	ktlsaccel_counters_sum(q->pc, s);
	ktlsaccel_gauge_snapshot(&q->in_flight, s);
}

static bool queue_models(const struct ktlsaccel_queue *q,
			 const struct ktlsaccel_engine_knobs *k)
{
	return q->latency_ns || q->throughput || k->fault.delay_us;
}

/* Wakes the worker if it sleeps; under q->lock, after changing its lists. */
static void queue_wake_locked(struct ktlsaccel_queue *q)
{
	if (q->sleeping) {
		q->sleeping = false;
		wake_up_process(q->worker);
	}
}

static void account_submit(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
			   bool backlogged)
{
	/*
	 * The engine's gauge goes up first and down last, so that it never
	 * shows fewer requests than a queue or a flow does.
	 */
	ktlsaccel_gauge_inc(&engine.in_flight);
	ktlsaccel_gauge_inc(&q->in_flight);
	ktlsaccel_gauge_inc(&rctx->flow->in_flight);
	ktlsaccel_counters_submit(qc(q), backlogged);
	ktlsaccel_counters_submit(&rctx->flow->c, backlogged);
}

/*
 * The latency histograms' clock. local_clock() reads the TSC; ktime_get_ns()
 * reads the clocksource, which is the HPET wherever the TSC is not trusted
 * (our TCG guests): a device read each time, twice per queued request.
 * The two stamps of a request may come from different CPUs: the TSCs of
 * one machine agree to well below the histograms' microsecond, and where
 * they are unstable local_clock() keeps each CPU within a tick of the
 * others, which the histograms tolerate (a negative span counts as 0).
 * Deadlines (the model, delay faults) use ktime_get_ns(), as the hrtimers
 * that wait for them do.
 */
static inline u64 stamp_ns(void)
{
	return local_clock();
}

/* Must run before the request is completed: it reads the request. */
static void account_done(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
			 int err)
{
	u64 now = stamp_ns();

	ktlsaccel_counters_done(qc(q), err, rctx->req->cryptlen,
				rctx->submit_ns, now);
	ktlsaccel_counters_done(&rctx->flow->c, err, rctx->req->cryptlen,
				rctx->submit_ns, now);
	ktlsaccel_gauge_dec(&rctx->flow->in_flight);
	ktlsaccel_gauge_dec(&q->in_flight);
	ktlsaccel_gauge_dec(&engine.in_flight);
}

/* The injected fault for this request, if any, counted where it belongs. */
static int fault_for(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx)
{
	int err;

	rcu_read_lock();
	err = ktlsaccel_fault_error(&rcu_dereference(engine.knobs)->fault,
				    rctx->encrypt);
	rcu_read_unlock();
	if (unlikely(err)) {
		atomic64_inc(&qc(q)->faults);
		atomic64_inc(&rctx->flow->c.faults);
	}
	return err;
}

static int run_request(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
		       bool may_sleep)
{
	int err = fault_for(q, rctx);

	if (unlikely(err))
		return err;
	return engine.ops->run(rctx->req, rctx->encrypt, may_sleep);
}

/* ---- a flow's order ---------------------------------------------------- */

int ktlsaccel_engine_flow_init(struct ktlsaccel_flow *flow)
{
	struct ktlsaccel_order *o = kzalloc(sizeof(*o), GFP_KERNEL);

	if (!o)
		return -ENOMEM;
	spin_lock_init(&o->lock);
	INIT_LIST_HEAD(&o->list);
	refcount_set(&o->ref, 1);
	flow->order = o;
	flow->async_mode = false;
	flow->overlapped = false;
	flow->skip = 0;
	flow->backoff = 0;
	return 0;
}

static void order_put(struct ktlsaccel_order *o)
{
	if (refcount_dec_and_test(&o->ref))
		kfree(o);
}

void ktlsaccel_engine_flow_exit(struct ktlsaccel_flow *flow)
{
	/* The caller frees a tfm only once all its requests are delivered. */
	order_put(flow->order);
	flow->order = NULL;
}

/* Nothing of the flow is in the engine, nor being delivered. */
static bool flow_idle(const struct ktlsaccel_flow *flow)
{
	const struct ktlsaccel_order *o = flow->order;

	return list_empty_careful(&o->list) && !READ_ONCE(o->delivering);
}

/*
 * Something of the flow is still accepted and undelivered, as opposed to
 * its last completion being on its way out (delivering, list empty): the
 * caller that completion woke may submit before the deliverer is done, and
 * that is no overlap.
 */
static bool flow_running(const struct ktlsaccel_flow *flow)
{
	return !list_empty_careful(&flow->order->list);
}

/* Under the queue lock: @rctx takes its place in its flow's order. */
static void order_add(struct ktlsaccel_rctx *rctx)
{
	struct ktlsaccel_order *o = rctx->flow->order;

	rctx->done = false;
	spin_lock(&o->lock);
	list_add_tail(&rctx->order, &o->list);
	spin_unlock(&o->lock);
}

/* Gives the slot @rctx held back, and lets whoever waits for it know. */
static void queue_release(struct ktlsaccel_queue *q)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->in_ring--;
	/*
	 * The wake-ups happen under the lock: once the ring is empty, a
	 * draining queue may be freed as soon as the lock is dropped.
	 */
	if (q->nr_backlog)
		queue_wake_locked(q);
	if (q->draining && !q->in_ring && !q->nr_backlog)
		wake_up(&q->idle_wq);
	spin_unlock_irqrestore(&q->lock, flags);
}

static void deliver(struct ktlsaccel_rctx *rctx)
{
	struct ktlsaccel_queue *q = rctx->queue;
	int err = rctx->result;

	account_done(q, rctx, err);
	ktlsaccel_request_complete(rctx->req, err);
	/* @rctx, its request and its flow may be gone now; @q is not. */
	queue_release(q);
}

/*
 * @rctx has its result. Delivers it, and whatever of its flow it held up,
 * unless an earlier request of the flow is still running: then that one's
 * completion (or whoever is delivering now) will deliver it.
 */
static void flow_complete(struct ktlsaccel_rctx *rctx)
{
	struct ktlsaccel_order *o = rctx->flow->order;
	struct ktlsaccel_rctx *head;
	unsigned long flags;

	spin_lock_irqsave(&o->lock, flags);
	rctx->done = true;
	head = list_first_entry(&o->list, struct ktlsaccel_rctx, order);
	if (head != rctx) {
		atomic64_inc(&rctx->flow->c.held);
		atomic64_inc(&qc(rctx->queue)->held);
	}
	if (head != rctx || o->delivering) {
		spin_unlock_irqrestore(&o->lock, flags);
		return;
	}
	o->delivering = true;
	refcount_inc(&o->ref);
	while ((head = list_first_entry_or_null(&o->list, struct ktlsaccel_rctx,
						order)) && head->done) {
		list_del(&head->order);
		spin_unlock_irqrestore(&o->lock, flags);
		deliver(head);
		spin_lock_irqsave(&o->lock, flags);
	}
	o->delivering = false;
	spin_unlock_irqrestore(&o->lock, flags);
	order_put(o);
}

/* ---- dispatch ---------------------------------------------------------- */

/*
 * The lone-record heuristic, for a flow with nothing in flight: queueing a
 * record pays only when the caller goes on to submit more while it runs
 * (kTLS does within one sendmsg() or recvmsg(), or across MSG_MORE). A
 * caller that waits for each record before it submits the next (a small
 * send(), a request/response) gains nothing from the queue and loses the
 * hand-over to another CPU and back.
 *
 * A record to encrypt shorter than a full one ends the caller's data:
 * kTLS fills records to the maximum while data lasts, so nothing of the
 * same call follows it. It runs inline. (Not so on receive, where one
 * recvmsg() submits every record that has arrived, short or not: decrypts
 * go by the policy, or probe.) A full record may be followed by more: after
 * a queued one that nothing overlapped, run the next ones inline, and
 * probe with a queued one again after 1, 2, 4 ... MAX_BACKOFF of them;
 * while records of the flow keep finding others in flight, keep queueing.
 * Only the submitter writes these fields (one socket's records are
 * submitted under its lock).
 */
static bool lone_record(struct ktlsaccel_flow *flow, bool encrypt,
			unsigned int cryptlen)
{
	if (encrypt && cryptlen < FULL_RECORD)
		return true;
	if (flow->async_mode) {
		if (flow->overlapped) {
			/* The last burst overlapped: this may start another. */
			flow->overlapped = false;
			return false;
		}
		flow->async_mode = false;
		flow->backoff = min(flow->backoff ? flow->backoff * 2 : 1,
				    MAX_BACKOFF);
		flow->skip = flow->backoff;
		return true;
	}
	if (flow->skip) {
		flow->skip--;
		return true;
	}
	flow->async_mode = true;
	return false;
}

/*
 * Whether a request of a CPU flow without a model runs in the caller's
 * context, and why (-1: it is queued). Only a flow with nothing in flight
 * runs anything inline: its result must not overtake an earlier request's.
 */
static int inline_reason(const struct ktlsaccel_engine_knobs *k,
			 struct ktlsaccel_flow *flow, struct aead_request *req,
			 bool encrypt)
{
	if (READ_ONCE(engine.force_queue))
		return -1;
	if (!flow_idle(flow)) {
		if (flow_running(flow)) {
			flow->overlapped = true;
			flow->async_mode = true;
			flow->backoff = 0;
		}
		return -1;
	}
	/*
	 * The caller sleeps in crypto_wait_req() until the result is there
	 * (kTLS TLS 1.3 RX, synchronous AF_ALG, testmgr): handing the work to
	 * another CPU only adds two context switches.
	 */
	if (k->inline_mode == KTLSACCEL_INLINE_AUTO &&
	    req->base.complete == crypto_req_done)
		return KTLSACCEL_INLINE_WAITER;
	if ((k->inline_threshold && req->cryptlen <= k->inline_threshold) ||
	    (!encrypt && k->decrypt == KTLSACCEL_DECRYPT_INLINE))
		return KTLSACCEL_INLINE_POLICY;
	if (k->inline_mode == KTLSACCEL_INLINE_NEVER)
		return -1;
	return lone_record(flow, encrypt, req->cryptlen) ? KTLSACCEL_INLINE_LONE : -1;
}

static struct ktlsaccel_queue *pick_queue(const struct ktlsaccel_qset *qs,
					  struct ktlsaccel_flow *flow,
					  const struct ktlsaccel_engine_knobs *k)
{
	u32 i = (u32)flow->id;

	if (qs->nr == 1)
		return qs->q[0];
	if (k->dispatch == KTLSACCEL_DISPATCH_SPREAD)
		i += atomic_inc_return(&flow->cursor);
	return qs->q[i % qs->nr];
}

/* ---- cards ------------------------------------------------------------- */

static void card_result(struct ktlsaccel_rctx *rctx, int err, bool defer);

static void card_done(KTLSACCEL_COMPLETION_ARG(arg), int err)
{
	struct ktlsaccel_rctx *rctx = ktlsaccel_completion_data(arg);

	/* The card moved it from its backlog into its ring: nothing to do. */
	if (err == -EINPROGRESS)
		return;
	card_result(rctx, err, false);
}

/*
 * Hands @rctx to its card. @defer: we are in the submitter's call, where
 * a result the card returns at once must not complete the caller.
 */
static void card_submit(struct ktlsaccel_rctx *rctx, bool defer)
{
	struct aead_request *req = rctx->req;
	struct aead_request *sub = &rctx->subreq;
	int err;

	aead_request_set_tfm(sub, rctx->card);
	/* Never MAY_SLEEP: we may be in a completion (softirq) context. */
	aead_request_set_callback(sub, CRYPTO_TFM_REQ_MAY_BACKLOG, card_done, rctx);
	aead_request_set_crypt(sub, req->src, req->dst, req->cryptlen, req->iv);
	aead_request_set_ad(sub, req->assoclen);
	err = rctx->encrypt ? crypto_aead_encrypt(sub) : crypto_aead_decrypt(sub);
	/* -EBUSY: on the card's backlog; -EINPROGRESS, then the result, follow. */
	if (err == -EINPROGRESS || err == -EBUSY)
		return;
	card_result(rctx, err, defer);
}

/* ---- the model and the worker ------------------------------------------ */

/* Under q->lock: when the modelled card reports @rctx done. */
static void queue_model_deadline(struct ktlsaccel_queue *q,
				 struct ktlsaccel_rctx *rctx)
{
	u64 deadline = rctx->deadline_ns;

	if (q->throughput) {
		u64 start = max(ktime_get_ns(), q->busy_until_ns);

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

/*
 * @rctx has its result: deliver it now, or let the worker do so at its
 * modelled deadline. A draining queue is a card being replaced: it hands
 * back what it holds at once (honouring the model would make a
 * reconfiguration wait for the backlog times the latency).
 */
static void queue_ran(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
		      bool defer)
{
	const struct ktlsaccel_engine_knobs *k;
	unsigned long flags;
	bool wait;

	rcu_read_lock();
	k = rcu_dereference(engine.knobs);
	spin_lock_irqsave(&q->lock, flags);
	wait = defer || (queue_models(q, k) && !q->draining);
	if (wait) {
		queue_model_deadline(q, rctx);
		list_add_tail(&rctx->node, &q->done);
		queue_wake_locked(q);
	}
	spin_unlock_irqrestore(&q->lock, flags);
	rcu_read_unlock();
	if (!wait)
		flow_complete(rctx);
}

static void card_result(struct ktlsaccel_rctx *rctx, int err, bool defer)
{
	struct ktlsaccel_queue *q = rctx->queue;
	int fault = fault_for(q, rctx);

	/* An injected fault replaces what the card computed. */
	rctx->result = fault ?: err;
	queue_ran(q, rctx, defer);
}

static bool queue_stalled(struct ktlsaccel_queue *q)
{
	bool stalled;

	if (q->draining)
		return false;
	rcu_read_lock();
	stalled = ktlsaccel_fault_stalled(&rcu_dereference(engine.knobs)->fault,
					  q->index);
	rcu_read_unlock();
	return stalled;
}

/* Takes everything pending (one lock round for the lot), unless stalled. */
static void take_pending(struct ktlsaccel_queue *q, struct list_head *batch)
{
	spin_lock_irq(&q->lock);
	if (!queue_stalled(q))
		list_splice_init(&q->pending, batch);
	spin_unlock_irq(&q->lock);
}

/*
 * Delivers the completions that are due and moves backlogged requests into
 * free slots. Returns whether it did anything.
 */
static bool queue_complete_due(struct ktlsaccel_queue *q)
{
	const struct ktlsaccel_engine_knobs *k;
	struct ktlsaccel_rctx *rctx, *tmp;
	LIST_HEAD(promoted);
	LIST_HEAD(due);
	u64 extra, deadline;
	u64 now = 0;

	spin_lock_irq(&q->lock);
	list_for_each_entry_safe(rctx, tmp, &q->done, node) {
		/*
		 * In ring order; a draining queue no longer waits. The clock
		 * only for a request with a deadline (the model, a delay
		 * fault): every pass of the worker comes here, and under
		 * emulation or without a trusted TSC a read is not cheap.
		 */
		if (rctx->deadline_ns && !q->draining) {
			if (!now)
				now = ktime_get_ns();
			if (rctx->deadline_ns > now)
				break;
		}
		list_move_tail(&rctx->node, &due);
	}
	/*
	 * Fill free slots from the backlog now, so that a backlog only exists
	 * while the ring is full: new submitters queue behind it. The slots
	 * are taken here; the requests join the ring's pending list only
	 * after their -EINPROGRESS notification has been sent.
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
		flow_complete(rctx);
	}

	/*
	 * The caller's request is in the ring now: tell it, as the crypto
	 * API requires for a request that returned -EBUSY, before anything
	 * else can complete it (nothing runs it before it is pending).
	 */
	list_for_each_entry(rctx, &promoted, node)
		ktlsaccel_request_complete(rctx->req, -EINPROGRESS);

	rcu_read_lock();
	k = rcu_dereference(engine.knobs);
	extra = q->latency_ns + (u64)k->fault.delay_us * NSEC_PER_USEC;
	rcu_read_unlock();
	spin_lock_irq(&q->lock);
	deadline = extra ? ktime_get_ns() + extra : 0;
	list_for_each_entry(rctx, &promoted, node)
		rctx->deadline_ns = deadline;
	list_splice_tail(&promoted, &q->pending);
	spin_unlock_irq(&q->lock);
	return true;
}

static void queue_sleep(struct ktlsaccel_queue *q)
{
	const struct ktlsaccel_fault_config *f;
	struct ktlsaccel_rctx *first;
	u64 wake_ns = U64_MAX;
	ktime_t expires;

	set_current_state(TASK_INTERRUPTIBLE);
	spin_lock_irq(&q->lock);
	/* (draining is set under q->lock: seen here, or its wake-up comes after) */
	if (kthread_should_stop() ||
	    (!list_empty(&q->pending) && !queue_stalled(q)) ||
	    (q->nr_backlog && q->in_ring < q->depth) ||
	    (q->draining && !list_empty(&q->done))) {
		spin_unlock_irq(&q->lock);
		__set_current_state(TASK_RUNNING);
		return;
	}
	first = list_first_entry_or_null(&q->done, struct ktlsaccel_rctx, node);
	if (first)
		wake_ns = first->deadline_ns;
	/* A stall ends on its own: be there when it does. */
	if (!list_empty(&q->pending)) {
		rcu_read_lock();
		f = &rcu_dereference(engine.knobs)->fault;
		wake_ns = min(wake_ns, f->stall_until_ns);
		rcu_read_unlock();
	}
	q->sleeping = true;
	spin_unlock_irq(&q->lock);

	if (wake_ns != U64_MAX) {
		expires = ns_to_ktime(wake_ns);
		schedule_hrtimeout(&expires, HRTIMER_MODE_ABS);
	} else {
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	spin_lock_irq(&q->lock);
	q->sleeping = false;
	spin_unlock_irq(&q->lock);
}

static int queue_worker(void *arg)
{
	struct ktlsaccel_queue *q = arg;

	while (!kthread_should_stop()) {
		struct ktlsaccel_rctx *rctx, *tmp;
		LIST_HEAD(batch);
		bool busy = false;

		take_pending(q, &batch);
		list_for_each_entry_safe(rctx, tmp, &batch, node) {
			list_del(&rctx->node);
			busy = true;
			if (rctx->card) {
				card_submit(rctx, false);
				continue;
			}
			/* A kthread may sleep: let a long request yield. */
			rctx->result = run_request(q, rctx, true);
			queue_ran(q, rctx, false);
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

/* ---- submission --------------------------------------------------------- */

void ktlsaccel_engine_force_queue(bool on)
{
	WRITE_ONCE(engine.force_queue, on);
}

static int run_inline(struct ktlsaccel_queue *q, struct ktlsaccel_rctx *rctx,
		      int reason)
{
	int ret;

	/* Accounted on the queue it would have used; no slot taken. */
	ret = run_request(q, rctx, false);
	ktlsaccel_counters_inline(qc(q), reason, ret, rctx->req->cryptlen);
	ktlsaccel_counters_inline(&rctx->flow->c, reason, ret, rctx->req->cryptlen);
	return ret;
}

int ktlsaccel_engine_submit(struct ktlsaccel_flow *flow, struct crypto_aead *card,
			    struct aead_request *req, bool encrypt)
{
	struct ktlsaccel_rctx *rctx = req_rctx(req);
	const struct ktlsaccel_engine_knobs *k;
	struct ktlsaccel_queue *q;
	u64 extra_ns, deadline_ns;
	unsigned long flags;
	bool direct = false;
	int reason = -1;
	int ret;

	rctx->req = req;
	rctx->flow = flow;
	rctx->card = card;
	rctx->encrypt = encrypt;

	/* RCU keeps @q and @k alive until we are done with them. */
	rcu_read_lock();
	k = rcu_dereference(engine.knobs);
	q = pick_queue(rcu_dereference(engine.qset), flow, k);
	rctx->queue = q;
	if (!card && !queue_models(q, k))
		reason = inline_reason(k, flow, req, encrypt);
	if (reason >= 0)
		goto run_here;

	rctx->submit_ns = stamp_ns();
	/* The clock of the deadlines is read only when there is one. */
	extra_ns = q->latency_ns + (u64)k->fault.delay_us * NSEC_PER_USEC;
	deadline_ns = extra_ns ? ktime_get_ns() + extra_ns : 0;
	spin_lock_irqsave(&q->lock, flags);
	if ((q->in_ring < q->depth && list_empty(&q->backlog)) ||
	    (!(req->base.flags & CRYPTO_TFM_REQ_MAY_BACKLOG) && !flow_idle(flow))) {
		/*
		 * The second case: a caller that may not be backlogged and
		 * whose flow has requests in flight is accepted beyond the
		 * depth, so that it neither loses the request nor overtakes
		 * its flow's earlier ones.
		 */
		q->in_ring++;
		account_submit(q, rctx, false);
		order_add(rctx);
		rctx->deadline_ns = deadline_ns;
		if (card && !queue_models(q, k) && list_empty(&q->pending) &&
		    !queue_stalled(q)) {
			direct = true;
		} else {
			list_add_tail(&rctx->node, &q->pending);
			queue_wake_locked(q);
		}
		ret = -EINPROGRESS;
	} else if (req->base.flags & CRYPTO_TFM_REQ_MAY_BACKLOG) {
		list_add_tail(&rctx->node, &q->backlog);
		q->nr_backlog++;
		account_submit(q, rctx, true);
		order_add(rctx);
		ret = -EBUSY;
	} else {
		/* Full, and the flow is idle: the caller runs it itself. */
		reason = KTLSACCEL_INLINE_FULL;
	}
	spin_unlock_irqrestore(&q->lock, flags);

	if (reason >= 0)
		goto run_here;
	/* From here on @req may already be completed and freed. */
	if (direct)
		card_submit(rctx, true);
	rcu_read_unlock();
	return ret;

run_here:
	ret = run_inline(q, rctx, reason);
	rcu_read_unlock();
	return ret;
}

/* ---- queues, their sets, the knobs -------------------------------------- */

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
	q->pc = alloc_percpu(struct ktlsaccel_counters);
	if (!q->pc) {
		kfree(q);
		return ERR_PTR(-ENOMEM);
	}
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

		free_percpu(q->pc);
		kfree(q);
		return ERR_CAST(err);
	}
	wake_up_process(q->worker);
	return q;
}

/* No new work reaches @q: it must now run dry, stalls and model ignored. */
static void queue_start_draining(struct ktlsaccel_queue *q)
{
	spin_lock_irq(&q->lock);
	q->draining = true;
	q->sleeping = false;
	wake_up_process(q->worker);
	spin_unlock_irq(&q->lock);
}

/* Waits until @q has delivered every request it accepted, then frees it. */
static void queue_destroy(struct ktlsaccel_queue *q, struct ktlsaccel_stats *retired)
{
	struct ktlsaccel_stats s;

	wait_event(q->idle_wq, queue_idle(q));
	kthread_stop(q->worker);

	queue_stats(q, &s);
	ktlsaccel_stats_add(retired, &s);
	free_percpu(q->pc);
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

int ktlsaccel_engine_reconfigure(const struct ktlsaccel_engine_config *cfg)
{
	struct ktlsaccel_qset *new, *old;

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

int ktlsaccel_engine_set_knobs(const struct ktlsaccel_engine_knobs *knobs)
{
	struct ktlsaccel_engine_knobs *new, *old;
	struct ktlsaccel_qset *qs;
	unsigned int i;

	new = kmemdup(knobs, sizeof(*knobs), GFP_KERNEL);
	if (!new)
		return -ENOMEM;
	mutex_lock(&engine.lock);
	old = rcu_replace_pointer(engine.knobs, new, lockdep_is_held(&engine.lock));
	/* A stall may have ended, a delay changed: let every worker look. */
	qs = rcu_dereference_protected(engine.qset, lockdep_is_held(&engine.lock));
	for (i = 0; qs && i < qs->nr; i++)
		wake_up_process(qs->q[i]->worker);
	mutex_unlock(&engine.lock);
	kfree_rcu_mightsleep(old);
	return 0;
}

void ktlsaccel_engine_reset_stats(void)
{
	struct ktlsaccel_qset *qs;
	unsigned int i;

	mutex_lock(&engine.lock);
	memset(&engine.retired, 0, sizeof(engine.retired));
	ktlsaccel_gauge_reset(&engine.in_flight);
	qs = rcu_dereference_protected(engine.qset, lockdep_is_held(&engine.lock));
	for (i = 0; i < qs->nr; i++) {
		ktlsaccel_counters_reset_all(qs->q[i]->pc);
		ktlsaccel_gauge_reset(&qs->q[i]->in_flight);
	}
	mutex_unlock(&engine.lock);
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
		queue_stats(qs->q[i], &qstat);
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
		queue_stats(q, &qi->stats);
		ret = 0;
	}
	mutex_unlock(&engine.lock);
	return ret;
}

int ktlsaccel_engine_init(const struct ktlsaccel_engine_config *cfg,
			  const struct ktlsaccel_engine_knobs *knobs,
			  const struct ktlsaccel_engine_ops *ops)
{
	struct ktlsaccel_engine_knobs *k;
	struct ktlsaccel_qset *qs;

	mutex_init(&engine.lock);
	memset(&engine.retired, 0, sizeof(engine.retired));
	engine.ops = ops;
	k = kmemdup(knobs, sizeof(*knobs), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	/* Before the queues: their workers read the knobs at once. */
	rcu_assign_pointer(engine.knobs, k);
	qs = qset_create(cfg);
	if (IS_ERR(qs)) {
		kfree(rcu_replace_pointer(engine.knobs, NULL, true));
		return PTR_ERR(qs);
	}
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
	kfree(rcu_replace_pointer(engine.knobs, NULL, true));
	mutex_destroy(&engine.lock);
}

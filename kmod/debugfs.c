// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/ktlsaccel/: the counters, read-only (changes go through
 * netlink only). Lines are "key=value" pairs so scripts can read them.
 *
 *   engine       configuration and totals (queues already replaced included)
 *   queues       one line per queue
 *   flows        one line per tfm
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "config.h"
#include "debugfs.h"
#include "queue.h"
#include "stats.h"

static struct dentry *root;

static void show_stats(struct seq_file *m, const struct ktlsaccel_stats *s)
{
	unsigned int i;

	seq_printf(m, " submitted=%llu completed=%llu errors=%llu backlogged=%llu rejected=%llu inlined=%llu faults=%llu bytes=%llu in_flight=%u max_in_flight=%u latency_log2_us=",
		   s->submitted, s->completed, s->errors, s->backlogged,
		   s->rejected, s->inlined, s->faults, s->bytes, s->in_flight,
		   s->max_in_flight);
	for (i = 0; i < KTLSACCEL_LAT_BUCKETS; i++)
		seq_printf(m, "%s%llu", i ? "," : "", s->latency[i]);
	seq_printf(m, " inline_waiter=%llu inline_lone=%llu inline_full=%llu inline_policy=%llu held=%llu\n",
		   s->inline_reason[KTLSACCEL_INLINE_WAITER],
		   s->inline_reason[KTLSACCEL_INLINE_LONE],
		   s->inline_reason[KTLSACCEL_INLINE_FULL],
		   s->inline_reason[KTLSACCEL_INLINE_POLICY], s->held);
}

static int engine_show(struct seq_file *m, void *v)
{
	struct ktlsaccel_config cfg;
	struct ktlsaccel_stats s;

	ktlsaccel_config_get(&cfg);
	ktlsaccel_engine_stats(&s);
	seq_printf(m, "queues=%u depth=%u latency_us=%u throughput=%llu",
		   cfg.shape.queues, cfg.shape.depth, cfg.shape.latency_us,
		   cfg.shape.throughput);
	show_stats(m, &s);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(engine);

static int queues_show(struct seq_file *m, void *v)
{
	struct ktlsaccel_queue_info qi;
	unsigned int i;

	for (i = 0; !ktlsaccel_engine_queue_info(i, &qi); i++) {
		seq_printf(m, "queue=%u ring=%u backlog=%u", qi.index, qi.ring, qi.backlog);
		show_stats(m, &qi.stats);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(queues);

static void show_flow(const struct ktlsaccel_flow *flow, void *arg)
{
	struct seq_file *m = arg;
	struct ktlsaccel_stats s;

	ktlsaccel_counters_snapshot(&flow->c, &s);
	seq_printf(m, "flow=%llu pid=%d comm=%s driver=%s backend=%s keylen=%u",
		   flow->id, flow->pid, flow->comm, flow->driver,
		   flow->backend ?: "cpu", READ_ONCE(flow->keylen));
	show_stats(m, &s);
}

static int flows_show(struct seq_file *m, void *v)
{
	ktlsaccel_flows_for_each(show_flow, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(flows);

/* Debugfs is optional: the module works without it. */
void ktlsaccel_debugfs_init(void)
{
	root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("engine", 0444, root, NULL, &engine_fops);
	debugfs_create_file("queues", 0444, root, NULL, &queues_fops);
	debugfs_create_file("flows", 0444, root, NULL, &flows_fops);
}

void ktlsaccel_debugfs_exit(void)
{
	debugfs_remove(root);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/ktlsaccel/: the counters, read-only, one "key=value"
 * line per object so a shell can read them when netlink tools are not at
 * hand. Everything that changes the module goes through netlink, which
 * validates it and tells the "config" group.
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

static int flows_show(struct seq_file *m, void *v)
{
	struct ktlsaccel_flow_info *fi;
	u64 id = 0;

	/* Too big for the stack beside seq_file's frames. */
	fi = kmalloc(sizeof(*fi), GFP_KERNEL);
	if (!fi)
		return -ENOMEM;
	while (!ktlsaccel_flow_find(id, fi)) {
		seq_printf(m, "flow=%llu pid=%d comm=%s driver=%s backend=%s keylen=%u",
			   fi->id, fi->pid, fi->comm, fi->driver,
			   fi->backend[0] ? fi->backend : "cpu", fi->keylen);
		show_stats(m, &fi->stats);
		id = fi->id + 1;
		cond_resched();
	}
	kfree(fi);
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

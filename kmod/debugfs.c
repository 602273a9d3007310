// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/ktlsaccel/: the counters and a way to reconfigure the
 * engine until the netlink control plane exists. Lines are "key=value"
 * pairs so scripts can read them; netlink will call the same snapshot and
 * reconfigure functions.
 *
 *   engine       configuration and totals (queues already replaced included)
 *   queues       one line per queue
 *   flows        one line per tfm
 *   reconfigure  write e.g. "queues=4 depth=16 latency_us=100"; keys not
 *                given keep their value
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

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
	seq_putc(m, '\n');
}

static int engine_show(struct seq_file *m, void *v)
{
	struct ktlsaccel_engine_config cfg;
	struct ktlsaccel_stats s;

	ktlsaccel_engine_get_config(&cfg);
	ktlsaccel_engine_stats(&s);
	seq_printf(m, "queues=%u depth=%u latency_us=%u throughput=%llu",
		   cfg.queues, cfg.depth, cfg.latency_us, cfg.throughput);
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
	seq_printf(m, "flow=%llu pid=%d comm=%s driver=%s keylen=%u",
		   flow->id, flow->pid, flow->comm, flow->driver,
		   READ_ONCE(flow->keylen));
	show_stats(m, &s);
}

static int flows_show(struct seq_file *m, void *v)
{
	ktlsaccel_flows_for_each(show_flow, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(flows);

static int parse_config(char *buf, struct ktlsaccel_engine_config *cfg)
{
	char *tok;

	while ((tok = strsep(&buf, " \t\n"))) {
		char *val;
		int err;

		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val)
			return -EINVAL;
		*val++ = '\0';
		if (!strcmp(tok, "queues"))
			err = kstrtouint(val, 0, &cfg->queues);
		else if (!strcmp(tok, "depth"))
			err = kstrtouint(val, 0, &cfg->depth);
		else if (!strcmp(tok, "latency_us"))
			err = kstrtouint(val, 0, &cfg->latency_us);
		else if (!strcmp(tok, "throughput"))
			err = kstrtou64(val, 0, &cfg->throughput);
		else
			err = -EINVAL;
		if (err)
			return err;
	}
	return 0;
}

static ssize_t reconfigure_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct ktlsaccel_engine_config cfg;
	char *buf;
	int err;

	if (len > 256)
		return -E2BIG;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ktlsaccel_engine_get_config(&cfg);
	err = parse_config(buf, &cfg);
	kfree(buf);
	if (!err)
		err = ktlsaccel_engine_reconfigure(&cfg);
	return err ?: len;
}

static const struct file_operations reconfigure_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = reconfigure_write,
	.llseek = noop_llseek,
};

/* Debugfs is optional: the module works without it. */
void ktlsaccel_debugfs_init(void)
{
	root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("engine", 0444, root, NULL, &engine_fops);
	debugfs_create_file("queues", 0444, root, NULL, &queues_fops);
	debugfs_create_file("flows", 0444, root, NULL, &flows_fops);
	debugfs_create_file("reconfigure", 0200, root, NULL, &reconfigure_fops);
}

void ktlsaccel_debugfs_exit(void)
{
	debugfs_remove(root);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The "ktlsaccel" generic netlink family: configuration, fault injection
 * and counters of the engine. The contract, command by command, is the
 * prose at the top of uapi/linux/ktlsaccel.h.
 *
 * The family is parallel_ops: a DEV_SET that drains old queues must not
 * hold genl_mutex, which every other family (nl80211 included) waits for.
 * Changes are serialised by the configuration's own mutex; readers take
 * snapshots (the engine's, and one flow at a time from the registry) and
 * keep their dump position in cb->args, so nothing here relies on a
 * global lock. The family lives in the initial network namespace only:
 * flows carry the pid and command name of whoever created them, which
 * other namespaces must not see; within it they go only to CAP_NET_ADMIN
 * and to the flow's own user.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/crypto.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/ktlsaccel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "aead.h"
#include "config.h"
#include "netlink.h"
#include "queue.h"
#include "stats.h"

static struct genl_family family;

/*
 * The uapi's limits, enforced by the core before a handler runs (the
 * extack names the attribute and the bound); uapi/linux/ktlsaccel.yaml's
 * checks say the same, which tests/unit/test_control_policy.cpp compares.
 * Limits past s16 need a range struct; not const because 6.1's nla_policy
 * points at a mutable one. What no policy can say is left to the
 * handlers: the fault errno (EBADMSG or EIO), a stall queue that exists
 * now, a throughput of 0 or at least KTLSACCEL_MIN_THROUGHPUT, a reset
 * mask that is not 0.
 */
static struct netlink_range_validation depth_range = {
	.min = 1,
	.max = KTLSACCEL_MAX_DEPTH,
};

static struct netlink_range_validation latency_range = {
	.max = KTLSACCEL_MAX_LATENCY_US,
};

static struct netlink_range_validation fault_rate_range = {
	.max = KTLSACCEL_FAULT_RATE_SCALE,
};

static const struct nla_policy fault_policy[KTLSACCEL_A_FAULT_MAX + 1] = {
	[KTLSACCEL_A_FAULT_RATE]	= NLA_POLICY_FULL_RANGE(NLA_U32, &fault_rate_range),
	[KTLSACCEL_A_FAULT_ERRNO]	= { .type = NLA_U32 },
	[KTLSACCEL_A_FAULT_OPS]		= NLA_POLICY_RANGE(NLA_U32, KTLSACCEL_FAULT_OPS_DECRYPT,
							   KTLSACCEL_FAULT_OPS_BOTH),
	[KTLSACCEL_A_FAULT_DELAY_US]	= NLA_POLICY_FULL_RANGE(NLA_U32, &latency_range),
	[KTLSACCEL_A_FAULT_STALL_QUEUE]	= NLA_POLICY_MAX(NLA_U32, KTLSACCEL_MAX_QUEUES - 1),
};

/* Names are crypto API names: at most CRYPTO_MAX_ALG_NAME with the NUL. */
static const struct nla_policy backend_policy[KTLSACCEL_A_BACKEND_MAX + 1] = {
	[KTLSACCEL_A_BACKEND_ALG] = {
		.type = NLA_NUL_STRING,
		.len = CRYPTO_MAX_ALG_NAME - 1,
	},
	[KTLSACCEL_A_BACKEND_MODE] = NLA_POLICY_MAX(NLA_U32, KTLSACCEL_BACKEND_DRIVER),
	[KTLSACCEL_A_BACKEND_DRIVER] = {
		.type = NLA_NUL_STRING,
		.len = CRYPTO_MAX_ALG_NAME - 1,
	},
};

static const struct nla_policy dev_set_policy[KTLSACCEL_A_DEV_MAX + 1] = {
	[KTLSACCEL_A_DEV_QUEUES] = NLA_POLICY_RANGE(NLA_U32, 1, KTLSACCEL_MAX_QUEUES),
	[KTLSACCEL_A_DEV_DEPTH] = NLA_POLICY_FULL_RANGE(NLA_U32, &depth_range),
	[KTLSACCEL_A_DEV_DISPATCH] = NLA_POLICY_MAX(NLA_U32, KTLSACCEL_DISPATCH_FLOW),
	[KTLSACCEL_A_DEV_LATENCY_US] = NLA_POLICY_FULL_RANGE(NLA_U32, &latency_range),
	[KTLSACCEL_A_DEV_THROUGHPUT] = { .type = NLA_U64 },
	[KTLSACCEL_A_DEV_INLINE_THRESHOLD] = { .type = NLA_U32 },
	[KTLSACCEL_A_DEV_DECRYPT] = NLA_POLICY_MAX(NLA_U32, KTLSACCEL_DECRYPT_ASYNC),
	[KTLSACCEL_A_DEV_INLINE] = NLA_POLICY_MAX(NLA_U32, KTLSACCEL_INLINE_NEVER),
	[KTLSACCEL_A_DEV_BACKEND] = NLA_POLICY_NESTED(backend_policy),
};

static const struct nla_policy fault_set_policy[KTLSACCEL_A_DEV_MAX + 1] = {
	[KTLSACCEL_A_DEV_FAULT] = NLA_POLICY_NESTED(fault_policy),
};

static const struct nla_policy stats_reset_policy[KTLSACCEL_A_DEV_MAX + 1] = {
	[KTLSACCEL_A_DEV_RESET] = NLA_POLICY_MASK(NLA_U32, KTLSACCEL_RESET_ALL),
};

static int put_stats(struct sk_buff *skb, int attr,
		     const struct ktlsaccel_stats *s)
{
	struct nlattr *nest;
	unsigned int i;

	nest = nla_nest_start(skb, attr);
	if (!nest)
		return -EMSGSIZE;

	if (nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_SUBMITTED, s->submitted,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_COMPLETED, s->completed,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_ERRORS, s->errors,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_BACKLOGGED, s->backlogged,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_REJECTED, s->rejected,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_INLINED, s->inlined,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_FAULTS, s->faults,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_BYTES, s->bytes,
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u32(skb, KTLSACCEL_A_STATS_IN_FLIGHT, s->in_flight) ||
	    nla_put_u32(skb, KTLSACCEL_A_STATS_MAX_IN_FLIGHT, s->max_in_flight) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_INLINE_WAITER,
			      s->inline_reason[KTLSACCEL_INLINE_WAITER],
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_INLINE_LONE,
			      s->inline_reason[KTLSACCEL_INLINE_LONE],
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_INLINE_FULL,
			      s->inline_reason[KTLSACCEL_INLINE_FULL],
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_INLINE_POLICY,
			      s->inline_reason[KTLSACCEL_INLINE_POLICY],
			      KTLSACCEL_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_HELD, s->held,
			      KTLSACCEL_A_STATS_PAD))
		goto cancel;

	for (i = 0; i < KTLSACCEL_LATENCY_BUCKETS; i++)
		if (nla_put_u64_64bit(skb, KTLSACCEL_A_STATS_LATENCY,
				      s->latency[i], KTLSACCEL_A_STATS_PAD))
			goto cancel;

	nla_nest_end(skb, nest);
	return 0;

cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

static int put_fault(struct sk_buff *skb, const struct ktlsaccel_fault_config *fc)
{
	struct ktlsaccel_fault_config f = *fc;
	struct nlattr *nest;

	nest = nla_nest_start(skb, KTLSACCEL_A_DEV_FAULT);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, KTLSACCEL_A_FAULT_RATE, f.rate) ||
	    nla_put_u32(skb, KTLSACCEL_A_FAULT_ERRNO, f.err) ||
	    nla_put_u32(skb, KTLSACCEL_A_FAULT_OPS, f.ops) ||
	    nla_put_u32(skb, KTLSACCEL_A_FAULT_DELAY_US, f.delay_us) ||
	    (f.stall_queue >= 0 &&
	     nla_put_u32(skb, KTLSACCEL_A_FAULT_STALL_QUEUE, f.stall_queue))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int put_backends(struct sk_buff *skb, const struct ktlsaccel_config *cfg)
{
	char card[CRYPTO_MAX_ALG_NAME];
	struct nlattr *nest;
	unsigned int i;

	for (i = 0; i < KTLSACCEL_NR_ALGS; i++) {
		ktlsaccel_aead_backend_card(i, card, sizeof(card));
		nest = nla_nest_start(skb, KTLSACCEL_A_DEV_BACKEND);
		if (!nest)
			return -EMSGSIZE;
		if (nla_put_string(skb, KTLSACCEL_A_BACKEND_ALG, ktlsaccel_aead_name(i)) ||
		    nla_put_u32(skb, KTLSACCEL_A_BACKEND_MODE, cfg->backend[i].mode) ||
		    (card[0] && nla_put_string(skb, KTLSACCEL_A_BACKEND_DRIVER, card))) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
}

static int fill_dev(struct sk_buff *skb, u32 portid, u32 seq, int flags, u8 cmd)
{
	struct ktlsaccel_stats totals = {};
	struct ktlsaccel_config cfg;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;

	ktlsaccel_config_get(&cfg);
	ktlsaccel_engine_stats(&totals);

	if (nla_put_u32(skb, KTLSACCEL_A_DEV_PRIORITY, ktlsaccel_config_priority()) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_QUEUES, cfg.shape.queues) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_DEPTH, cfg.shape.depth) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_DISPATCH, cfg.knobs.dispatch) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_LATENCY_US, cfg.shape.latency_us) ||
	    nla_put_u64_64bit(skb, KTLSACCEL_A_DEV_THROUGHPUT, cfg.shape.throughput,
			      KTLSACCEL_A_DEV_PAD) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_INLINE_THRESHOLD, cfg.knobs.inline_threshold) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_DECRYPT, cfg.knobs.decrypt) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_INLINE, cfg.knobs.inline_mode) ||
	    nla_put_u32(skb, KTLSACCEL_A_DEV_FLOWS, ktlsaccel_flows_count()) ||
	    put_fault(skb, &cfg.knobs.fault) ||
	    put_stats(skb, KTLSACCEL_A_DEV_STATS, &totals) ||
	    put_backends(skb, &cfg)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}

	genlmsg_end(skb, hdr);
	return 0;
}

/* Tells the "config" group what the configuration is now. */
static void notify_config(void)
{
	struct sk_buff *skb;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	if (fill_dev(skb, 0, 0, 0, KTLSACCEL_CMD_DEV_CHANGE_NTF)) {
		nlmsg_free(skb);
		return;
	}
	/* -ESRCH only means nobody listens. */
	genlmsg_multicast(&family, skb, 0, 0, GFP_KERNEL);
}

static int dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	int ret;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	ret = fill_dev(msg, info->snd_portid, info->snd_seq, 0, KTLSACCEL_CMD_DEV_GET);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/* Takes an optional u32 attribute into *val if it is within [min, max]. */
static bool take_u32(const struct nlattr *nla, u32 min, u32 max, u32 *val)
{
	u32 v;

	if (!nla)
		return true;
	v = nla_get_u32(nla);
	if (v < min || v > max)
		return false;
	*val = v;
	return true;
}

/* Each KTLSACCEL_A_DEV_BACKEND nest of the request, into @cfg. */
static int take_backends(struct genl_info *info, struct ktlsaccel_config *cfg)
{
	struct nlattr *tb[KTLSACCEL_A_BACKEND_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	const struct nlattr *nla;
	int rem, err, i;

	nla_for_each_attr(nla, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		if (nla_type(nla) != KTLSACCEL_A_DEV_BACKEND)
			continue;
		err = nla_parse_nested(tb, KTLSACCEL_A_BACKEND_MAX, nla,
				       backend_policy, extack);
		if (err)
			return err;
		if (!tb[KTLSACCEL_A_BACKEND_ALG] || !tb[KTLSACCEL_A_BACKEND_MODE]) {
			NL_SET_ERR_MSG_ATTR(extack, nla, "a backend needs alg and mode");
			return -EINVAL;
		}
		i = ktlsaccel_aead_index(nla_data(tb[KTLSACCEL_A_BACKEND_ALG]));
		if (i < 0) {
			NL_SET_ERR_MSG_ATTR(extack, tb[KTLSACCEL_A_BACKEND_ALG],
					    "not one of the module's algorithms");
			return -EINVAL;
		}
		if (!take_u32(tb[KTLSACCEL_A_BACKEND_MODE], KTLSACCEL_BACKEND_AUTO,
			      KTLSACCEL_BACKEND_DRIVER, &cfg->backend[i].mode)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[KTLSACCEL_A_BACKEND_MODE],
					    "mode must be 0 (auto), 1 (cpu) or 2 (driver)");
			return -EINVAL;
		}
		if (cfg->backend[i].mode == KTLSACCEL_BACKEND_DRIVER &&
		    !tb[KTLSACCEL_A_BACKEND_DRIVER]) {
			NL_SET_ERR_MSG_ATTR(extack, nla, "mode driver needs a driver");
			return -EINVAL;
		}
		if (cfg->backend[i].mode == KTLSACCEL_BACKEND_DRIVER)
			nla_strscpy(cfg->backend[i].driver, tb[KTLSACCEL_A_BACKEND_DRIVER],
				    sizeof(cfg->backend[i].driver));
		else
			cfg->backend[i].driver[0] = '\0';
	}
	return 0;
}

static int dev_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **tb = info->attrs;
	struct ktlsaccel_config cfg;
	int ret;

	if (!tb[KTLSACCEL_A_DEV_QUEUES] && !tb[KTLSACCEL_A_DEV_DEPTH] &&
	    !tb[KTLSACCEL_A_DEV_DISPATCH] && !tb[KTLSACCEL_A_DEV_LATENCY_US] &&
	    !tb[KTLSACCEL_A_DEV_THROUGHPUT] &&
	    !tb[KTLSACCEL_A_DEV_INLINE_THRESHOLD] && !tb[KTLSACCEL_A_DEV_DECRYPT] &&
	    !tb[KTLSACCEL_A_DEV_INLINE] && !tb[KTLSACCEL_A_DEV_BACKEND]) {
		NL_SET_ERR_MSG(extack, "nothing to set: give at least one setting");
		return -EINVAL;
	}

	ktlsaccel_config_get(&cfg);
	if (tb[KTLSACCEL_A_DEV_QUEUES])
		cfg.shape.queues = nla_get_u32(tb[KTLSACCEL_A_DEV_QUEUES]);
	if (tb[KTLSACCEL_A_DEV_DEPTH])
		cfg.shape.depth = nla_get_u32(tb[KTLSACCEL_A_DEV_DEPTH]);
	if (tb[KTLSACCEL_A_DEV_LATENCY_US])
		cfg.shape.latency_us = nla_get_u32(tb[KTLSACCEL_A_DEV_LATENCY_US]);
	if (tb[KTLSACCEL_A_DEV_THROUGHPUT])
		cfg.shape.throughput = nla_get_u64(tb[KTLSACCEL_A_DEV_THROUGHPUT]);
	if (tb[KTLSACCEL_A_DEV_DISPATCH])
		cfg.knobs.dispatch = nla_get_u32(tb[KTLSACCEL_A_DEV_DISPATCH]);
	if (tb[KTLSACCEL_A_DEV_DECRYPT])
		cfg.knobs.decrypt = nla_get_u32(tb[KTLSACCEL_A_DEV_DECRYPT]);
	if (tb[KTLSACCEL_A_DEV_INLINE])
		cfg.knobs.inline_mode = nla_get_u32(tb[KTLSACCEL_A_DEV_INLINE]);
	if (tb[KTLSACCEL_A_DEV_INLINE_THRESHOLD])
		cfg.knobs.inline_threshold = nla_get_u32(tb[KTLSACCEL_A_DEV_INLINE_THRESHOLD]);
	ret = take_backends(info, &cfg);
	if (ret)
		return ret;

	/* Checked as a whole: either all of it applies or none. */
	ret = ktlsaccel_config_apply(&cfg, extack);
	if (ret)
		return ret;
	notify_config();
	return 0;
}

static int fault_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[KTLSACCEL_A_FAULT_MAX + 1];
	struct ktlsaccel_fault_config *f;
	struct ktlsaccel_config cfg;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, KTLSACCEL_A_DEV_FAULT))
		return -EINVAL;
	ret = nla_parse_nested(tb, KTLSACCEL_A_FAULT_MAX,
			       info->attrs[KTLSACCEL_A_DEV_FAULT], fault_policy,
			       info->extack);
	if (ret)
		return ret;

	ktlsaccel_config_get(&cfg);
	f = &cfg.knobs.fault;
	if (tb[KTLSACCEL_A_FAULT_RATE])
		f->rate = nla_get_u32(tb[KTLSACCEL_A_FAULT_RATE]);
	if (tb[KTLSACCEL_A_FAULT_ERRNO])
		f->err = nla_get_u32(tb[KTLSACCEL_A_FAULT_ERRNO]);
	if (tb[KTLSACCEL_A_FAULT_OPS])
		f->ops = nla_get_u32(tb[KTLSACCEL_A_FAULT_OPS]);
	if (tb[KTLSACCEL_A_FAULT_DELAY_US])
		f->delay_us = nla_get_u32(tb[KTLSACCEL_A_FAULT_DELAY_US]);
	if (tb[KTLSACCEL_A_FAULT_STALL_QUEUE]) {
		u32 q = nla_get_u32(tb[KTLSACCEL_A_FAULT_STALL_QUEUE]);

		if (q >= cfg.shape.queues) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[KTLSACCEL_A_FAULT_STALL_QUEUE],
					    "fault stall-queue is not an existing queue");
			return -EINVAL;
		}
		ktlsaccel_config_stall(&cfg, q);
	}

	ret = ktlsaccel_config_apply(&cfg, info->extack);
	if (ret)
		return ret;
	notify_config();
	return 0;
}

static int fault_clear_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ktlsaccel_config cfg;
	int ret;

	ktlsaccel_config_get(&cfg);
	ktlsaccel_config_clear_faults(&cfg);
	ret = ktlsaccel_config_apply(&cfg, info->extack);
	if (ret)
		return ret;
	notify_config();
	return 0;
}

static int stats_reset_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *nla = info->attrs[KTLSACCEL_A_DEV_RESET];
	u32 mask = KTLSACCEL_RESET_ALL;

	if (nla) {
		mask = nla_get_u32(nla);
		if (!mask || (mask & ~KTLSACCEL_RESET_ALL)) {
			NL_SET_ERR_MSG_ATTR(info->extack, nla,
					    "reset takes the bits engine (1) and flows (2) only");
			return -EINVAL;
		}
	}
	if (mask & KTLSACCEL_RESET_ENGINE)
		ktlsaccel_engine_reset_stats();
	if (mask & KTLSACCEL_RESET_FLOWS)
		ktlsaccel_flows_reset_stats();
	return 0;
}

/*
 * Dumps put one object per message and resume where the previous skb
 * filled up: queues by index, flows by id (ids only grow, and the
 * registry finds the next id >= N in O(log n)), in cb->args[0].
 */
static void *dump_hdr(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &family, NLM_F_MULTI, cmd);
}

static int queue_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ktlsaccel_queue_info qi;
	unsigned long i;
	void *hdr;

	for (i = cb->args[0]; !ktlsaccel_engine_queue_info(i, &qi); i++) {
		hdr = dump_hdr(skb, cb, KTLSACCEL_CMD_QUEUE_GET);
		if (!hdr)
			break;
		if (nla_put_u32(skb, KTLSACCEL_A_QUEUE_INDEX, qi.index) ||
		    nla_put_u32(skb, KTLSACCEL_A_QUEUE_RING, qi.ring) ||
		    nla_put_u32(skb, KTLSACCEL_A_QUEUE_BACKLOG, qi.backlog) ||
		    put_stats(skb, KTLSACCEL_A_QUEUE_STATS, &qi.stats)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	cb->args[0] = i;
	return skb->len;
}

/*
 * Who created a socket is private: pid and comm go to CAP_NET_ADMIN and to
 * the user (euid) that created the flow. Both are judged by the dumping
 * socket's opener, as netlink_capable() does, not by whoever reads it now.
 */
struct flow_reader {
	bool admin;
	bool has_uid;
	kuid_t uid;
};

static void flow_reader_init(struct flow_reader *r, struct netlink_callback *cb)
{
	const struct sock *sk = NETLINK_CB(cb->skb).sk;

	r->admin = netlink_capable(cb->skb, CAP_NET_ADMIN);
	r->has_uid = sk && sk->sk_socket && sk->sk_socket->file;
	if (r->has_uid)
		r->uid = sk->sk_socket->file->f_cred->euid;
}

static bool flow_reader_may_see_owner(const struct flow_reader *r, kuid_t owner)
{
	return r->admin || (r->has_uid && uid_eq(r->uid, owner));
}

static int dump_flow(struct sk_buff *skb, struct netlink_callback *cb,
		     const struct ktlsaccel_flow_info *fi, bool owner)
{
	void *hdr;

	hdr = dump_hdr(skb, cb, KTLSACCEL_CMD_FLOW_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, KTLSACCEL_A_FLOW_ID, fi->id,
			      KTLSACCEL_A_FLOW_PAD) ||
	    (owner && (nla_put_u32(skb, KTLSACCEL_A_FLOW_PID, fi->pid) ||
		       nla_put_string(skb, KTLSACCEL_A_FLOW_COMM, fi->comm))) ||
	    nla_put_string(skb, KTLSACCEL_A_FLOW_ALG, fi->alg) ||
	    nla_put_u32(skb, KTLSACCEL_A_FLOW_KEY_BITS, fi->keylen * 8) ||
	    nla_put_u32(skb, KTLSACCEL_A_FLOW_DIRECTION, fi->direction) ||
	    put_stats(skb, KTLSACCEL_A_FLOW_STATS, &fi->stats) ||
	    (fi->backend[0] &&
	     nla_put_string(skb, KTLSACCEL_A_FLOW_BACKEND, fi->backend))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int flow_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ktlsaccel_flow_info *fi;
	struct flow_reader reader;
	u64 next = cb->args[0];

	/* Several hundred bytes: not on the stack of a dump. */
	fi = kmalloc(sizeof(*fi), GFP_KERNEL);
	if (!fi)
		return -ENOMEM;
	flow_reader_init(&reader, cb);
	while (!ktlsaccel_flow_find(next, fi) &&
	       !dump_flow(skb, cb, fi, flow_reader_may_see_owner(&reader, fi->uid)))
		next = fi->id + 1;
	kfree(fi);
	/* Ids fit an unsigned long: the registry's index is one. */
	cb->args[0] = next;
	return skb->len;
}

/*
 * Operations without a policy take no attributes: with resv_start_op left
 * at zero the core rejects any they are sent.
 */
static const struct genl_ops ops[] = {
	{
		.cmd = KTLSACCEL_CMD_DEV_GET,
		.doit = dev_get_doit,
	},
	{
		.cmd = KTLSACCEL_CMD_DEV_SET,
		.doit = dev_set_doit,
		.policy = dev_set_policy,
		.maxattr = ARRAY_SIZE(dev_set_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KTLSACCEL_CMD_QUEUE_GET,
		.dumpit = queue_get_dumpit,
	},
	{
		.cmd = KTLSACCEL_CMD_FLOW_GET,
		.dumpit = flow_get_dumpit,
	},
	{
		.cmd = KTLSACCEL_CMD_FAULT_SET,
		.doit = fault_set_doit,
		.policy = fault_set_policy,
		.maxattr = ARRAY_SIZE(fault_set_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KTLSACCEL_CMD_FAULT_CLEAR,
		.doit = fault_clear_doit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KTLSACCEL_CMD_STATS_RESET,
		.doit = stats_reset_doit,
		.policy = stats_reset_policy,
		.maxattr = ARRAY_SIZE(stats_reset_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group mcgrps[] = {
	{ .name = KTLSACCEL_MCGRP_CONFIG },
};

static struct genl_family family __ro_after_init = {
	.name = KTLSACCEL_GENL_NAME,
	.version = KTLSACCEL_GENL_VERSION,
	.module = THIS_MODULE,
	.parallel_ops = true,
	.ops = ops,
	.n_ops = ARRAY_SIZE(ops),
	.mcgrps = mcgrps,
	.n_mcgrps = ARRAY_SIZE(mcgrps),
};

int __init ktlsaccel_netlink_init(void)
{
	return genl_register_family(&family);
}

void ktlsaccel_netlink_exit(void)
{
	genl_unregister_family(&family);
}

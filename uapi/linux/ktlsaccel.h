/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ktlsaccel: generic netlink interface of the asynchronous AEAD engine.
 *
 * Family name KTLSACCEL_GENL_NAME ("ktlsaccel"), version
 * KTLSACCEL_GENL_VERSION. Resolve its id with the generic netlink
 * controller (CTRL_CMD_GETFAMILY). Commands and attributes start at 1.
 * Every operation has its own policy, validated strictly: an attribute the
 * operation does not take, a wrong type or length, or an unknown bit in a
 * flags attribute makes the request fail with -EINVAL (a value out of its
 * range: -ERANGE, see below), and the extended ack
 * (enable NETLINK_EXT_ACK) carries a message naming the attribute and
 * points at it. The machine-readable twin of this header is ktlsaccel.yaml,
 * beside it, in the format of the kernel's Documentation/netlink/specs.
 *
 * Reading is open to every user, except who created a flow (its pid and
 * command name), which only CAP_NET_ADMIN and the flow's own user see.
 * Changing anything needs CAP_NET_ADMIN (-EPERM otherwise). The family
 * runs its operations in parallel (it does not hold the genetlink mutex
 * that other families wait for); changes are applied one at a time.
 *
 * The ranges given below (and the enums' values) are enforced by the
 * operation's policy before anything is looked at: a value out of its
 * range fails with -ERANGE (the netlink core's answer), an unknown flag bit
 * or a string too long with -EINVAL, and the extack names the attribute.
 * The YAML's checks are the same limits. What no policy can express (the
 * fault errno, a stall queue that exists now, the throughput's lower
 * bound, an empty reset mask) the handler checks: -EINVAL.
 *
 * Attribute trees, by command
 * ---------------------------
 *
 * KTLSACCEL_CMD_DEV_GET (do; anyone)
 *   Request: no attributes.
 *   Reply, KTLSACCEL_CMD_DEV_GET:
 *     KTLSACCEL_A_DEV_PRIORITY          u32  crypto API priority of the algorithms
 *     KTLSACCEL_A_DEV_QUEUES            u32  number of queues
 *     KTLSACCEL_A_DEV_DEPTH             u32  ring slots per queue
 *     KTLSACCEL_A_DEV_DISPATCH          u32  enum ktlsaccel_dispatch
 *     KTLSACCEL_A_DEV_LATENCY_US        u32  modelled pipeline latency, microseconds
 *     KTLSACCEL_A_DEV_THROUGHPUT        u64  modelled cap per queue, bytes/s (0: none)
 *     KTLSACCEL_A_DEV_INLINE_THRESHOLD  u32  requests up to this cryptlen run in the caller
 *     KTLSACCEL_A_DEV_DECRYPT           u32  enum ktlsaccel_decrypt
 *     KTLSACCEL_A_DEV_FLOWS             u32  live flows (tfms)
 *     KTLSACCEL_A_DEV_INLINE            u32  enum ktlsaccel_inline
 *     KTLSACCEL_A_DEV_BACKEND           nest, one per algorithm:
 *         KTLSACCEL_A_BACKEND_ALG         string crypto API name, e.g. "gcm(aes)"
 *         KTLSACCEL_A_BACKEND_MODE        u32  enum ktlsaccel_backend_mode asked for
 *         KTLSACCEL_A_BACKEND_DRIVER      string the card driver new tfms of this
 *                                            algorithm use; absent: the CPU
 *     KTLSACCEL_A_DEV_FAULT             nest the fault injection in force (rate 0:
 *                                            none; errno and ops are still reported,
 *                                            as what a rate would use; at load
 *                                            EBADMSG and decrypt):
 *         KTLSACCEL_A_FAULT_RATE          u32  failed requests per million
 *         KTLSACCEL_A_FAULT_ERRNO         u32  EBADMSG or EIO (positive)
 *         KTLSACCEL_A_FAULT_OPS           u32  enum ktlsaccel_fault_ops
 *         KTLSACCEL_A_FAULT_DELAY_US      u32  latency added to every queued request
 *         KTLSACCEL_A_FAULT_STALL_QUEUE   u32  index of the stalled queue; absent: none
 *     KTLSACCEL_A_DEV_STATS             nest totals since load or reset, see below
 *
 * KTLSACCEL_CMD_DEV_SET (do; CAP_NET_ADMIN)
 *   Request: any of KTLSACCEL_A_DEV_QUEUES (1..256), _DEPTH (1..65536),
 *   _DISPATCH, _LATENCY_US (0..10000000), _THROUGHPUT (0 or at least
 *   KTLSACCEL_MIN_THROUGHPUT), _INLINE_THRESHOLD, _DECRYPT, _INLINE, and
 *   any number of _BACKEND nests (ALG and MODE, and DRIVER with mode
 *   DRIVER: an asynchronous implementation of ALG that is not this
 *   module's; -ENOENT if there is none by that name; ALG and DRIVER are
 *   NUL-terminated, at most 127 characters); at least one. A
 *   backend applies to tfms created afterwards; existing ones keep theirs. Queues, depth, latency and throughput are
 *   changed together by rebuilding the queues while requests are in
 *   flight: new requests use the new queues at once, the old ones finish
 *   what they hold, nothing is lost. Either every attribute is applied or,
 *   on error, none is.
 *   Reply: none (the ack). Sends KTLSACCEL_CMD_DEV_CHANGE_NTF.
 *
 * KTLSACCEL_CMD_QUEUE_GET (dump; anyone)
 *   One message per queue, command KTLSACCEL_CMD_QUEUE_GET:
 *     KTLSACCEL_A_QUEUE_INDEX           u32
 *     KTLSACCEL_A_QUEUE_RING            u32  requests in the ring now
 *     KTLSACCEL_A_QUEUE_BACKLOG         u32  requests waiting on the backlog now
 *     KTLSACCEL_A_QUEUE_STATS           nest counters of this queue since it was
 *                                            created (queues are created anew by
 *                                            DEV_SET) or reset
 *
 * KTLSACCEL_CMD_FLOW_GET (dump; anyone)
 *   One message per flow, command KTLSACCEL_CMD_FLOW_GET. A flow is one
 *   tfm; kTLS allocates one per socket and direction. Flows come in id
 *   order and a dump that takes several messages resumes after the last
 *   id sent, so every flow that lives through the whole dump is listed
 *   exactly once; flows created or freed meanwhile may or may not be.
 *   PID and COMM are present only when the dumping socket was opened with
 *   CAP_NET_ADMIN or by the effective user that created the flow; for
 *   everyone else they are left out (the rest is the same).
 *     KTLSACCEL_A_FLOW_ID               u64  unique while the module is loaded;
 *                                            ids only grow
 *     KTLSACCEL_A_FLOW_PID              u32  thread group of the creator
 *     KTLSACCEL_A_FLOW_COMM             string creator's command name
 *     KTLSACCEL_A_FLOW_ALG              string crypto API name, e.g. "gcm(aes)"
 *     KTLSACCEL_A_FLOW_KEY_BITS         u32
 *     KTLSACCEL_A_FLOW_DIRECTION        u32  enum ktlsaccel_direction
 *     KTLSACCEL_A_FLOW_STATS            nest counters of this flow
 *     KTLSACCEL_A_FLOW_BACKEND          string "cpu", or the driver of the card
 *                                            that runs this flow's requests;
 *                                            absent while not known
 *
 * KTLSACCEL_CMD_FAULT_SET (do; CAP_NET_ADMIN)
 *   Request: KTLSACCEL_A_DEV_FAULT, a nest with any of the fault attributes
 *   above (rate 0..1000000, errno EBADMSG or EIO, ops, delay_us
 *   0..10000000, stall_queue < queues, never above 255); what is absent
 *   stays as it is.
 *   Reply: none. Sends KTLSACCEL_CMD_DEV_CHANGE_NTF.
 *
 * KTLSACCEL_CMD_FAULT_CLEAR (do; CAP_NET_ADMIN)
 *   Request: no attributes. Turns every fault off (and wakes a stalled
 *   queue). Reply: none. Sends KTLSACCEL_CMD_DEV_CHANGE_NTF.
 *
 * KTLSACCEL_CMD_STATS_RESET (do; CAP_NET_ADMIN)
 *   Request: KTLSACCEL_A_DEV_RESET, u32 mask of enum ktlsaccel_reset
 *   (absent: everything). Zeroes the counters, except the gauges
 *   (in_flight), which describe the present. Reply: none.
 *
 * KTLSACCEL_CMD_DEV_CHANGE_NTF (notification)
 *   Multicast to group KTLSACCEL_MCGRP_CONFIG ("config") after every
 *   successful DEV_SET, FAULT_SET and FAULT_CLEAR; carries the same
 *   attributes as the DEV_GET reply, showing the configuration after the
 *   change. Anyone may join the group.
 *
 * Counters (KTLSACCEL_A_STATS_*, in every *_STATS nest)
 *   SUBMITTED, COMPLETED, ERRORS, BACKLOGGED, REJECTED, INLINED, FAULTS,
 *   BYTES (u64 each; submitted = completed + errors + in_flight), IN_FLIGHT
 *   and MAX_IN_FLIGHT (u32; the peak of IN_FLIGHT since load or the last
 *   reset, measured where the counters live: the device's is the peak of
 *   the whole engine, not of one queue), and LATENCY: u64, repeated
 *   KTLSACCEL_LATENCY_BUCKETS times in bucket order, bucket i counting
 *   requests whose submit-to-completion time was in [2^i, 2^(i+1))
 *   microseconds (bucket 0 also takes everything under 1 us).
 *   INLINE_WAITER, INLINE_LONE, INLINE_FULL, INLINE_POLICY (u64): why
 *   requests counted in INLINED ran in the caller's context: the caller
 *   waits for the result anyway (crypto_req_done), a record nothing could
 *   overlap, a full ring and a caller that may not be backlogged, the
 *   decrypt policy or the inline threshold. HELD (u64): completions held
 *   back until an earlier request of the same flow had completed (a flow's
 *   completions are delivered in submission order).
 */
#ifndef _UAPI_LINUX_KTLSACCEL_H
#define _UAPI_LINUX_KTLSACCEL_H

#define KTLSACCEL_GENL_NAME		"ktlsaccel"
#define KTLSACCEL_GENL_VERSION		1
#define KTLSACCEL_MCGRP_CONFIG		"config"

#define KTLSACCEL_LATENCY_BUCKETS	24
#define KTLSACCEL_MAX_QUEUES		256
#define KTLSACCEL_MAX_DEPTH		65536
#define KTLSACCEL_MAX_LATENCY_US	10000000
#define KTLSACCEL_FAULT_RATE_SCALE	1000000
/* Smallest throughput cap (bytes/s) other than 0: bounds a request's wait. */
#define KTLSACCEL_MIN_THROUGHPUT	1000000
/* A stalled queue resumes on its own after this long. */
#define KTLSACCEL_MAX_STALL_MS		10000

enum ktlsaccel_dispatch {
	KTLSACCEL_DISPATCH_SPREAD,	/* records of a flow across all queues */
	KTLSACCEL_DISPATCH_FLOW,	/* each flow pinned to one queue */
};

enum ktlsaccel_decrypt {
	KTLSACCEL_DECRYPT_INLINE,	/* in the caller: synchronous semantics */
	KTLSACCEL_DECRYPT_ASYNC,	/* through the queues: pipelined */
};

/*
 * Whether the engine may run a request in the caller's context instead of
 * queueing it (CPU backend, no model). Either way the decrypt policy and the
 * inline threshold apply.
 */
enum ktlsaccel_inline {
	KTLSACCEL_INLINE_AUTO,		/* caller-aware: waiters, lone records, full rings */
	KTLSACCEL_INLINE_NEVER,		/* every request through the queues */
};

/* Where the requests of one algorithm are run. */
enum ktlsaccel_backend_mode {
	KTLSACCEL_BACKEND_AUTO,		/* the best card present, else the CPU */
	KTLSACCEL_BACKEND_CPU,		/* the engine's CPU workers */
	KTLSACCEL_BACKEND_DRIVER,	/* the asynchronous driver named by DRIVER */
};

enum ktlsaccel_fault_ops {
	KTLSACCEL_FAULT_OPS_DECRYPT = 1,
	KTLSACCEL_FAULT_OPS_ENCRYPT,
	KTLSACCEL_FAULT_OPS_BOTH,
};

enum ktlsaccel_direction {
	KTLSACCEL_DIRECTION_NONE,	/* no request yet */
	KTLSACCEL_DIRECTION_TX,		/* encrypts only */
	KTLSACCEL_DIRECTION_RX,		/* decrypts only */
	KTLSACCEL_DIRECTION_BOTH,
};

enum ktlsaccel_reset {
	KTLSACCEL_RESET_ENGINE = 1 << 0,	/* device totals and queues */
	KTLSACCEL_RESET_FLOWS = 1 << 1,
};
#define KTLSACCEL_RESET_ALL	(KTLSACCEL_RESET_ENGINE | KTLSACCEL_RESET_FLOWS)

enum {
	KTLSACCEL_A_STATS_UNSPEC,
	KTLSACCEL_A_STATS_PAD,
	KTLSACCEL_A_STATS_SUBMITTED,
	KTLSACCEL_A_STATS_COMPLETED,
	KTLSACCEL_A_STATS_ERRORS,
	KTLSACCEL_A_STATS_BACKLOGGED,
	KTLSACCEL_A_STATS_REJECTED,
	KTLSACCEL_A_STATS_INLINED,
	KTLSACCEL_A_STATS_FAULTS,
	KTLSACCEL_A_STATS_BYTES,
	KTLSACCEL_A_STATS_IN_FLIGHT,
	KTLSACCEL_A_STATS_MAX_IN_FLIGHT,
	KTLSACCEL_A_STATS_LATENCY,
	KTLSACCEL_A_STATS_INLINE_WAITER,
	KTLSACCEL_A_STATS_INLINE_LONE,
	KTLSACCEL_A_STATS_INLINE_FULL,
	KTLSACCEL_A_STATS_INLINE_POLICY,
	KTLSACCEL_A_STATS_HELD,

	__KTLSACCEL_A_STATS_MAX,
	KTLSACCEL_A_STATS_MAX = __KTLSACCEL_A_STATS_MAX - 1
};

enum {
	KTLSACCEL_A_FAULT_UNSPEC,
	KTLSACCEL_A_FAULT_RATE,
	KTLSACCEL_A_FAULT_ERRNO,
	KTLSACCEL_A_FAULT_OPS,
	KTLSACCEL_A_FAULT_DELAY_US,
	KTLSACCEL_A_FAULT_STALL_QUEUE,

	__KTLSACCEL_A_FAULT_MAX,
	KTLSACCEL_A_FAULT_MAX = __KTLSACCEL_A_FAULT_MAX - 1
};

enum {
	KTLSACCEL_A_BACKEND_UNSPEC,
	KTLSACCEL_A_BACKEND_ALG,
	KTLSACCEL_A_BACKEND_MODE,
	KTLSACCEL_A_BACKEND_DRIVER,

	__KTLSACCEL_A_BACKEND_MAX,
	KTLSACCEL_A_BACKEND_MAX = __KTLSACCEL_A_BACKEND_MAX - 1
};

enum {
	KTLSACCEL_A_DEV_UNSPEC,
	KTLSACCEL_A_DEV_PAD,
	KTLSACCEL_A_DEV_PRIORITY,
	KTLSACCEL_A_DEV_QUEUES,
	KTLSACCEL_A_DEV_DEPTH,
	KTLSACCEL_A_DEV_DISPATCH,
	KTLSACCEL_A_DEV_LATENCY_US,
	KTLSACCEL_A_DEV_THROUGHPUT,
	KTLSACCEL_A_DEV_INLINE_THRESHOLD,
	KTLSACCEL_A_DEV_DECRYPT,
	KTLSACCEL_A_DEV_FLOWS,
	KTLSACCEL_A_DEV_FAULT,
	KTLSACCEL_A_DEV_STATS,
	KTLSACCEL_A_DEV_RESET,
	KTLSACCEL_A_DEV_INLINE,
	KTLSACCEL_A_DEV_BACKEND,

	__KTLSACCEL_A_DEV_MAX,
	KTLSACCEL_A_DEV_MAX = __KTLSACCEL_A_DEV_MAX - 1
};

enum {
	KTLSACCEL_A_QUEUE_UNSPEC,
	KTLSACCEL_A_QUEUE_INDEX,
	KTLSACCEL_A_QUEUE_RING,
	KTLSACCEL_A_QUEUE_BACKLOG,
	KTLSACCEL_A_QUEUE_STATS,

	__KTLSACCEL_A_QUEUE_MAX,
	KTLSACCEL_A_QUEUE_MAX = __KTLSACCEL_A_QUEUE_MAX - 1
};

enum {
	KTLSACCEL_A_FLOW_UNSPEC,
	KTLSACCEL_A_FLOW_PAD,
	KTLSACCEL_A_FLOW_ID,
	KTLSACCEL_A_FLOW_PID,
	KTLSACCEL_A_FLOW_COMM,
	KTLSACCEL_A_FLOW_ALG,
	KTLSACCEL_A_FLOW_KEY_BITS,
	KTLSACCEL_A_FLOW_DIRECTION,
	KTLSACCEL_A_FLOW_STATS,
	KTLSACCEL_A_FLOW_BACKEND,

	__KTLSACCEL_A_FLOW_MAX,
	KTLSACCEL_A_FLOW_MAX = __KTLSACCEL_A_FLOW_MAX - 1
};

enum {
	KTLSACCEL_CMD_UNSPEC,
	KTLSACCEL_CMD_DEV_GET,
	KTLSACCEL_CMD_DEV_SET,
	KTLSACCEL_CMD_QUEUE_GET,
	KTLSACCEL_CMD_FLOW_GET,
	KTLSACCEL_CMD_FAULT_SET,
	KTLSACCEL_CMD_FAULT_CLEAR,
	KTLSACCEL_CMD_STATS_RESET,
	KTLSACCEL_CMD_DEV_CHANGE_NTF,

	__KTLSACCEL_CMD_MAX,
	KTLSACCEL_CMD_MAX = __KTLSACCEL_CMD_MAX - 1
};

#endif /* _UAPI_LINUX_KTLSACCEL_H */

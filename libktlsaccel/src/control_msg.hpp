// SPDX-License-Identifier: MIT
//
// Private: the attribute trees of the ktlsaccel family, to and from typed
// structs, and the request/reply exchange underneath ControlClient. Exposed
// to the unit tests, which feed the parsers messages built by hand the way
// the kernel builds them and run the exchange against the host's nlctrl.
#pragma once

#include "ktlsaccel/control.hpp"

#include <functional>

struct nl_msg;
struct nlattr;

namespace ktlsaccel::detail {

// A genl message of the family (DEV_GET reply or DEV_CHANGE_NTF, a
// QUEUE_GET or FLOW_GET dump part) into its struct; protocol error when a
// required attribute is missing or has the wrong length.
Result<DeviceInfo> parse_device(nl_msg *msg);
Result<QueueInfo> parse_queue(nl_msg *msg);
Result<FlowInfo> parse_flow(nl_msg *msg);
// A KTLSACCEL_A_*_STATS nest.
Result<Stats> parse_stats(const nlattr *nest);

// Requests: put the attributes of a change into msg; 0 or a libnl error.
int put_config(nl_msg *msg, const ConfigChange &change);
int put_fault(nl_msg *msg, const FaultChange &change);

// A connected generic netlink socket with NETLINK_EXT_ACK and
// NETLINK_CAP_ACK on.
Result<NlSock> open_genl_socket();

// Sends msg (its header completed with NLM_F_REQUEST | NLM_F_ACK) and reads
// until its ack, its error or the end of its dump, passing each reply to
// on_reply. A kernel error comes back with its extack message.
Result<void> transact(nl_sock *sk, nl_msg *msg,
		      const std::function<Result<void>(nl_msg *)> &on_reply = {});

} // namespace ktlsaccel::detail

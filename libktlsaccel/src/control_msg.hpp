// SPDX-License-Identifier: MIT
//
// Private: the attribute trees of the ktlsaccel family, to and from typed
// structs. No sockets here, so the unit tests can feed it messages built by
// hand the way the kernel builds them.
#pragma once

#include "ktlsaccel/control.hpp"

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

} // namespace ktlsaccel::detail

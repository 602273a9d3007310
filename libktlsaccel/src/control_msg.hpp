// SPDX-License-Identifier: MIT
//
// Private: the attribute trees of the ktlsaccel family, to and from typed
// structs, and the request/reply exchange underneath control::client.
// Exposed to the unit tests, which feed the parsers messages built by hand
// the way the kernel builds them and run the exchange against the host's
// nlctrl.
#pragma once

#include "ktlsaccel/control.hpp"

#include <functional>
#include <string>

struct nl_msg;
struct nlattr;

namespace ktlsaccel::detail {

// A failure inside the client: the code its public call returns, and the
// text that client::extack() then gives (the kernel's extended ack, or the
// client's own detail).
struct control_failure {
	std::error_code code;
	std::string extack;

	std::string message() const { return control::describe(code, extack); }
};

template <class T> using control_result = std::expected<T, control_failure>;

// A genl message of the family (DEV_GET reply or DEV_CHANGE_NTF, a
// QUEUE_GET or FLOW_GET dump part) into its struct; protocol error when a
// required attribute is missing or has the wrong length.
control_result<control::device_info> parse_device(nl_msg *msg);
control_result<control::queue_info> parse_queue(nl_msg *msg);
control_result<control::flow_info> parse_flow(nl_msg *msg);
// A KTLSACCEL_A_*_STATS nest.
control_result<control::stats> parse_stats(const nlattr *nest);

// Requests: put the attributes of a change into msg; 0 or a libnl error.
int put_config(nl_msg *msg, const control::config_change &change);
int put_fault(nl_msg *msg, const control::fault_change &change);

// A connected generic netlink socket with NETLINK_EXT_ACK and
// NETLINK_CAP_ACK on.
control_result<nl_sock_ptr> open_genl_socket();

// Sends msg (its header completed with NLM_F_REQUEST | NLM_F_ACK) and reads
// until its ack, its error or the end of its dump, passing each reply to
// on_reply. A kernel error comes back with its extack message.
control_result<void> transact(nl_sock *sk, nl_msg *msg,
			      const std::function<control_result<void>(nl_msg *)> &on_reply = {});

} // namespace ktlsaccel::detail

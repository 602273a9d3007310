// SPDX-License-Identifier: MIT
//
// control::client and control::monitor: libnl-genl sockets talking to the
// "ktlsaccel" family. Requests are sent with NLM_F_ACK and NETLINK_EXT_ACK
// on, so every request ends in an ack or an error whose extack message
// (NLMSGERR_ATTR_MSG) the client keeps for client::extack().

#include "ktlsaccel/control.hpp"
#include "control_msg.hpp"

#include <linux/ktlsaccel.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <type_traits>

namespace ktlsaccel::control {

// ---- errors ----------------------------------------------------------------

namespace {

class control_category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "ktlsaccel-control"; }
	std::string message(int ev) const override
	{
		switch (static_cast<errc>(ev)) {
		case errc::not_loaded:
			return "ktlsaccel is not loaded: insmod ktlsaccel.ko";
		case errc::protocol:
			return "unexpected reply from the ktlsaccel module";
		case errc::timeout:
			return "timed out";
		}
		return "unknown error";
	}
	std::error_condition default_error_condition(int ev) const noexcept override
	{
		switch (static_cast<errc>(ev)) {
		case errc::not_loaded:
			return std::errc::no_such_device;
		case errc::protocol:
			return std::errc::protocol_error;
		case errc::timeout:
			return std::errc::timed_out;
		}
		return {ev, *this};
	}
};

} // namespace

const std::error_category &category() noexcept
{
	static const control_category_impl c;
	return c;
}

std::string describe(const std::error_code &ec, std::string_view extack)
{
	if (ec == errc::not_loaded)
		return ec.message();
	std::string text = extack.empty() ? ec.message()
					  : std::string(extack) + ": " + ec.message();
	if (ec == std::errc::operation_not_permitted)
		text += " (changing ktlsaccel needs CAP_NET_ADMIN)";
	return text;
}

// ---- names -------------------------------------------------------------------

std::string_view to_string(dispatch_policy d) noexcept
{
	switch (d) {
	case dispatch_policy::spread: return "spread";
	case dispatch_policy::flow: return "flow";
	}
	return "?";
}

std::string_view to_string(decrypt_policy d) noexcept
{
	switch (d) {
	case decrypt_policy::inline_: return "inline";
	case decrypt_policy::async: return "async";
	}
	return "?";
}

std::string_view to_string(fault_ops o) noexcept
{
	switch (o) {
	case fault_ops::none: return "none";
	case fault_ops::decrypt: return "decrypt";
	case fault_ops::encrypt: return "encrypt";
	case fault_ops::both: return "both";
	}
	return "?";
}

std::string_view to_string(flow_direction d) noexcept
{
	switch (d) {
	case flow_direction::none: return "none";
	case flow_direction::tx: return "tx";
	case flow_direction::rx: return "rx";
	case flow_direction::both: return "both";
	}
	return "?";
}

std::string_view to_string(inline_policy p) noexcept
{
	switch (p) {
	case inline_policy::auto_: return "auto";
	case inline_policy::never: return "never";
	}
	return "?";
}

std::string_view to_string(backend_mode m) noexcept
{
	switch (m) {
	case backend_mode::auto_: return "auto";
	case backend_mode::cpu: return "cpu";
	case backend_mode::driver: return "driver";
	}
	return "?";
}

// ---- latency histogram ---------------------------------------------------------

std::uint64_t stats::latency_samples() const noexcept
{
	std::uint64_t n = 0;
	for (auto c : latency)
		n += c;
	return n;
}

std::optional<double> stats::latency_quantile_us(double q) const noexcept
{
	std::uint64_t n = latency_samples();
	if (n == 0)
		return std::nullopt;
	q = std::clamp(q, 0.0, 1.0);
	double rank = q * static_cast<double>(n);
	std::uint64_t below = 0;
	for (std::size_t i = 0; i < latency.size(); i++) {
		if (latency[i] == 0)
			continue;
		if (static_cast<double>(below + latency[i]) >= rank) {
			/* Bucket 0 is [0, 2): it also takes everything under 1 us. */
			double lo = i == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(i));
			double hi = std::ldexp(1.0, static_cast<int>(i) + 1);
			double frac = (rank - static_cast<double>(below)) /
				      static_cast<double>(latency[i]);
			return lo + (hi - lo) * std::clamp(frac, 0.0, 1.0);
		}
		below += latency[i];
	}
	return std::ldexp(1.0, static_cast<int>(latency.size()));
}

stats stats::delta(const stats &now, const stats &before) noexcept
{
	/* A counter that went backwards was reset: all of `now` is new. */
	auto d = [](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : a; };
	stats s;
	s.submitted = d(now.submitted, before.submitted);
	s.completed = d(now.completed, before.completed);
	s.errors = d(now.errors, before.errors);
	s.backlogged = d(now.backlogged, before.backlogged);
	s.rejected = d(now.rejected, before.rejected);
	s.inlined = d(now.inlined, before.inlined);
	s.faults = d(now.faults, before.faults);
	s.bytes = d(now.bytes, before.bytes);
	s.inline_waiter = d(now.inline_waiter, before.inline_waiter);
	s.inline_lone = d(now.inline_lone, before.inline_lone);
	s.inline_full = d(now.inline_full, before.inline_full);
	s.inline_policy = d(now.inline_policy, before.inline_policy);
	s.held = d(now.held, before.held);
	s.in_flight = now.in_flight;
	s.max_in_flight = now.max_in_flight;
	bool reset = now.completed < before.completed;
	for (std::size_t i = 0; i < s.latency.size(); i++)
		s.latency[i] = reset ? now.latency[i] : d(now.latency[i], before.latency[i]);
	return s;
}

} // namespace ktlsaccel::control

// ---- sockets -------------------------------------------------------------------

namespace ktlsaccel::detail {

namespace {

struct NlMsgDeleter {
	void operator()(nl_msg *m) const noexcept { nlmsg_free(m); }
};
using NlMsg = std::unique_ptr<nl_msg, NlMsgDeleter>;

struct NlCbDeleter {
	void operator()(nl_cb *cb) const noexcept { nl_cb_put(cb); }
};
using NlCb = std::unique_ptr<nl_cb, NlCbDeleter>;

control_failure sys_error(int err, std::string extack = {})
{
	return {std::error_code(err, std::system_category()), std::move(extack)};
}

// A libnl error code (NLE_*, negative) as a failure.
control_failure nl_error(int nlerr, const char *what)
{
	int e = EIO;
	switch (-nlerr) {
	case NLE_NOMEM: e = ENOMEM; break;
	case NLE_PERM: e = EPERM; break;
	case NLE_AGAIN: e = EAGAIN; break;
	case NLE_INVAL: e = EINVAL; break;
	case NLE_BAD_SOCK: e = EBADF; break;
	case NLE_OBJ_NOTFOUND: e = ENOENT; break;
	case NLE_PROTO_MISMATCH: e = EPROTONOSUPPORT; break;
	case NLE_NOACCESS: e = EACCES; break;
	}
	return sys_error(e, std::string(what) + ": " + nl_geterror(nlerr));
}

// The extack message of an NLMSG_ERROR or NLMSG_DONE message whose payload,
// after the header, starts with `fixed` bytes (nlmsgerr and maybe the echoed
// request) followed by NLMSGERR_ATTR_* TLVs.
std::string extack_message(const nlmsghdr *nlh, std::size_t fixed)
{
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return {};
	std::size_t off = NLMSG_ALIGN(fixed);
	std::size_t payload = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (nlh->nlmsg_len < NLMSG_HDRLEN || off >= payload)
		return {};
	auto *attrs = reinterpret_cast<nlattr *>(
		reinterpret_cast<char *>(const_cast<nlmsghdr *>(nlh)) + NLMSG_HDRLEN + off);
	nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, static_cast<int>(payload - off), nullptr) < 0)
		return {};
	nlattr *msg = tb[NLMSGERR_ATTR_MSG];
	if (!msg || nla_len(msg) < 1)
		return {};
	auto *s = static_cast<const char *>(nla_data(msg));
	return std::string(s, strnlen(s, static_cast<std::size_t>(nla_len(msg))));
}

// State of one request: its replies go to on_reply, the outcome lands here.
struct Exchange {
	std::function<control_result<void>(nl_msg *)> on_reply;
	bool done = false;
	int err = 0;		// positive errno from the kernel
	std::string extack;
	std::optional<control_failure> parse_error;
};

int on_valid(nl_msg *msg, void *arg)
{
	auto *ex = static_cast<Exchange *>(arg);
	if (!ex->on_reply || ex->parse_error)
		return NL_SKIP;
	if (auto r = ex->on_reply(msg); !r)
		ex->parse_error = r.error();
	return NL_OK;
}

int on_error(sockaddr_nl *, nlmsgerr *e, void *arg)
{
	auto *ex = static_cast<Exchange *>(arg);
	const auto *nlh = reinterpret_cast<const nlmsghdr *>(
		reinterpret_cast<const char *>(e) - NLMSG_HDRLEN);
	std::size_t fixed = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		fixed += e->msg.nlmsg_len - NLMSG_HDRLEN;
	ex->err = -e->error;
	ex->extack = extack_message(nlh, fixed);
	ex->done = true;
	return NL_STOP;
}

int on_finish(nl_msg *msg, void *arg)
{
	/* A dump that failed half way ends in NLMSG_DONE carrying -errno. */
	auto *ex = static_cast<Exchange *>(arg);
	nlmsghdr *nlh = nlmsg_hdr(msg);
	if (nlmsg_datalen(nlh) >= static_cast<int>(sizeof(int))) {
		int code;
		std::memcpy(&code, nlmsg_data(nlh), sizeof(code));
		if (code < 0) {
			ex->err = -code;
			ex->extack = extack_message(nlh, sizeof(int));
		}
	}
	ex->done = true;
	return NL_STOP;
}

int on_ack(nl_msg *, void *arg)
{
	static_cast<Exchange *>(arg)->done = true;
	return NL_STOP;
}

// A new genl request of the family: cmd with flags (0 or NLM_F_DUMP).
control_result<NlMsg> request(int family, std::uint8_t cmd, int flags = 0)
{
	NlMsg msg(nlmsg_alloc());
	if (!msg)
		return std::unexpected(sys_error(ENOMEM));
	if (!genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			 KTLSACCEL_GENL_VERSION))
		return std::unexpected(sys_error(ENOMEM));
	return msg;
}

// A connected genl socket with extended acks on, and the family's id.
control_result<std::pair<nl_sock_ptr, int>> connect_family()
{
	auto sock = open_genl_socket();
	if (!sock)
		return std::unexpected(sock.error());
	nl_sock_ptr sk = std::move(*sock);
	int family = genl_ctrl_resolve(sk.get(), KTLSACCEL_GENL_NAME);
	if (family == -NLE_OBJ_NOTFOUND)
		return std::unexpected(
			control_failure{make_error_code(control::errc::not_loaded), {}});
	if (family < 0)
		return std::unexpected(nl_error(family, "resolving the ktlsaccel family"));
	return std::pair{std::move(sk), family};
}

template <class T, class Parse>
control_result<std::vector<T>> dump(nl_sock *sk, int family, std::uint8_t cmd, Parse parse)
{
	auto msg = request(family, cmd, NLM_F_DUMP);
	if (!msg)
		return std::unexpected(msg.error());
	std::vector<T> out;
	auto r = transact(sk, msg->get(), [&](nl_msg *m) -> control_result<void> {
		auto v = parse(m);
		if (!v)
			return std::unexpected(v.error());
		out.push_back(std::move(*v));
		return {};
	});
	if (!r)
		return std::unexpected(r.error());
	return out;
}

// A do request whose attributes `fill` puts; the kernel answers with an ack.
control_result<void> change(nl_sock *sk, int family, std::uint8_t cmd,
			    const std::function<int(nl_msg *)> &fill = {})
{
	auto msg = request(family, cmd);
	if (!msg)
		return std::unexpected(msg.error());
	if (fill) {
		if (int rc = fill(msg->get()); rc < 0)
			return std::unexpected(nl_error(rc, "building the request"));
	}
	return transact(sk, msg->get());
}

// DEV_GET: its one reply.
control_result<control::device_info> get_device(nl_sock *sk, int family)
{
	auto msg = request(family, KTLSACCEL_CMD_DEV_GET);
	if (!msg)
		return std::unexpected(msg.error());
	std::optional<control::device_info> dev;
	auto r = transact(sk, msg->get(), [&](nl_msg *m) -> control_result<void> {
		auto d = parse_device(m);
		if (!d)
			return std::unexpected(d.error());
		dev = std::move(*d);
		return {};
	});
	if (!r)
		return std::unexpected(r.error());
	if (!dev)
		return std::unexpected(control_failure{make_error_code(control::errc::protocol),
						       "no reply to the device request"});
	return std::move(*dev);
}

// A non-blocking socket in the family's "config" multicast group.
control_result<std::pair<nl_sock_ptr, int>> join_config_group()
{
	auto c = connect_family();
	if (!c)
		return std::unexpected(c.error());
	auto &sk = c->first;
	int group = genl_ctrl_resolve_grp(sk.get(), KTLSACCEL_GENL_NAME, KTLSACCEL_MCGRP_CONFIG);
	if (group < 0)
		return std::unexpected(nl_error(group, "resolving the config group"));
	nl_socket_disable_seq_check(sk.get());
	if (int rc = nl_socket_add_membership(sk.get(), group); rc < 0)
		return std::unexpected(nl_error(rc, "joining the config group"));
	if (int rc = nl_socket_set_nonblocking(sk.get()); rc < 0)
		return std::unexpected(nl_error(rc, "making the socket non-blocking"));
	return c;
}

} // namespace

control_result<nl_sock_ptr> open_genl_socket()
{
	nl_sock_ptr sk(nl_socket_alloc(), nl_socket_free);
	if (!sk)
		return std::unexpected(sys_error(ENOMEM));
	if (int rc = genl_connect(sk.get()); rc < 0)
		return std::unexpected(nl_error(rc, "opening a generic netlink socket"));
	int one = 1;
	/* Old kernels lack them; errors then simply come without a message. */
	setsockopt(nl_socket_get_fd(sk.get()), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk.get()), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return sk;
}

control_result<void> transact(nl_sock *sk, nl_msg *msg,
			      const std::function<control_result<void>(nl_msg *)> &on_reply)
{
	NlCb cb(nl_cb_alloc(NL_CB_DEFAULT));
	if (!cb)
		return std::unexpected(sys_error(ENOMEM));
	Exchange ex;
	ex.on_reply = on_reply;
	nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &ex);
	nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &ex);
	nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_ack, &ex);
	nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &ex);

	int rc = nl_send_auto(sk, msg);
	if (rc < 0)
		return std::unexpected(nl_error(rc, "sending the request"));
	while (!ex.done) {
		rc = nl_recvmsgs(sk, cb.get());
		if (rc < 0 && !ex.err)
			return std::unexpected(nl_error(rc, "reading the reply"));
		if (rc < 0)
			break;
	}
	if (ex.err)
		return std::unexpected(sys_error(ex.err, std::move(ex.extack)));
	if (ex.parse_error)
		return std::unexpected(*ex.parse_error);
	return {};
}

namespace {

struct MonitorState {
	int family;
	std::vector<control::device_info> *pending;
	std::optional<control_failure> error;
};

int on_notification(nl_msg *msg, void *arg)
{
	auto *st = static_cast<MonitorState *>(arg);
	nlmsghdr *nlh = nlmsg_hdr(msg);
	if (nlh->nlmsg_type != st->family || !genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	if (genlmsg_hdr(nlh)->cmd != KTLSACCEL_CMD_DEV_CHANGE_NTF)
		return NL_SKIP;
	auto dev = parse_device(msg);
	if (dev)
		st->pending->push_back(std::move(*dev));
	else if (!st->error)
		st->error = dev.error();
	return NL_OK;
}

} // namespace

} // namespace ktlsaccel::detail

namespace ktlsaccel::control {

namespace {

// The public face of an internal result: its code, its text kept in
// `extack` (a client's, emptied by a call that succeeds) for describe().
template <class T> result<T> keep(std::string &extack, detail::control_result<T> r)
{
	if (r) {
		extack.clear();
		if constexpr (std::is_void_v<T>)
			return {};
		else
			return std::move(*r);
	}
	extack = std::move(r.error().extack);
	return std::unexpected(r.error().code);
}

// Errors of calls without a client to keep their text: only the code.
template <class T> result<T> code_only(detail::control_result<T> r)
{
	std::string ignored;
	return keep(ignored, std::move(r));
}

} // namespace

// ---- client -----------------------------------------------------------------------

result<client> client::open()
{
	auto c = code_only(detail::connect_family());
	if (!c)
		return std::unexpected(c.error());
	return client(std::move(c->first), c->second);
}

result<device_info> client::get_device()
{
	return keep(extack_, detail::get_device(sk_.get(), family_));
}

result<std::vector<queue_info>> client::dump_queues()
{
	return keep(extack_, detail::dump<queue_info>(sk_.get(), family_, KTLSACCEL_CMD_QUEUE_GET,
						      detail::parse_queue));
}

result<std::vector<flow_info>> client::dump_flows()
{
	return keep(extack_, detail::dump<flow_info>(sk_.get(), family_, KTLSACCEL_CMD_FLOW_GET,
						     detail::parse_flow));
}

result<void> client::set_config(const config_change &c)
{
	if (c.empty()) {
		extack_ = "nothing to change";
		return std::unexpected(std::error_code(EINVAL, std::system_category()));
	}
	return keep(extack_, detail::change(sk_.get(), family_, KTLSACCEL_CMD_DEV_SET,
					    [&](nl_msg *m) { return detail::put_config(m, c); }));
}

result<void> client::set_fault(const fault_change &c)
{
	return keep(extack_, detail::change(sk_.get(), family_, KTLSACCEL_CMD_FAULT_SET,
					    [&](nl_msg *m) { return detail::put_fault(m, c); }));
}

result<void> client::clear_fault()
{
	return keep(extack_, detail::change(sk_.get(), family_, KTLSACCEL_CMD_FAULT_CLEAR));
}

result<void> client::reset_stats(std::uint32_t mask)
{
	auto put_mask = [&](nl_msg *m) { return nla_put_u32(m, KTLSACCEL_A_DEV_RESET, mask); };
	return keep(extack_,
		    detail::change(sk_.get(), family_, KTLSACCEL_CMD_STATS_RESET, put_mask));
}

// ---- monitor ----------------------------------------------------------------------

result<monitor> monitor::open()
{
	auto c = code_only(detail::join_config_group());
	if (!c)
		return std::unexpected(c.error());
	return monitor(std::move(c->first), c->second);
}

int monitor::fd() const noexcept
{
	return nl_socket_get_fd(sk_.get());
}

result<device_info> monitor::wait(std::chrono::milliseconds timeout)
{
	using clock = std::chrono::steady_clock;
	/* A timeout beyond what the clock can count (milliseconds::max()) is
	 * no timeout: now + timeout would overflow. */
	auto now = clock::now();
	if (timeout.count() >= 0 &&
	    timeout.count() >=
		    std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - now)
			    .count())
		timeout = std::chrono::milliseconds(-1);
	auto deadline = timeout.count() >= 0 ? now + timeout : clock::time_point::max();
	detail::MonitorState st{family_, &pending_, {}};
	detail::NlCb cb(nl_cb_alloc(NL_CB_DEFAULT));
	if (!cb)
		return std::unexpected(std::error_code(ENOMEM, std::system_category()));
	nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, detail::on_notification, &st);
	nl_cb_set(cb.get(), NL_CB_SEQ_CHECK, NL_CB_CUSTOM,
		  [](nl_msg *, void *) { return static_cast<int>(NL_OK); }, nullptr);

	while (pending_.empty()) {
		int ms = -1;
		if (timeout.count() >= 0) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
				deadline - clock::now());
			if (left.count() <= 0)
				return std::unexpected(make_error_code(errc::timeout));
			ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
		}
		pollfd p{fd(), POLLIN, 0};
		int n = poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return std::unexpected(std::error_code(errno, std::system_category()));
		if (n == 0)
			continue;
		int rc = nl_recvmsgs(sk_.get(), cb.get());
		/* libnl reports the socket's ENOBUFS (notifications were lost
		 * because we read too slowly) as NLE_NOMEM. */
		if (rc == -NLE_NOMEM)
			return std::unexpected(std::error_code(ENOBUFS, std::system_category()));
		if (rc < 0 && rc != -NLE_AGAIN && rc != -NLE_INTR)
			return std::unexpected(detail::nl_error(rc, "reading notifications").code);
		if (st.error)
			return std::unexpected(st.error->code);
	}
	device_info d = std::move(pending_.front());
	pending_.erase(pending_.begin());
	return d;
}

} // namespace ktlsaccel::control

// SPDX-License-Identifier: MIT
//
// ktlsaccel::connection: the record layer after the handshake, in the
// kernel (kTLS) or, as an opt-in fallback, in OpenSSL.
#include "coalesce.hpp"
#include "internal.hpp"
#include "post_handshake.hpp"

#include <arpa/inet.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>

namespace ktlsaccel {

namespace {

constexpr std::uint8_t record_change_cipher_spec = 20;
constexpr std::uint8_t record_alert = 21;
constexpr std::uint8_t record_handshake = 22;
constexpr std::uint8_t record_application_data = 23;

constexpr std::uint8_t alert_warning = 1;
constexpr std::uint8_t alert_fatal = 2;
constexpr std::uint8_t alert_close_notify = 0;
constexpr std::uint8_t alert_bad_record_mac = 20;
constexpr std::uint8_t alert_user_canceled = 90;
constexpr std::uint8_t alert_no_renegotiation = 100;

using detail::alert_decode_error;
using detail::alert_unexpected_message;

template <typename T>
std::unexpected<std::error_code> fail(T e)
{
	return std::unexpected(std::error_code(e));
}

// Sends one record of the given type through kTLS (TLS_SET_RECORD_TYPE),
// whole or not at all: its rest could only follow as another record.
// flags: MSG_DONTWAIT or 0.
result<void> send_record(int fd, std::uint8_t type, std::span<const std::uint8_t> data,
			 int flags = 0)
{
	for (;;) {
		ssize_t n = detail::send_typed(fd, type, data, flags);
		if (n >= 0 && static_cast<std::size_t>(n) == data.size())
			return {};
		/* part of the record is in kTLS's open record: nothing can complete it */
		if (n >= 0)
			return fail(detail::errno_error(EIO));
		if (errno != EINTR)
			return fail(detail::errno_error());
	}
}

result<void> send_alert(int fd, std::uint8_t level, std::uint8_t description)
{
	const std::uint8_t alert[2] = {level, description};
	return send_record(fd, record_alert, alert);
}

std::error_code install_error(int e)
{
	switch (e) {
	case EINVAL:
	case ENOENT:
	case EOPNOTSUPP:
	case 524: /* ENOTSUPP, the kernel's internal "not supported" */
		return make_error_code(errc::kernel_cipher_unsupported);
	}
	return detail::errno_error(e);
}

// Moves the record layer of fd into the kernel; wipes the keys either way.
// On failure, *irreversible says whether userspace TLS can still continue.
// *can_rekey: whether this socket takes TLS 1.3 KeyUpdates.
result<void> kernel_install(int fd, session_keys &keys, bool *irreversible, bool *can_rekey)
{
	*irreversible = false;
	*can_rekey = false;
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 && errno != EEXIST) {
		int e = errno;
		keys.tx.wipe();
		keys.rx.wipe();
		if (e == ENOENT)
			return fail(errc::kernel_tls_unavailable);
		return fail(detail::errno_error(e));
	}
	int r = setsockopt(fd, SOL_TLS, TLS_TX, keys.tx.data(), static_cast<socklen_t>(keys.tx.size()));
	int e = errno;
	/*
	 * Asked of the kernel, not read from its version: setting TLS_TX again
	 * with the key and sequence number it has just taken, before any
	 * record, is a rekey that changes nothing where rekeying exists (Linux
	 * 6.14+, software kTLS) and EBUSY (or EOPNOTSUPP) where it does not.
	 */
	if (r == 0 && keys.version == tls_version::tls13)
		*can_rekey = setsockopt(fd, SOL_TLS, TLS_TX, keys.tx.data(),
					static_cast<socklen_t>(keys.tx.size())) == 0;
	keys.tx.wipe();
	if (r < 0) {
		keys.rx.wipe();
		return fail(install_error(e));
	}
	/* from here on the kernel writes records: no way back */
	*irreversible = true;
	r = setsockopt(fd, SOL_TLS, TLS_RX, keys.rx.data(), static_cast<socklen_t>(keys.rx.size()));
	e = errno;
	keys.rx.wipe();
	if (r < 0)
		return fail(install_error(e));
	return {};
}

} // namespace

ssize_t detail::send_typed(int fd, std::uint8_t type, std::span<const std::uint8_t> data, int flags)
{
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(type))] = {};
	iovec iov{const_cast<std::uint8_t *>(data.data()), data.size()};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = data.empty() ? 0 : 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_TLS;
	c->cmsg_type = TLS_SET_RECORD_TYPE;
	c->cmsg_len = CMSG_LEN(sizeof(type));
	std::memcpy(CMSG_DATA(c), &type, sizeof(type));
	return ::sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
}

struct KTLSACCEL_LOCAL connection::state {
	int fd = -1;
	connection_info info;
	// userspace fallback only
	detail::ssl_ptr ssl;
	std::shared_ptr<detail::context_state> ctx;
	// a TLS 1.3 client of a context that keeps sessions: recv() feeds it tickets
	std::unique_ptr<detail::ticket_sink> tickets;
	// plaintext OpenSSL decrypted before the hand-over
	std::vector<std::uint8_t> pending;
	std::size_t pending_off = 0;
	// TLS 1.3 traffic secrets, kept only where the socket can rekey
	secret tx_secret, rx_secret;
	// a control record may arrive over several recvmsg() calls
	std::vector<std::uint8_t> handshake_buf;
	std::vector<std::uint8_t> alert_buf;
	detail::control_budget budget;	// recv()'s side only
	bool eof = false;
	// our role where it is known (install(): if the backend said): who may send what
	std::optional<bool> server;

	/*
	 * Held by whatever writes records or changes the TX key: send(),
	 * sendfile(), shutdown(), key_update() and the reply to a peer's
	 * KeyUpdate from recv(). Guards tx_secret and sent_close. Contended
	 * only when one thread sends while another answers a KeyUpdate.
	 */
	std::mutex tx_mutex;
	bool sent_close = false;
	// send coalescing (set_coalescing()); shared with the timer thread
	std::shared_ptr<detail::held_record> hold = std::make_shared<detail::held_record>();
	// a peer asked for our KeyUpdate and it is not sent yet (§4.6.3)
	std::atomic<bool> key_update_owed{false};

	/*
	 * The first fatal error, sticky. One thread may send while another
	 * receives and either may hit it: written once, then published.
	 */
	std::optional<std::error_code> failure() const
	{
		if (failed_state.load(std::memory_order_acquire) == 2)
			return failed_ec;
		return std::nullopt;
	}

	result<std::size_t> kernel_recv(std::span<std::byte> buf, int flags);
	/*
	 * An application that waits for an answer must not wait for its own
	 * question, held in an open record. A send() in progress in another
	 * thread holds tx_mutex: recv() never waits for it (nor to send), and
	 * that send() is not quiet anyway.
	 */
	void close_held_record_for_recv()
	{
		if (!hold->enabled.load(std::memory_order_acquire))
			return;
		std::unique_lock tx(tx_mutex, std::try_to_lock);
		if (!tx.owns_lock())
			return;
		std::lock_guard lock(hold->m);
		(void)hold->close_for_recv();
	}
	int ssl_run(int flags, const std::function<int(SSL *)> &op);
	std::unexpected<std::error_code> too_many_control_messages()
	{
		(void)send_alert(fd, alert_fatal, alert_unexpected_message);
		return fatal(make_error_code(errc::unexpected_message));
	}
	result<bool> on_handshake_bytes(std::span<const std::uint8_t> bytes);
	result<void> rekey(bool tx, std::span<const std::uint8_t> next_secret);
	result<void> send_key_update(bool request_peer, int flags);
	result<std::size_t> sendfile_userspace(connection &c, int in_fd, off_t *offset,
					       std::size_t count);
	result<void> flush_key_update(int flags);
	// The caller holds tx_mutex: a record a control record closed is no longer open.
	void record_closed()
	{
		std::lock_guard lock(hold->m);
		hold->open = false;
	}
	void keep_secrets(session_keys &keys, bool can_rekey)
	{
		if (!can_rekey)
			return;	/* the caller's keys wipe them */
		tx_secret = std::move(keys.tx_secret);
		rx_secret = std::move(keys.rx_secret);
	}

	/*
	 * The socket is the caller's and may be reused once we are gone (a
	 * connection destroyed or moved over): the timer thread must not
	 * touch it after this. A record held open is closed on the way out,
	 * without waiting for room.
	 */
	~state()
	{
		/* a connection that failed leaves its session for OpenSSL to drop */
		if (ssl && !failure())
			detail::ssl_keep_session(ssl.get());
		std::lock_guard lock(hold->m);
		(void)hold->close_locked();
		hold->fd = -1;
		hold->enabled.store(false, std::memory_order_release);
	}

	/* EAGAIN and EINTR say "try again", never that the connection is dead */
	static bool transient(const std::error_code &ec)
	{
		return ec == std::errc::resource_unavailable_try_again ||
		       ec == std::errc::operation_would_block || ec == std::errc::interrupted;
	}

	std::unexpected<std::error_code> fatal(std::error_code ec)
	{
		if (transient(ec))
			return std::unexpected(ec);
		int none = 0;
		if (failed_state.compare_exchange_strong(none, 1, std::memory_order_acq_rel)) {
			failed_ec = ec;
			failed_state.store(2, std::memory_order_release);
		}
		return std::unexpected(ec);
	}

private:
	std::atomic<int> failed_state{0};	/* 0 none, 1 being set, 2 set */
	std::error_code failed_ec;
};

connection::connection(std::unique_ptr<state> s) noexcept : s_(std::move(s)) {}
connection::connection(connection &&) noexcept = default;
connection &connection::operator=(connection &&) noexcept = default;

connection::~connection() = default;

int connection::fd() const noexcept { return s_->fd; }

std::size_t connection::pending() const noexcept
{
	std::size_t n = s_->pending.size() - s_->pending_off;
	if (s_->ssl) {
		std::lock_guard lock(s_->tx_mutex);
		n += static_cast<std::size_t>(std::max(SSL_pending(s_->ssl.get()), 0));
	}
	return n;
}

std::vector<std::uint8_t> &detail::connection_access::pending(connection &c)
{
	return c.s_->pending;
}

connection_info &detail::connection_access::info(connection &c)
{
	return c.s_->info;
}
const connection_info &connection::info() const noexcept { return s_->info; }

result<connection> connection::install(int fd, session_keys keys)
{
	if (fd < 0 || keys.tx.size() == 0 || keys.rx.size() == 0)
		return fail(errc::invalid_argument);
	bool irreversible, can_rekey;
	if (auto r = kernel_install(fd, keys, &irreversible, &can_rekey); !r)
		return std::unexpected(r.error());
	auto s = std::make_unique<state>();
	s->fd = fd;
	s->info.version = keys.version;
	s->info.cipher_type = keys.cipher_type;
	s->info.cipher_suite = std::move(keys.cipher_suite);
	s->info.alpn = std::move(keys.alpn);
	s->info.kernel_offload = true;
	s->pending = std::move(keys.pending);
	if (keys.local_role)
		s->server = *keys.local_role == role::server;
	s->keep_secrets(keys, can_rekey);
	return connection(std::move(s));
}

result<connection> connection::offload(SSL *ssl)
{
	if (!ssl || SSL_get_fd(ssl) < 0)
		return fail(errc::invalid_argument);
	connection_info info;
	detail::ssl_describe(ssl, info);
	auto keys = detail::ssl_export_keys(ssl);
	if (!keys)
		return std::unexpected(keys.error());
	auto conn = install(SSL_get_fd(ssl), std::move(*keys));
	if (!conn)
		return conn;
	/* the kernel has the keys: now OpenSSL's plaintext can move over */
	if (auto r = detail::ssl_take_pending(ssl, conn->s_->pending); !r)
		return std::unexpected(r.error());
	info.kernel_offload = true;
	conn->s_->info = std::move(info);
	conn->s_->server = SSL_is_server(ssl) == 1;
	detail::ssl_keep_session(ssl);
	return conn;
}


/*
 * Userspace fallback: runs op (an SSL call; > 0 done) under tx_mutex and
 * returns SSL_ERROR_NONE or SSL_get_error()'s verdict. The BIO never
 * blocks, so the lock is held only while OpenSSL works: a caller that
 * blocks waits for the socket in poll() outside it, and one thread can
 * send while another waits to receive. Signals do not end a blocking
 * call (EINTR is retried); SSL_ERROR_WANT_* comes back only to a caller
 * that does not block (MSG_DONTWAIT or an O_NONBLOCK socket).
 */
int connection::state::ssl_run(int flags, const std::function<int(SSL *)> &op)
{
	int fl = fcntl(fd, F_GETFL);
	bool block = !(flags & MSG_DONTWAIT) && fl >= 0 && !(fl & O_NONBLOCK);
	for (;;) {
		int err;
		{
			std::lock_guard lock(tx_mutex);
			ERR_clear_error();
			errno = 0;
			int r = op(ssl.get());
			if (r > 0)
				return SSL_ERROR_NONE;
			err = SSL_get_error(ssl.get(), r);
		}
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return err;
		if (!block)
			return err;
		pollfd pfd{fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return SSL_ERROR_SYSCALL;
	}
}

/* ---- handshake ---------------------------------------------------------- */

namespace {

std::error_code handshake_error(SSL *ssl, int ret)
{
	int err = SSL_get_error(ssl, ret);
	long verify = SSL_get_verify_result(ssl);
	if (verify != X509_V_OK) {
		ERR_clear_error();
		return {static_cast<int>(verify), verify_category()};
	}
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		if (errno != 0)
			return detail::errno_error();
		return make_error_code(errc::unexpected_eof);
	}
	return detail::openssl_error(errc::handshake_failed);
}

} // namespace

struct KTLSACCEL_LOCAL handshake_state::impl {
	std::shared_ptr<detail::context_state> ctx;
	detail::ssl_ptr ssl;
	int fd = -1;
	bool server = false;
	bool done = false;
};

handshake_state::handshake_state(std::unique_ptr<impl> i) noexcept : i_(std::move(i)) {}
handshake_state::handshake_state(handshake_state &&) noexcept = default;
handshake_state &handshake_state::operator=(handshake_state &&) noexcept = default;
handshake_state::~handshake_state() = default;

result<handshake_state> handshake_state::start(int fd, const context &c, std::string_view name)
{
	if (fd < 0 || !c.s_)
		return fail(errc::invalid_argument);
	const options &o = c.s_->opts;
	bool server = o.role == role::server;
	std::string server_name(name.empty() ? std::string_view(o.server_name) : name);
	/*
	 * A chain checked without a name accepts any certificate the CAs ever
	 * signed, for any host: a verifying client must say whom it expects.
	 */
	if (!server && o.verify_peer && server_name.empty())
		return fail(errc::invalid_argument);

	auto i = std::make_unique<impl>();
	i->ctx = c.s_;
	i->fd = fd;
	i->server = server;
	i->ssl.reset(SSL_new(c.s_->ctx.get()));
	SSL *ssl = i->ssl.get();
	if (!ssl)
		return fail(detail::openssl_error(errc::handshake_failed));
	if (auto r = ssl_prepare(ssl); !r)
		return std::unexpected(r.error());
	/* never blocks: a blocking socket is waited for in poll(), with the timeout */
	if (!detail::ssl_set_socket(ssl, fd, true))
		return fail(detail::openssl_error(errc::invalid_argument));
	if (server) {
		SSL_set_accept_state(ssl);
		return handshake_state(std::move(i));
	}
	SSL_set_connect_state(ssl);
	if (!server_name.empty()) {
		/* an address is checked against IP SANs and never sent as SNI (RFC 6066) */
		in6_addr addr;
		bool is_ip = inet_pton(AF_INET, server_name.c_str(), &addr) == 1 ||
			     inet_pton(AF_INET6, server_name.c_str(), &addr) == 1;
		if (!is_ip && SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1)
			return fail(detail::openssl_error(errc::invalid_argument));
		if (o.verify_peer) {
			X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
			int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
				       : SSL_set1_host(ssl, server_name.c_str());
			if (ok != 1)
				return fail(detail::openssl_error(errc::invalid_argument));
		}
	}
	if (!c.s_->cache_under(ssl, server_name))
		return fail(detail::openssl_error(errc::handshake_failed));
	if (auto sess = c.s_->session_for(server_name))
		(void)SSL_set_session(ssl, sess.get());	/* refused: a full handshake */
	return handshake_state(std::move(i));
}

result<handshake_state::want> handshake_state::step()
{
	if (!i_ || !i_->ssl)
		return fail(errc::invalid_argument);
	if (i_->done)
		return want::done;
	ERR_clear_error();
	errno = 0;
	int ret = SSL_do_handshake(i_->ssl.get());
	if (ret == 1) {
		i_->done = true;
		return want::done;
	}
	switch (SSL_get_error(i_->ssl.get(), ret)) {
	case SSL_ERROR_WANT_READ:
		return want::read;
	case SSL_ERROR_WANT_WRITE:
		return want::write;
	}
	return fail(handshake_error(i_->ssl.get(), ret));
}

result<connection> handshake_state::finish()
{
	if (!i_ || !i_->ssl || !i_->done)
		return fail(errc::ssl_not_ready);
	detail::ssl_ptr ssl = std::move(i_->ssl);
	auto ctx = i_->ctx;
	const options &o = ctx->opts;
	int fd = i_->fd;

	connection_info info;
	detail::ssl_describe(ssl.get(), info);
	auto userspace = [&](std::error_code why) {
		auto s = std::make_unique<connection::state>();
		s->fd = fd;
		s->info = info;
		s->info.kernel_offload = false;
		s->info.offload_error = why;
		/*
		 * A write retried after EAGAIN must repeat the same bytes, but
		 * they may sit elsewhere (sendfile() reads them again, an
		 * application may copy them): OpenSSL would call that fatal.
		 */
		SSL_set_mode(ssl.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		s->ssl = std::move(ssl);
		/* OpenSSL reads tickets itself here: they reach the context's cache */
		s->ctx = ctx;
		return result<connection>(connection(std::move(s)));
	};
	auto keys = detail::ssl_export_keys(ssl.get());
	if (!keys) {
		if (o.allow_userspace_fallback && (keys.error() == errc::cipher_unsupported ||
						   keys.error() == errc::record_size_limited))
			return userspace(keys.error());
		return std::unexpected(keys.error());
	}
	/* a client that keeps sessions has the server's TLS 1.3 tickets still to read */
	bool sink = ctx->keep_sessions && keys->version == tls_version::tls13;
	secret rx_secret;
	if (sink)
		rx_secret = secret(keys->rx_secret.span());
	cipher cipher_type = keys->cipher_type;
	bool irreversible, can_rekey;
	if (auto r = kernel_install(fd, *keys, &irreversible, &can_rekey); !r) {
		/* OpenSSL still holds any plaintext it decrypted: nothing is lost */
		if (o.allow_userspace_fallback && !irreversible)
			return userspace(r.error());
		return std::unexpected(r.error());
	}
	std::vector<std::uint8_t> pending;
	if (auto r = detail::ssl_take_pending(ssl.get(), pending); !r)
		return std::unexpected(r.error());
	auto s = std::make_unique<connection::state>();
	s->fd = fd;
	s->info = std::move(info);
	s->info.kernel_offload = true;
	s->server = i_->server;
	s->pending = std::move(pending);
	s->keep_secrets(*keys, can_rekey);
	if (sink) {
		std::uint64_t seq = detail::ssl_read_seq(ssl.get());
		/* without it, only this context's later handshakes lose: not this connection */
		s->tickets = detail::ticket_sink::make(ctx, std::move(ssl), cipher_type,
						       rx_secret.span(), seq);
	}
	/* otherwise ssl is freed here: OpenSSL wipes its copies of the keys */
	detail::ssl_keep_session(ssl.get());
	return connection(std::move(s));
}

result<connection> connection::handshake(int fd, const context &ctx, std::string_view server_name)
{
	auto hs = handshake_state::start(fd, ctx, server_name);
	if (!hs)
		return std::unexpected(hs.error());
	auto limit = ctx.s_->opts.handshake_timeout;
	auto deadline = std::chrono::steady_clock::now() + limit;
	for (;;) {
		auto w = hs->step();
		if (!w)
			return std::unexpected(w.error());
		if (*w == handshake_state::want::done)
			break;
		int wait_ms = -1;
		if (limit.count() > 0) {
			auto left = std::chrono::ceil<std::chrono::milliseconds>(
				deadline - std::chrono::steady_clock::now());
			if (left.count() <= 0)
				return fail(errc::timeout);
			wait_ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
		}
		short ev = *w == handshake_state::want::read ? POLLIN : POLLOUT;
		pollfd pfd{fd, ev, 0};
		/* a signal is no reason to give up (as the Mbed TLS backend does) */
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
			return fail(detail::errno_error());
	}
	return hs->finish();
}

result<connection> connection::handshake(int fd, const options &o)
{
	if (fd < 0)
		return fail(errc::invalid_argument);
	auto ctx = detail::make_context(o, false);
	if (!ctx)
		return std::unexpected(ctx.error());
	return handshake(fd, context(std::move(*ctx)), {});
}


/* ---- record I/O --------------------------------------------------------- */

result<std::size_t> connection::send(std::span<const std::byte> data, int flags)
{
	if (auto f = s_->failure())
		return std::unexpected(*f);
	if (s_->ssl) {
		size_t n = 0;
		bool closed = false;
		int e = s_->ssl_run(flags, [&](SSL *ssl) {
			if (s_->sent_close) {
				closed = true;
				return 1;
			}
			return SSL_write_ex(ssl, data.data(), data.size(), &n);
		});
		if (closed)
			return fail(errc::connection_closed);
		if (e == SSL_ERROR_NONE)
			return n;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return fail(detail::errno_error(EAGAIN));
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno != 0)
			return s_->fatal(detail::errno_error());
		return s_->fatal(detail::openssl_error(errc::connection_closed));
	}
	std::lock_guard lock(s_->tx_mutex);
	if (s_->sent_close)
		return fail(errc::connection_closed);
	/* a KeyUpdate the peer asked for goes before our next data (§4.6.3) */
	if (auto r = s_->flush_key_update(flags & MSG_DONTWAIT); !r)
		return std::unexpected(r.error());
	auto &hold = s_->hold;
	bool coalesce = false;
	if (hold->enabled.load(std::memory_order_relaxed)) {
		std::lock_guard held(hold->m);
		/* no timer closed it in time: this call does, before more data waits behind it */
		if (hold->open && detail::steady::now() >= hold->deadline()) {
			if (auto e = hold->close_locked())
				return s_->fatal(e);
		}
		coalesce = hold->hold_this_send();
		if (coalesce)
			flags |= MSG_MORE;
	}
	for (;;) {
		ssize_t n = ::send(s_->fd, data.data(), data.size(), flags | MSG_NOSIGNAL);
		if (n > 0 && coalesce) {
			std::lock_guard held(hold->m);
			hold->writes_held++;
			detail::held_record::note_open(hold, detail::steady::now());
		}
		if (n >= 0)
			return static_cast<std::size_t>(n);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return fail(detail::errno_error());
		return s_->fatal(detail::errno_error());
	}
}

result<void> connection::send_all(std::span<const std::byte> data, int flags)
{
	while (!data.empty()) {
		auto n = send(data, flags);
		if (!n)
			return std::unexpected(n.error());
		data = data.subspan(*n);
	}
	return {};
}

result<std::size_t> connection::recv(std::span<std::byte> buf, int flags)
{
	/*
	 * kTLS leaves a peeked control record on the socket, so an alert or a
	 * post-handshake message would be read again and again, forever.
	 */
	if (flags & MSG_PEEK)
		return fail(errc::invalid_argument);
	s_->close_held_record_for_recv();
	if (s_->pending_off < s_->pending.size()) {
		std::size_t n = std::min(buf.size(), s_->pending.size() - s_->pending_off);
		std::memcpy(buf.data(), s_->pending.data() + s_->pending_off, n);
		s_->pending_off += n;
		if (s_->pending_off == s_->pending.size()) {
			s_->pending.clear();
			s_->pending_off = 0;
		}
		return n;
	}
	if (s_->eof)
		return 0;
	if (auto f = s_->failure())
		return std::unexpected(*f);
	if (buf.empty())
		return 0;
	if (s_->ssl) {
		size_t n = 0;
		int e = s_->ssl_run(flags, [&](SSL *ssl) {
			return SSL_read_ex(ssl, buf.data(), buf.size(), &n);
		});
		if (e == SSL_ERROR_NONE)
			return n;
		switch (e) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return fail(detail::errno_error(EAGAIN));
		case SSL_ERROR_ZERO_RETURN:
			s_->eof = true;
			return 0;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0)
				return s_->fatal(errno ? detail::errno_error()
						       : make_error_code(errc::unexpected_eof));
			break;
		}
		return s_->fatal(detail::openssl_error(errc::connection_closed));
	}
	return s_->kernel_recv(buf, flags);
}

result<std::size_t> connection::state::kernel_recv(std::span<std::byte> buf, int flags)
{
	for (;;) {
		alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(std::uint8_t))];
		iovec iov{buf.data(), buf.size()};
		msghdr msg{};
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		ssize_t n = recvmsg(fd, &msg, flags);
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return fail(detail::errno_error(e));
			if (e == EBADMSG) {
				/*
				 * RFC 8446 §5.2: answer with bad_record_mac. kTLS
				 * left EBADMSG pending on the socket (tls_err_abort),
				 * which would fail the send too: SO_ERROR collects
				 * it. The connection is dead for reading either way.
				 */
				int so_error = 0;
				socklen_t len = sizeof(so_error);
				(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
				(void)send_alert(fd, alert_fatal, alert_bad_record_mac);
				return fatal(make_error_code(errc::bad_record_mac));
			}
			return fatal(detail::errno_error(e));
		}
		if (n == 0)
			return fatal(make_error_code(errc::unexpected_eof));

		int type = record_type_from_cmsg(msg);
		auto bytes = std::span(reinterpret_cast<const std::uint8_t *>(buf.data()),
				       static_cast<std::size_t>(n));
		switch (type) {
		case record_application_data:
			budget.on_application_data();
			return static_cast<std::size_t>(n);

		case record_alert: {
			/*
			 * An alert record holds exactly one alert (RFC 8446
			 * §5.1). One recvmsg() returns at most one record, but
			 * a small buffer reads it in pieces: collect two bytes,
			 * and anything beyond is malformed.
			 */
			if (alert_buf.size() + bytes.size() > 2) {
				(void)send_alert(fd, alert_fatal, alert_decode_error);
				return fatal(make_error_code(errc::unexpected_message));
			}
			alert_buf.insert(alert_buf.end(), bytes.begin(), bytes.end());
			if (alert_buf.size() < 2)
				continue;
			std::uint8_t level = alert_buf[0], desc = alert_buf[1];
			alert_buf.clear();
			/*
			 * Counted once whole: a small buffer reads a record in
			 * pieces. Handshake records count by message instead.
			 */
			if (!budget.on_control_record())
				return too_many_control_messages();
			if (desc == alert_close_notify) {
				eof = true;
				return 0;
			}
			/*
			 * TLS 1.3 alerts are all fatal but user_canceled;
			 * TLS 1.2 warnings (no_renegotiation...) are not.
			 */
			bool warning = info.version == tls_version::tls13 ? desc == alert_user_canceled
									  : level == alert_warning;
			if (!warning)
				return fatal({desc, alert_category()});
			if (!budget.on_warning_alert())
				return too_many_control_messages();
			continue;
		}

		case record_handshake: {
			auto r = on_handshake_bytes(bytes);
			if (!r)
				return std::unexpected(r.error());
			continue;
		}

		default:
			/* ChangeCipherSpec or an unknown type after the handshake */
			(void)record_change_cipher_spec;
			(void)send_alert(fd, alert_fatal, alert_unexpected_message);
			return fatal(make_error_code(errc::unexpected_message));
		}
	}
}

// Post-handshake messages (RFC 8446 §4.6, RFC 5246 §7.4.1.1). Messages may
// span records and records may hold several messages.
result<bool> connection::state::on_handshake_bytes(std::span<const std::uint8_t> bytes)
{
	handshake_buf.insert(handshake_buf.end(), bytes.begin(), bytes.end());
	bool tls13 = info.version == tls_version::tls13;
	/* walk with an offset and drop what was read once: erasing each message is quadratic */
	std::size_t off = 0;
	for (;;) {
		auto m = detail::next_handshake_message(handshake_buf, off);
		if (m.verdict == detail::hs_split::need_more)
			break;
		if (m.verdict == detail::hs_split::too_long) {
			handshake_buf.clear();
			(void)send_alert(fd, alert_fatal, alert_decode_error);
			return fatal(make_error_code(errc::unexpected_message));
		}
		std::size_t start = off;
		off = m.next;
		if (!budget.on_message(m.type)) {
			handshake_buf.clear();
			return too_many_control_messages();
		}
		/* all of handshake_buf before this record was parsed: what follows is this record's */
		bool trailing = off < handshake_buf.size();
		auto c = detail::check_post_handshake(tls13, server ? &*server : nullptr, m.type, m.body,
						      trailing);
		switch (c.action) {
		case detail::hs_check::drop:
			if (tickets && tls13 && m.type == detail::hs_new_session_ticket &&
			    !tickets->feed(std::span(handshake_buf).subspan(start, off - start)))
				tickets.reset();
			continue;
		case detail::hs_check::decline_renegotiation:
			(void)send_alert(fd, alert_warning, alert_no_renegotiation);
			continue;
		case detail::hs_check::key_update:
			break;
		case detail::hs_check::reject:
			(void)send_alert(fd, alert_fatal, c.alert);
			return fatal(make_error_code(errc::unexpected_message));
		}

		/* the sink's keys are the old ones: later tickets are not kept */
		tickets.reset();
		/* kept only where the socket can rekey (kernel_install) */
		if (rx_secret.empty())
			return fatal(make_error_code(errc::key_update_unsupported));
		auto next = traffic_secret_update(info.cipher_type, rx_secret.span());
		if (!next)
			return fatal(next.error());
		if (auto r = rekey(false, next->span()); !r)
			return fatal(r.error());
		rx_secret = std::move(*next);
		if (c.update_requested) {
			/*
			 * Ours is due before our next application data, not at
			 * once (§4.6.3): when another thread is sending, it
			 * sends ours first; when the socket is full, the next
			 * send() does - recv() never waits to send it, whatever
			 * the socket's mode. Errors that matter are already fatal.
			 */
			key_update_owed.store(true, std::memory_order_release);
			std::unique_lock lock(tx_mutex, std::try_to_lock);
			if (lock.owns_lock())
				(void)flush_key_update(MSG_DONTWAIT);
			if (auto f = failure())
				return std::unexpected(*f);
		}
	}
	handshake_buf.erase(handshake_buf.begin(), handshake_buf.begin() + static_cast<long>(off));
	return true;
}

result<void> connection::state::rekey(bool tx, std::span<const std::uint8_t> next_secret)
{
	auto ci = crypto_info_from_traffic_secret(info.cipher_type, next_secret, 0);
	if (!ci)
		return std::unexpected(ci.error());
	int r = setsockopt(fd, SOL_TLS, tx ? TLS_TX : TLS_RX, ci->data(),
			   static_cast<socklen_t>(ci->size()));
	int e = errno;
	ci->wipe();
	if (r < 0)
		return fail(e == EBUSY ? make_error_code(errc::key_update_unsupported)
				       : detail::errno_error(e));
	return {};
}

// The caller holds tx_mutex. flags: MSG_DONTWAIT or 0.
result<void> connection::state::send_key_update(bool request_peer, int flags)
{
	if (tx_secret.empty())
		return fail(errc::key_update_unsupported);
	auto next = traffic_secret_update(info.cipher_type, tx_secret.span());
	if (!next)
		return std::unexpected(next.error());
	const std::uint8_t msg[5] = {detail::hs_key_update, 0, 0, 1,
				     request_peer ? std::uint8_t(1) : std::uint8_t(0)};
	/* fatal() keeps EAGAIN/EINTR retryable: nothing was sent then */
	if (auto r = send_record(fd, record_handshake, msg, flags); !r)
		return fatal(r.error());
	/* any KeyUpdate of ours answers a request */
	key_update_owed.store(false, std::memory_order_release);
	/* the peer now expects the next key: the old one cannot go on */
	if (auto r = rekey(true, next->span()); !r)
		return fatal(r.error());
	tx_secret = std::move(*next);
	return {};
}

// Sends the KeyUpdate a peer asked for, if one is owed. The caller holds tx_mutex.
result<void> connection::state::flush_key_update(int flags)
{
	if (!key_update_owed.load(std::memory_order_acquire))
		return {};
	return send_key_update(false, flags);
}

namespace {

// sendfile(2) errors about in_fd or the arguments: nothing reached the socket.
bool sendfile_input_error(int e)
{
	return e == EBADF || e == EINVAL || e == ESPIPE || e == EOVERFLOW || e == EFAULT;
}

} // namespace

result<std::size_t> connection::sendfile(int in_fd, off_t *offset, std::size_t count)
{
	if (auto f = s_->failure())
		return std::unexpected(*f);
	if (s_->ssl)
		return s_->sendfile_userspace(*this, in_fd, offset, count);
	std::lock_guard lock(s_->tx_mutex);
	if (s_->sent_close)
		return fail(errc::connection_closed);
	if (auto r = s_->flush_key_update(0); !r)
		return std::unexpected(r.error());
	std::size_t done = 0;
	while (done < count) {
		ssize_t n = ::sendfile(s_->fd, in_fd, offset, count - done);
		if (n > 0) {
			done += static_cast<std::size_t>(n);
			continue;
		}
		if (n == 0)
			break;
		int e = errno;
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK) {
			if (done > 0)
				break;
			return fail(detail::errno_error(e));
		}
		/* in_fd's fault before any byte went out: the stream is intact */
		if (done == 0 && sendfile_input_error(e))
			return fail(detail::errno_error(e));
		/*
		 * The socket failed, and kTLS may hold part of a record: the
		 * connection is dead. The bytes that did go out are still
		 * reported, like sendfile(2)'s short count; the next call
		 * returns the error.
		 */
		auto f = s_->fatal(detail::errno_error(e));
		if (done > 0)
			break;
		return f;
	}
	/* sendfile(2)'s last piece may be held open like a send()'s: the deadline covers it */
	if (done > 0 && s_->hold->enabled.load(std::memory_order_relaxed)) {
		std::lock_guard hl(s_->hold->m);
		detail::held_record::note_open(s_->hold, detail::steady::now());
	}
	return done;
}

// Userspace fallback: read and send, from *offset or the file position
// (moved past what was sent, as sendfile(2) does). A chunk sent in part
// counts what went out: the caller resumes where the stream stopped.
result<std::size_t> connection::state::sendfile_userspace(connection &c, int in_fd, off_t *offset,
							  std::size_t count)
{
	off_t pos = offset ? *offset : ::lseek(in_fd, 0, SEEK_CUR);
	if (pos < 0)
		return fail(detail::errno_error());
	std::vector<std::byte> buf(std::min<std::size_t>(count, 64 * 1024));
	std::size_t done = 0;
	std::error_code err;
	while (done < count && !err) {
		std::size_t want = std::min(buf.size(), count - done);
		ssize_t n = ::pread(in_fd, buf.data(), want, pos + static_cast<off_t>(done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = detail::errno_error();
			break;
		}
		if (n == 0)
			break;
		/* send() takes tx_mutex itself, and makes what is fatal so */
		auto chunk = std::span(buf.data(), static_cast<std::size_t>(n));
		while (!chunk.empty()) {
			auto sent = c.send(chunk);
			if (!sent) {
				err = sent.error();
				break;
			}
			chunk = chunk.subspan(*sent);
			done += *sent;
		}
	}
	off_t end = pos + static_cast<off_t>(done);
	if (offset)
		*offset = end;
	else
		(void)::lseek(in_fd, end, SEEK_SET);
	if (done == 0 && err)
		return std::unexpected(err);
	return done;
}

result<void> connection::key_update(bool request_peer)
{
	if (auto f = s_->failure())
		return std::unexpected(*f);
	if (s_->info.version != tls_version::tls13)
		return fail(errc::invalid_argument);
	if (s_->ssl) {
		bool scheduled = false;
		int e = s_->ssl_run(0, [&](SSL *ssl) {
			if (!scheduled) {
				if (SSL_key_update(ssl, request_peer ? SSL_KEY_UPDATE_REQUESTED
								     : SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
					return 0;
				scheduled = true;
			}
			return SSL_do_handshake(ssl);
		});
		if (e != SSL_ERROR_NONE)
			return fail(detail::openssl_error(errc::handshake_failed));
		return {};
	}
	/* send_key_update() says key_update_unsupported where the socket cannot rekey */
	std::lock_guard lock(s_->tx_mutex);
	if (s_->sent_close)
		return fail(errc::connection_closed);
	auto r = s_->send_key_update(request_peer, 0);
	if (r)
		s_->record_closed();
	return r;
}

result<void> connection::shutdown()
{
	/* after a fatal alert nothing more is sent (RFC 8446 §6.2), close_notify neither */
	if (auto f = s_->failure())
		return std::unexpected(*f);
	/* closed only once close_notify is out: a failed try (EAGAIN) may be retried */
	if (s_->ssl) {
		int e = s_->ssl_run(0, [&](SSL *ssl) {
			if (s_->sent_close)
				return 1;
			/* 0: ours is sent, the peer's not read yet */
			if (SSL_shutdown(ssl) < 0)
				return -1;
			s_->sent_close = true;
			return 1;
		});
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return fail(detail::errno_error(EAGAIN));
		if (e != SSL_ERROR_NONE)
			return fail(detail::openssl_error(errc::connection_closed));
		return {};
	}
	std::lock_guard lock(s_->tx_mutex);
	if (s_->sent_close)
		return {};
	/*
	 * close_notify is sent once all its bytes are: a part of it breaks the
	 * stream. kTLS closes a record held open before it writes the alert's.
	 */
	if (auto r = send_alert(s_->fd, alert_warning, alert_close_notify); !r)
		return s_->fatal(r.error());
	s_->sent_close = true;
	s_->record_closed();
	return {};
}

/* ---- send coalescing ---------------------------------------------------- */

result<void> connection::set_coalescing(std::optional<coalescing> mode)
{
	using namespace std::chrono;
	if (mode && (mode->max_delay < microseconds(1) || mode->max_delay > seconds(1)))
		return fail(errc::invalid_argument);
	if (auto f = s_->failure())
		return std::unexpected(*f);
	/* the userspace fallback writes each send() at once: nothing to hold */
	if (s_->ssl)
		return {};
	if (mode && mode->timer_thread) {
		if (auto e = detail::start_flush_timer())
			return std::unexpected(e);
	}
	std::lock_guard tx(s_->tx_mutex);
	auto &hold = s_->hold;
	std::lock_guard lock(hold->m);
	if (!mode) {
		hold->enabled.store(false, std::memory_order_release);
		hold->timer = false;
		if (auto e = hold->close_locked())
			return s_->fatal(e);
		return {};
	}
	hold->fd = s_->fd;
	hold->tx = &s_->tx_mutex;
	hold->max_delay = duration_cast<detail::steady::duration>(mode->max_delay);
	hold->timer = mode->timer_thread;
	if (hold->open)
		detail::held_record::note_open(hold, hold->last);
	hold->enabled.store(true, std::memory_order_release);
	return {};
}

result<void> connection::flush()
{
	if (auto f = s_->failure())
		return std::unexpected(*f);
	if (s_->ssl)
		return {};
	std::lock_guard tx(s_->tx_mutex);
	/* close_notify closed the last record */
	if (s_->sent_close)
		return {};
	std::lock_guard lock(s_->hold->m);
	/* also a record the application's own MSG_MORE left open */
	s_->hold->open = false;
	if (auto e = detail::close_open_record(s_->fd))
		return s_->fatal(e);
	return {};
}

std::optional<std::chrono::steady_clock::time_point> connection::flush_deadline() const
{
	auto &hold = s_->hold;
	if (!hold->enabled.load(std::memory_order_acquire))
		return std::nullopt;
	std::lock_guard lock(hold->m);
	if (!hold->open)
		return std::nullopt;
	return hold->deadline();
}

result<void> connection::flush_due()
{
	if (auto f = s_->failure())
		return std::unexpected(*f);
	if (!s_->hold->enabled.load(std::memory_order_acquire))
		return {};
	std::lock_guard tx(s_->tx_mutex);
	std::lock_guard lock(s_->hold->m);
	if (!s_->hold->open || detail::steady::now() < s_->hold->deadline())
		return {};
	if (auto e = s_->hold->close_locked())
		return s_->fatal(e);
	return {};
}

/* ---- /proc/crypto ------------------------------------------------------- */

result<std::string> kernel_aead_driver(cipher c)
{
	std::ifstream f("/proc/crypto");
	if (!f)
		return fail(detail::errno_error(ENOENT));
	std::string want(cipher_kernel_name(c)), best;
	int best_prio = -1;
	std::map<std::string, std::string> cur;
	auto flush = [&] {
		if (cur["name"] == want && cur["type"] == "aead" &&
		    cur["internal"] != "yes" && cur["selftest"] != "unknown") {
			int prio = std::atoi(cur["priority"].c_str());
			if (prio > best_prio) {
				best_prio = prio;
				best = cur["driver"];
			}
		}
		cur.clear();
	};
	for (std::string line; std::getline(f, line);) {
		if (line.empty()) {
			flush();
			continue;
		}
		auto colon = line.find(':');
		if (colon == line.npos)
			continue;
		auto key = line.substr(0, line.find_last_not_of(' ', colon - 1) + 1);
		auto val = line.substr(std::min(line.size(), colon + 2));
		cur[key] = val;
	}
	flush();
	if (best.empty())
		return fail(detail::errno_error(ENOENT));
	return best;
}

} // namespace ktlsaccel

// SPDX-License-Identifier: MIT
//
// The C API: thin wrappers that turn std::error_code into -errno and keep
// a message for ktlsaccel_last_error(). Nothing here lets an exception out.
#include <ktlsaccel/ktlsaccel.h>

#include "internal.hpp"

#include <cstring>
#include <string>
#include <string_view>

#ifdef KTLSACCEL_HAVE_MBEDTLS
#include <ktlsaccel/ktlsaccel_mbedtls.h>
#include <ktlsaccel/mbedtls.hpp>
#endif

struct ktlsaccel_conn {
	ktlsaccel::connection conn;
};

struct ktlsaccel_ctx {
	ktlsaccel::context ctx;
};

#ifdef KTLSACCEL_HAVE_MBEDTLS
struct ktlsaccel_mbedtls_ctx {
	ktlsaccel::mbedtls::context ctx;
};
#endif

namespace {

thread_local std::string last_error = "no error";

int set_error(const std::error_code &ec) noexcept
{
	try {
		last_error = ec.message();
	} catch (...) {
		last_error.clear();
	}
	int e = ktlsaccel::error_to_errno(ec);
	return -(e > 0 ? e : EPROTO);
}

template <typename F>
auto guarded(F &&f) noexcept -> decltype(f())
{
	try {
		return f();
	} catch (const std::bad_alloc &) {
		last_error = "out of memory";
		return -ENOMEM;
	} catch (...) {
		last_error = "internal error";
		return -EPROTO;
	}
}

/*
 * Checked before any I/O: a NULL buffer would reach the kernel as EFAULT,
 * which the connection would keep as its fatal error.
 */
bool bad_args(const ktlsaccel_conn *conn, const void *buf, size_t len) noexcept
{
	return !conn || (!buf && len > 0);
}

int invalid() noexcept
{
	return set_error(make_error_code(ktlsaccel::errc::invalid_argument));
}

/* A call on conn that gives result<void>: 0 or -errno. */
template <typename F>
int conn_call(ktlsaccel_conn *conn, F &&f) noexcept
{
	return guarded([&]() -> int {
		if (!conn)
			return invalid();
		auto r = f(conn->conn);
		return r ? 0 : set_error(r.error());
	});
}

} // namespace

extern "C" {

int ktlsaccel_prepare_ssl(SSL *ssl)
{
	return guarded([&]() -> int {
		auto r = ktlsaccel::ssl_prepare(ssl);
		return r ? 0 : set_error(r.error());
	});
}

int ktlsaccel_prepare_ssl_ctx(SSL_CTX *ctx)
{
	return guarded([&]() -> int {
		auto r = ktlsaccel::ssl_ctx_prepare(ctx);
		return r ? 0 : set_error(r.error());
	});
}

int ktlsaccel_offload_ssl(SSL *ssl, struct ktlsaccel_conn **connp)
{
	return guarded([&]() -> int {
		if (!connp)
			return set_error(make_error_code(ktlsaccel::errc::invalid_argument));
		*connp = nullptr;
		auto c = ktlsaccel::connection::offload(ssl);
		if (!c)
			return set_error(c.error());
		*connp = new ktlsaccel_conn{std::move(*c)};
		return 0;
	});
}

ssize_t ktlsaccel_send(struct ktlsaccel_conn *conn, const void *buf, size_t len, int flags)
{
	return guarded([&]() -> ssize_t {
		if (bad_args(conn, buf, len))
			return invalid();
		auto r = conn->conn.send(std::span(static_cast<const std::byte *>(buf), len), flags);
		return r ? static_cast<ssize_t>(*r) : set_error(r.error());
	});
}

ssize_t ktlsaccel_recv(struct ktlsaccel_conn *conn, void *buf, size_t len, int flags)
{
	return guarded([&]() -> ssize_t {
		if (bad_args(conn, buf, len))
			return invalid();
		auto r = conn->conn.recv(std::span(static_cast<std::byte *>(buf), len), flags);
		return r ? static_cast<ssize_t>(*r) : set_error(r.error());
	});
}

ssize_t ktlsaccel_sendfile(struct ktlsaccel_conn *conn, int in_fd, off_t *offset, size_t count)
{
	return guarded([&]() -> ssize_t {
		if (!conn)
			return invalid();
		auto r = conn->conn.sendfile(in_fd, offset, count);
		return r ? static_cast<ssize_t>(*r) : set_error(r.error());
	});
}

int ktlsaccel_key_update(struct ktlsaccel_conn *conn, int request_peer)
{
	return conn_call(conn, [&](auto &c) { return c.key_update(request_peer != 0); });
}

int ktlsaccel_set_coalescing(struct ktlsaccel_conn *conn, unsigned int max_delay_us,
			     unsigned int flags)
{
	if (flags & ~KTLSACCEL_COALESCE_NO_THREAD)
		return invalid();
	std::optional<ktlsaccel::coalescing> mode;
	if (max_delay_us > 0)
		mode = ktlsaccel::coalescing{
			.max_delay = std::chrono::microseconds(max_delay_us),
			.timer_thread = !(flags & KTLSACCEL_COALESCE_NO_THREAD),
		};
	return conn_call(conn, [&](auto &c) { return c.set_coalescing(mode); });
}

int ktlsaccel_flush(struct ktlsaccel_conn *conn)
{
	return conn_call(conn, [](auto &c) { return c.flush(); });
}

int ktlsaccel_flush_deadline(const struct ktlsaccel_conn *conn, struct timespec *deadline)
{
	return guarded([&]() -> int {
		if (!conn || !deadline)
			return invalid();
		auto d = conn->conn.flush_deadline();
		if (!d)
			return 0;
		/* libstdc++'s steady_clock is CLOCK_MONOTONIC */
		auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d->time_since_epoch());
		deadline->tv_sec = static_cast<time_t>(ns.count() / 1000000000);
		deadline->tv_nsec = static_cast<long>(ns.count() % 1000000000);
		return 1;
	});
}

int ktlsaccel_flush_due(struct ktlsaccel_conn *conn)
{
	return conn_call(conn, [](auto &c) { return c.flush_due(); });
}

int ktlsaccel_shutdown(struct ktlsaccel_conn *conn)
{
	return conn_call(conn, [](auto &c) { return c.shutdown(); });
}

} // extern "C"

namespace {

/* ktlsaccel_options -> ktlsaccel::options; 0 or -EINVAL (the error set) */
int to_options(const struct ktlsaccel_options *opts, size_t size, ktlsaccel::options &cpp)
{
	/* an older caller's struct ends early: the rest is zero */
	struct ktlsaccel_options o = {};
	if (!opts || size == 0 || size > sizeof(o))
		return invalid();
	std::memcpy(&o, opts, size);
	if (o.version && o.version != 0x0303 && o.version != 0x0304)
		return invalid();
	cpp.role = o.server ? ktlsaccel::role::server : ktlsaccel::role::client;
	cpp.server_name = o.server_name ? o.server_name : "";
	cpp.ca_file = o.ca_file ? o.ca_file : "";
	cpp.cert_file = o.cert_file ? o.cert_file : "";
	cpp.key_file = o.key_file ? o.key_file : "";
	cpp.verify_peer = !o.no_verify;
	for (std::string_view a = o.alpn ? o.alpn : ""; !a.empty();) {
		auto comma = a.find(',');
		cpp.alpn.emplace_back(a.substr(0, comma));
		a = comma == a.npos ? std::string_view() : a.substr(comma + 1);
		/* "h2," names an empty protocol: make_context() refuses it */
		if (comma != std::string_view::npos && a.empty())
			cpp.alpn.emplace_back();
	}
	if (o.version)
		cpp.version = static_cast<ktlsaccel::tls_version>(o.version);
	/* zeroed options keep the safe default; no limit only when asked */
	if (o.handshake_timeout_ms == KTLSACCEL_NO_TIMEOUT)
		cpp.handshake_timeout = std::chrono::milliseconds(0);
	else if (o.handshake_timeout_ms)
		cpp.handshake_timeout = std::chrono::milliseconds(o.handshake_timeout_ms);
	cpp.allow_userspace_fallback = o.allow_userspace_fallback != 0;
	return 0;
}

/* ktlsaccel_ctx_new() and its Mbed TLS twin: Handle wraps what Context::create() made. */
template <class Handle, class Context>
int new_context(const struct ktlsaccel_options *opts, size_t size, Handle **ctxp)
{
	return guarded([&]() -> int {
		if (!ctxp)
			return invalid();
		*ctxp = nullptr;
		ktlsaccel::options cpp;
		if (int e = to_options(opts, size, cpp))
			return e;
		auto c = Context::create(cpp);
		if (!c)
			return set_error(c.error());
		*ctxp = new Handle{std::move(*c)};
		return 0;
	});
}

/* ktlsaccel_handshake() and its Mbed TLS twin: run(ctx's context, name) makes the connection. */
template <class Handle, class Run>
int handshake_with(Handle *ctx, const char *server_name, struct ktlsaccel_conn **connp, Run run)
{
	return guarded([&]() -> int {
		if (!connp)
			return invalid();
		*connp = nullptr;
		if (!ctx)
			return invalid();
		auto c = run(ctx->ctx, std::string_view(server_name ? server_name : ""));
		if (!c)
			return set_error(c.error());
		*connp = new ktlsaccel_conn{std::move(*c)};
		return 0;
	});
}

} // namespace

extern "C" {

int ktlsaccel_ctx_new(const struct ktlsaccel_options *opts, size_t size,
		      struct ktlsaccel_ctx **ctxp)
{
	return new_context<ktlsaccel_ctx, ktlsaccel::context>(opts, size, ctxp);
}

void ktlsaccel_ctx_free(struct ktlsaccel_ctx *ctx)
{
	delete ctx;
}

SSL_CTX *ktlsaccel_ctx_ssl_ctx(struct ktlsaccel_ctx *ctx)
{
	return ctx ? ctx->ctx.native_handle() : nullptr;
}

int ktlsaccel_handshake(struct ktlsaccel_ctx *ctx, int fd, const char *server_name,
			struct ktlsaccel_conn **connp)
{
	return handshake_with(ctx, server_name, connp, [fd](const auto &c, std::string_view name) {
		return ktlsaccel::connection::handshake(fd, c, name);
	});
}

int ktlsaccel_conn_info(const struct ktlsaccel_conn *conn, struct ktlsaccel_info *info,
			size_t size)
{
	if (!conn || !info || size == 0 || size > sizeof(ktlsaccel_info))
		return invalid();
	const auto &i = conn->conn.info();
	ktlsaccel_info out = {};
	out.version = static_cast<unsigned int>(i.version);
	out.cipher_suite = i.cipher_suite.c_str();
	out.alpn = i.alpn.empty() ? nullptr : i.alpn.c_str();
	out.kernel_offload = i.kernel_offload;
	out.resumed = i.resumed;
	std::memcpy(info, &out, size);
	return 0;
}

ssize_t ktlsaccel_conn_pending(const struct ktlsaccel_conn *conn)
{
	if (!conn)
		return invalid();
	return static_cast<ssize_t>(conn->conn.pending());
}

int ktlsaccel_conn_fd(const struct ktlsaccel_conn *conn)
{
	if (!conn)
		return -EINVAL;
	return conn->conn.fd();
}

const char *ktlsaccel_conn_server_name(const struct ktlsaccel_conn *conn)
{
	if (!conn || conn->conn.info().server_name.empty())
		return nullptr;
	return conn->conn.info().server_name.c_str();
}

const unsigned char *ktlsaccel_conn_peer_certificate(const struct ktlsaccel_conn *conn,
						     size_t *len)
{
	const auto *der = conn ? &conn->conn.info().peer_certificate : nullptr;
	if (len)
		*len = der ? der->size() : 0;
	return der && !der->empty() ? der->data() : nullptr;
}

const char *ktlsaccel_conn_peer_subject(const struct ktlsaccel_conn *conn)
{
	if (!conn || conn->conn.info().peer_subject.empty())
		return nullptr;
	return conn->conn.info().peer_subject.c_str();
}

void ktlsaccel_conn_free(struct ktlsaccel_conn *conn)
{
	delete conn;
}

#ifdef KTLSACCEL_HAVE_MBEDTLS
int ktlsaccel_mbedtls_prepare(mbedtls_ssl_config *conf)
{
	return guarded([&]() -> int {
		auto r = ktlsaccel::mbedtls::prepare(conf);
		return r ? 0 : set_error(r.error());
	});
}

int ktlsaccel_mbedtls_prepare_ssl(mbedtls_ssl_context *ssl)
{
	return guarded([&]() -> int {
		auto r = ktlsaccel::mbedtls::prepare(ssl);
		return r ? 0 : set_error(r.error());
	});
}

int ktlsaccel_mbedtls_ctx_new(const struct ktlsaccel_options *opts, size_t size,
			      struct ktlsaccel_mbedtls_ctx **ctxp)
{
	return new_context<ktlsaccel_mbedtls_ctx, ktlsaccel::mbedtls::context>(opts, size, ctxp);
}

void ktlsaccel_mbedtls_ctx_free(struct ktlsaccel_mbedtls_ctx *ctx)
{
	delete ctx;
}

int ktlsaccel_mbedtls_handshake(struct ktlsaccel_mbedtls_ctx *ctx, int fd, const char *server_name,
				struct ktlsaccel_conn **connp)
{
	return handshake_with(ctx, server_name, connp, [fd](const auto &c, std::string_view name) {
		return ktlsaccel::mbedtls::handshake(fd, c, name);
	});
}

int ktlsaccel_mbedtls_offload(mbedtls_ssl_context *ssl, int fd, struct ktlsaccel_conn **connp)
{
	return guarded([&]() -> int {
		if (!connp)
			return set_error(make_error_code(ktlsaccel::errc::invalid_argument));
		*connp = nullptr;
		auto c = ktlsaccel::mbedtls::offload(ssl, fd);
		if (!c)
			return set_error(c.error());
		*connp = new ktlsaccel_conn{std::move(*c)};
		return 0;
	});
}
#endif

const char *ktlsaccel_last_error(void)
{
	return last_error.c_str();
}

} // extern "C"

// SPDX-License-Identifier: MIT
//
// libktlsaccel: TLS handshake in userspace, records in the kernel (kTLS).
//
//   auto conn = ktlsaccel::connection::handshake(fd, {.server_name = "example.org"});
//   if (!conn) { fprintf(stderr, "%s\n", conn.error().message().c_str()); ... }
//   conn->send(data);            // encrypted by the kernel
//   conn->recv(buffer);          // 0 = the peer closed cleanly (close_notify)
//   conn->shutdown();            // sends close_notify
//
// A server (or a client that connects often) makes one context at start-up
// and shares it: certificates are parsed once and sessions are resumed.
//
//   auto ctx = ktlsaccel::context::create({.role = ktlsaccel::role::server,
//                                          .cert_file = "c.pem", .key_file = "k.pem",
//                                          .verify_peer = false});
//   auto conn = ktlsaccel::connection::handshake(fd, *ctx);
//
// An application that runs its own OpenSSL handshake calls ssl_prepare()
// on its SSL before the handshake and ssl_offload() after it.
//
// A connection never owns the socket: close it yourself after the
// connection is gone. Objects are move-only and not thread-safe; one
// thread may send while another receives. Nothing raises SIGPIPE except
// sendfile(), like sendfile(2): ignore SIGPIPE in programs that use it.
#pragma once
// Exported from the shared library; the library builds everything else
// hidden (-fvisibility=hidden).
#pragma GCC visibility push(default)

#include <ktlsaccel/error.hpp>
#include <ktlsaccel/keys.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace ktlsaccel {

namespace detail {
struct connection_access;
struct context_state;
}

// How connection::handshake() sets up OpenSSL. Verification of the peer's
// certificate (and of server_name by a client) is on by default.
struct options {
	ktlsaccel::role role = ktlsaccel::role::client;
	// Client: the name to send as SNI and to check the certificate against.
	// Required (errc::invalid_argument) while verify_peer is on: a chain
	// checked without a name accepts any certificate its CAs signed.
	std::string server_name;
	// Trust anchors; empty: OpenSSL's default paths.
	std::string ca_file;
	// Our certificate chain and key (PEM); required for a server.
	std::string cert_file;
	std::string key_file;
	// Verify the peer. A server with verify_peer asks for a client
	// certificate and requires one.
	bool verify_peer = true;
	// ALPN protocols in preference order ("h2", "http/1.1").
	std::vector<std::string> alpn;
	// Pin one version; unset: TLS 1.2 or 1.3, whichever the peer prefers.
	std::optional<tls_version> version;
	// OpenSSL cipher lists: TLS 1.2 (SSL_CTX_set_cipher_list) and TLS 1.3
	// (SSL_CTX_set_ciphersuites). Empty: the suites kTLS can take. Lists
	// given are narrowed to what kTLS can take (a version left with none
	// is disabled) unless allow_userspace_fallback is set.
	std::string cipher_list;
	std::string ciphersuites;
	// TLS 1.3 server: NewSessionTickets to send (OpenSSL's default is 2).
	std::optional<unsigned int> num_tickets;
	// When the kernel cannot take the connection (no kTLS, cipher not in
	// the kernel), keep it in userspace TLS instead of failing.
	bool allow_userspace_fallback = false;
	// The longest connection::handshake() may take, from its call to the
	// hand-over (default 60 s, as nginx's ssl_handshake_timeout; zero: no
	// limit). A peer that stays silent or trickles bytes then fails it
	// with errc::timeout instead of holding the thread forever. The
	// handshake waits for the socket in poll(), so the fd may be blocking
	// or not, and SO_RCVTIMEO does not apply to it.
	std::chrono::milliseconds handshake_timeout{60000};
};

struct connection_info {
	tls_version version = tls_version::tls13;
	cipher cipher_type = cipher::aes_128_gcm;
	std::string cipher_suite;	// IANA/OpenSSL name, "TLS_AES_128_GCM_SHA256"
	std::string alpn;		// negotiated protocol, or empty
	// true: records go through kTLS; false: userspace fallback, and
	// offload_error says why the kernel did not take it.
	bool kernel_offload = false;
	std::error_code offload_error;
	// The SNI host name: a server's, the one the client asked for (the
	// virtual host); a client's, the one it sent. Empty if none.
	std::string server_name;
	// The certificate the peer presented (DER), and its subject (RFC 2253,
	// "CN=example.org,O=Example"); empty if it sent none. Checked only as
	// far as verify_peer asked. Filled by both backends (Mbed TLS: when
	// built with MBEDTLS_SSL_KEEP_PEER_CERTIFICATE, as Debian's is).
	std::vector<std::uint8_t> peer_certificate;
	std::string peer_subject;
	// The handshake resumed an earlier session (TLS 1.2 session ID or
	// ticket, TLS 1.3 PSK from a ticket): see class context.
	bool resumed = false;
};

// What connection::handshake() shares between connections: one SSL_CTX
// built from options (certificates, keys and CAs parsed once, prepared with
// ssl_ctx_prepare()) and its sessions, so that handshakes resume:
//
//  - a server keeps OpenSSL's session cache (TLS 1.2 session IDs) and
//    issues stateless tickets (TLS 1.2 and 1.3) under keys of this context;
//  - a client keeps the newest resumable session per server name (the
//    handshake's server_name) and offers it to the next handshake with
//    that name. TLS 1.3 tickets arrive after the handshake, when the
//    kernel already has the records: recv() hands them to OpenSSL, so a
//    client that never calls recv() keeps no TLS 1.3 session. Tickets that
//    follow a KeyUpdate from the server are not kept.
//
// A context is a shared handle: copies use the same SSL_CTX and sessions.
// It is thread-safe (one context for every thread of a server); connections
// and handshakes keep what they need of it alive.
class context {
public:
	// errc::invalid_argument for a server without cert_file/key_file, a
	// bad ALPN name or a file OpenSSL cannot read (the message says which).
	// options.server_name is the default name of a client's handshakes.
	static result<context> create(const options &opts);

	// The SSL_CTX, to customise it beyond options (an SNI callback that
	// switches virtual hosts, session timeouts, OCSP, ...) before handshakes
	// use it; valid while the context lives. The library owns its keylog,
	// message, new-session and ALPN-select callbacks and the ex_data it set:
	// leave them. An SSL_CTX an SNI callback switches to needs
	// ssl_ctx_prepare() first.
	SSL_CTX *native_handle() const noexcept;
	const options &settings() const noexcept;
	// A client's cached sessions (one per server name); 0 for a server.
	std::size_t cached_sessions() const;

private:
	friend class connection;
	friend class handshake_state;
	// (the library's own: not exported)
	__attribute__((visibility("hidden")))
	explicit context(std::shared_ptr<detail::context_state> s) noexcept;
	std::shared_ptr<detail::context_state> s_;
};

// Send coalescing for small writes (connection::set_coalescing(); see
// README "Small writes"): send() keeps kTLS's record open (MSG_MORE), so
// that the records of many small writes are encrypted together, and the
// library closes it when the application calls flush(), recv(),
// shutdown() or key_update(), or goes quiet for max_delay. Request/
// response traffic gains nothing from it: after two records in a row
// that a recv() closed holding a single send(), the first send() after
// each recv() is written at once, and a second one before the next
// recv() (a burst) holds records again.
struct coalescing {
	// How long a record may stay open after the last send() that left
	// it open (1 µs to 1 s). A steady trickle of writes, each within
	// max_delay of the last, keeps it open until it fills (16 KiB).
	std::chrono::microseconds max_delay{1000};
	// true: a library thread (one per process, started with the first
	// connection that asks for it) closes records that went quiet.
	// false: nothing does unless the application calls flush_due() by
	// flush_deadline() (event loops with their own timers) or another
	// call of this connection; until then the data waits in the kernel.
	bool timer_thread = true;
};

class connection {
public:
	// Runs the handshake on the connected TCP socket fd (blocking or not:
	// it waits in poll(), up to options.handshake_timeout), then moves the
	// record layer into the kernel. Builds a context of its own for this
	// one connection: nothing is resumed.
	static result<connection> handshake(int fd, const options &opts);
	// The same with a shared context (resumption, certificates parsed
	// once). server_name: a client's name for this connection; empty: the
	// context's options.server_name. Sessions are cached under it.
	static result<connection> handshake(int fd, const context &ctx,
					    std::string_view server_name = {});

	// Takes over an SSL whose handshake has finished, after ssl_prepare()
	// was called on it before the handshake. The SSL and its socket stay
	// the caller's; do not use the SSL for I/O afterwards (SSL_free it).
	// Fails with errc::pending_input if OpenSSL holds undecrypted bytes
	// (turn read-ahead off), leaving the SSL usable. Once it succeeds, the
	// SSL counts as shut down (SSL_set_shutdown()), so that SSL_free()
	// leaves its session resumable: the kernel sends close_notify.
	static result<connection> offload(SSL *ssl);

	// For handshake backends: installs keys on the connected socket fd.
	static result<connection> install(int fd, session_keys keys);

	connection(connection &&) noexcept;
	connection &operator=(connection &&) noexcept;
	connection(const connection &) = delete;
	connection &operator=(const connection &) = delete;
	~connection();

	// Sends up to data.size() bytes; returns how many (like send(2); a
	// blocking socket sends all). flags: MSG_MORE (keep records in flight,
	// more follows), MSG_DONTWAIT, MSG_NOSIGNAL (always added). With
	// coalescing on, every send() holds the record open (MSG_MORE).
	result<std::size_t> send(std::span<const std::byte> data, int flags = 0);
	// Sends everything, retrying partial sends.
	result<void> send_all(std::span<const std::byte> data, int flags = 0);
	// Receives application data: > 0 bytes, or 0 once the peer sent
	// close_notify. Handshake records (TLS 1.3 NewSessionTicket) are
	// consumed, read through buffer: its bytes past the count returned
	// are unspecified. A fatal alert is an error in alert_category().
	// MSG_PEEK is refused (errc::invalid_argument): kTLS would hand a
	// peeked alert or post-handshake message back forever.
	result<std::size_t> recv(std::span<std::byte> buffer, int flags = 0);
	// Sends count bytes of in_fd from *offset (or its file position),
	// encrypted by the kernel (sendfile(2)); falls back to read+send in
	// userspace TLS. Returns bytes sent: fewer on a full non-blocking
	// socket, or when the socket failed after some went out (the next call
	// returns that error, which is fatal). An error about in_fd before any
	// byte went out leaves the connection usable.
	result<std::size_t> sendfile(int in_fd, off_t *offset, std::size_t count);
	// TLS 1.3 KeyUpdate of our keys (and the peer's, if request_peer).
	// errc::key_update_unsupported where the socket cannot rekey (before
	// Linux 6.14, or device offload), and then nothing is sent.
	result<void> key_update(bool request_peer = false);
	// Coalescing (see struct coalescing): on, or off with nullopt (the
	// open record is closed first). errc::invalid_argument for a
	// max_delay out of range. A connection in the userspace fallback
	// takes it and writes every send() at once as before.
	result<void> set_coalescing(std::optional<coalescing> mode);
	// Closes the record send(MSG_MORE) or coalescing left open, so that
	// the kernel encrypts and sends it; works without coalescing too.
	// Never waits for socket space: a closed record the socket has no
	// room for yet goes out as room frees, as after any send().
	result<void> flush();
	// Coalescing: the time by which flush_due() must run to keep the
	// max_delay promise; nullopt while no record is held open.
	std::optional<std::chrono::steady_clock::time_point> flush_deadline() const;
	// Closes the open record if its deadline passed; otherwise nothing.
	result<void> flush_due();

	// Sends close_notify. The socket stays open for reading the peer's.
	// A failed try (EAGAIN) is not remembered: call it again.
	result<void> shutdown();

	// Plaintext bytes recv() returns without reading the socket: what
	// OpenSSL had decrypted before the hand-over (or holds, in the
	// userspace fallback). epoll/poll do not see them: an event loop must
	// recv() until pending() is 0 before it waits for EPOLLIN, or a
	// request that came with the handshake's last flight waits forever.
	std::size_t pending() const noexcept;

	int fd() const noexcept;
	const connection_info &info() const noexcept;

private:
	friend struct detail::connection_access;
	friend class handshake_state;
	struct state;
	__attribute__((visibility("hidden")))
	explicit connection(std::unique_ptr<state> s) noexcept;
	std::unique_ptr<state> s_;
};

// A handshake driven by an event loop, one step at a time on a non-blocking
// (or blocking) socket: step() never waits, and says what the socket must
// become before the next step() makes progress.
//
//   auto hs = ktlsaccel::handshake_state::start(fd, ctx);
//   // on each readiness event (and at start):
//   auto w = hs->step();
//   if (!w) ...failed...
//   else if (*w == want::read)  wait for EPOLLIN
//   else if (*w == want::write) wait for EPOLLOUT
//   else { auto conn = hs->finish(); ... drain conn->pending() ... }
//
// options.handshake_timeout does not apply: the loop's own timer does
// (drop the handshake_state when it fires).
class handshake_state {
public:
	enum class want { read, write, done };

	static result<handshake_state> start(int fd, const context &ctx,
					     std::string_view server_name = {});
	// Runs the handshake as far as the socket allows. done: call finish().
	result<want> step();
	// Once step() said done: moves the records into the kernel (as
	// connection::handshake() does). Call it once.
	result<connection> finish();

	handshake_state(handshake_state &&) noexcept;
	handshake_state &operator=(handshake_state &&) noexcept;
	~handshake_state();

private:
	struct impl;
	explicit handshake_state(std::unique_ptr<impl> i) noexcept;
	std::unique_ptr<impl> i_;
};

// Prepares an application's SSL for offload() later: records are counted
// (for sequence numbers), TLS 1.3 traffic secrets captured through the
// SSL_CTX's keylog callback (an existing one keeps being called), read-ahead
// and renegotiation turned off, OpenSSL's own kTLS disabled. Call it before
// SSL_connect/SSL_accept. It replaces the SSL's message callback. An SNI
// callback that switches the SSL's SSL_CTX (SSL_set_SSL_CTX(), virtual
// hosts) is followed: the new SSL_CTX's keylog callback is hooked during
// the handshake, before any secret exists. Prefer ssl_ctx_prepare() on
// every SSL_CTX the callback may switch to, at start-up: that hooks them
// before other threads use them.
result<void> ssl_prepare(SSL *ssl);

// The SSL_CTX half of ssl_prepare(), for every SSL_CTX an SSL may use
// (virtual hosts): its keylog callback captures TLS 1.3 secrets (chained
// to an existing one), and read-ahead, renegotiation and OpenSSL's own
// kTLS are off for the SSLs made from it and for code that copies its
// options into an SSL. Call it before the SSL_CTX is shared between
// threads. ssl_prepare() is still needed on each SSL.
result<void> ssl_ctx_prepare(SSL_CTX *ctx);

// The keys offload() would install, without installing them (for a backend
// of your own, and for tests), from an SSL prepared by ssl_prepare() whose
// handshake finished: plaintext OpenSSL already decrypted is moved into
// keys.pending. Consumes the TLS 1.3 secrets captured for this SSL.
result<session_keys> ssl_export_keys(SSL *ssl);

// The crypto driver the kernel would pick for this cipher: the highest
// priority implementation of its cipher_kernel_name() in /proc/crypto
// ("generic-gcm-aesni"). The kernel does not say which one a socket uses;
// this is the one crypto_alloc_aead() returns for a new socket.
result<std::string> kernel_aead_driver(cipher c);

} // namespace ktlsaccel

#pragma GCC visibility pop

// SPDX-License-Identifier: MIT
//
// Private to libktlsaccel: shared between the connection, the OpenSSL
// handshake backend and the C API.
#pragma once

#include <ktlsaccel/ktlsaccel.hpp>

#include <openssl/ssl.h>

#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <vector>

// Not part of the ABI: kept out of the shared library's dynamic symbols.
#define KTLSACCEL_LOCAL __attribute__((visibility("hidden")))

namespace ktlsaccel::detail {

// The AEAD key of a suite, in bytes (16 or 32).
KTLSACCEL_LOCAL std::size_t key_len(cipher c) noexcept;

// The last OpenSSL error (a peer's alert by name, a system error, or the
// OpenSSL reason), or `fallback` when OpenSSL's queue is empty. Clears it.
KTLSACCEL_LOCAL std::error_code openssl_error(errc fallback);

// An ex_data slot of SSLs or SSL_CTXs (Kind: CRYPTO_EX_INDEX_SSL or
// CRYPTO_EX_INDEX_SSL_CTX) that holds a T *. Its index is made on first use,
// once for each (Kind, T, Owning): give every use a type of its own. An
// owning slot's T is deleted when OpenSSL frees the object. index() is -1
// when OpenSSL could not make one.
template <int Kind, class T, bool Owning = true>
struct ex_slot {
	static int index() noexcept
	{
		static const int i = CRYPTO_get_ex_new_index(Kind, 0, nullptr, nullptr, nullptr,
							     Owning ? free_one : nullptr);
		return i;
	}

private:
	static void free_one(void *, void *ptr, CRYPTO_EX_DATA *, int, long, void *)
	{
		delete static_cast<T *>(ptr);
	}
};
template <class T, bool Owning = true>
using ssl_slot = ex_slot<CRYPTO_EX_INDEX_SSL, T, Owning>;
template <class T, bool Owning = true>
using ssl_ctx_slot = ex_slot<CRYPTO_EX_INDEX_SSL_CTX, T, Owning>;

// info.peer_certificate and peer_subject from a DER certificate another
// handshake backend (Mbed TLS) received, described as OpenSSL's are.
KTLSACCEL_LOCAL void describe_peer_der(std::span<const std::uint8_t> der,
				       connection_info &info);

inline std::error_code errno_error(int e = errno)
{
	return {e, std::system_category()};
}

struct ssl_free_t {
	void operator()(SSL *s) const { SSL_free(s); }
};
struct ssl_ctx_free_t {
	void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
using ssl_ptr = std::unique_ptr<SSL, ssl_free_t>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free_t>;

// OpenSSL backend (openssl.cpp): the keys of a prepared SSL whose handshake
// finished. The plaintext it already decrypted stays in it until
// ssl_take_pending(), called once the kernel took the keys.
KTLSACCEL_LOCAL result<session_keys> ssl_export_keys(SSL *ssl);

// Appends what SSL_pending() holds to out (no socket I/O: read-ahead is off).
KTLSACCEL_LOCAL result<void> ssl_take_pending(SSL *ssl, std::vector<std::uint8_t> &out);

// Narrows ctx's TLS 1.2 list and TLS 1.3 suites to those kTLS can take;
// a version left with none is disabled. errc::cipher_unsupported if none.
KTLSACCEL_LOCAL result<void> ssl_ctx_keep_ktls_suites(SSL_CTX *ctx);

// Attaches the socket to ssl through a BIO that never raises SIGPIPE;
// nonblocking: one that never blocks either (MSG_DONTWAIT), whatever the
// socket's mode. Swapping BIOs after the handshake loses nothing: with
// read-ahead off, OpenSSL buffers records in the SSL, not in the BIO.
KTLSACCEL_LOCAL bool ssl_set_socket(SSL *ssl, int fd, bool nonblocking = false);

// For the backends: the plaintext a connection's recv() returns first,
// filled once the kernel holds the keys; and what info() says, for what
// install() cannot know (server name, resumption).
struct KTLSACCEL_LOCAL connection_access {
	static std::vector<std::uint8_t> &pending(connection &c);
	static connection_info &info(connection &c);
};

// One sendmsg() of data as a record of the given type (kTLS's
// TLS_SET_RECORD_TYPE); MSG_NOSIGNAL is added. Returns what sendmsg() does.
KTLSACCEL_LOCAL ssize_t send_typed(int fd, std::uint8_t type, std::span<const std::uint8_t> data,
				   int flags);

// Fills the names a SSL knows into info.
KTLSACCEL_LOCAL void ssl_describe(SSL *ssl, connection_info &info);

// The sequence number of the next record a prepared SSL would read.
KTLSACCEL_LOCAL std::uint64_t ssl_read_seq(const SSL *ssl);

struct ssl_session_free_t {
	void operator()(SSL_SESSION *s) const { SSL_SESSION_free(s); }
};
using ssl_session_ptr = std::unique_ptr<SSL_SESSION, ssl_session_free_t>;

/*
 * Before an SSL whose session is good is freed: SSL_free() of a connected
 * SSL that sent no close_notify marks its session not resumable (OpenSSL
 * takes it for a broken connection), and that SSL_SESSION is the one a
 * cache holds. After a hand-over the SSL never sends close_notify: the
 * kernel does.
 */
KTLSACCEL_LOCAL void ssl_keep_session(SSL *ssl);

// ktlsaccel::context's insides (context.cpp).
struct KTLSACCEL_LOCAL context_state {
	options opts;
	ssl_ctx_ptr ctx;
	// the ALPN select callback's argument: lives as long as ctx
	std::vector<unsigned char> alpn_wire;
	// a client context of context::create(): keeps sessions
	bool keep_sessions = false;

	// The session to offer to server_name, or none.
	ssl_session_ptr session_for(const std::string &server_name);
	// Makes the sessions ssl gets cached under server_name.
	bool cache_under(SSL *ssl, const std::string &server_name);
	std::size_t cached() const;

	mutable std::mutex m;
	std::map<std::string, ssl_session_ptr> sessions;	// guarded by m
};

// Builds the SSL_CTX of opts. keep_sessions: see context_state.
KTLSACCEL_LOCAL result<std::shared_ptr<context_state>> make_context(const options &opts,
								    bool keep_sessions);

/*
 * A TLS 1.3 client's SSL kept after the hand-over, so that OpenSSL turns
 * the NewSessionTickets recv() reads from the kernel into sessions of its
 * context: each ticket is sealed again as the record OpenSSL would have
 * read (its keys and sequence number) and fed to it from memory.
 */
class KTLSACCEL_LOCAL ticket_sink {
public:
	static std::unique_ptr<ticket_sink> make(std::shared_ptr<context_state> ctx, ssl_ptr ssl,
						 cipher c, std::span<const std::uint8_t> rx_secret,
						 std::uint64_t seq);
	// message: one whole NewSessionTicket (header included). false: the
	// SSL refused it and the sink is useless.
	bool feed(std::span<const std::uint8_t> message);
	~ticket_sink();

private:
	std::shared_ptr<context_state> ctx_;
	ssl_ptr ssl_;
	cipher cipher_ = cipher::aes_128_gcm;
	secret key_, iv_;
	std::uint64_t seq_ = 0;
};

} // namespace ktlsaccel::detail

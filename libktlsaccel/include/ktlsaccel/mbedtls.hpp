// SPDX-License-Identifier: MIT
//
// The Mbed TLS handshake backend: Mbed TLS does the handshake (its
// certificates, PSKs and configuration), the kernel (kTLS) the records.
//
//   auto conn = ktlsaccel::mbedtls::handshake(fd, {.server_name = "example.org"});
//   conn->send_all(data);                // the same connection as with OpenSSL
//
// A server (or a client that connects often) shares one context, so that
// certificates are parsed once and TLS 1.2 sessions resume:
//
//   auto ctx = ktlsaccel::mbedtls::context::create({.role = ktlsaccel::role::server, ...});
//   auto conn = ktlsaccel::mbedtls::handshake(fd, *ctx);   // from any thread
//
// An application with its own mbedtls_ssl_context:
//
//   mbedtls_ssl_config_defaults(&conf, ...); ...           // its own set-up
//   ktlsaccel::mbedtls::prepare(&conf);                    // before the handshake
//   mbedtls_ssl_setup(&ssl, &conf);
//   ktlsaccel::mbedtls::prepare(&ssl);                     // Mbed TLS 3.x needs this one
//   mbedtls_ssl_set_bio(&ssl, &fd, ...); mbedtls_ssl_handshake(&ssl);
//   auto conn = ktlsaccel::mbedtls::offload(&ssl, fd);    // after it
//   mbedtls_ssl_free(&ssl);                                // wipes its copy of the keys
//
// Calling both prepare() overloads is right on every Mbed TLS version.
// TLS 1.2 with AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 or AES-128-CCM
// (16-byte tag) goes to the kernel; any other negotiated suite is
// errc::cipher_unsupported. TLS 1.3 needs Mbed TLS 3.x (see docs/mbedtls.md).
#pragma once
// Exported from the shared library; the library builds everything else
// hidden (-fvisibility=hidden).
#pragma GCC visibility push(default)

#include <ktlsaccel/ktlsaccel.hpp>

#include <mbedtls/ssl.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <system_error>

namespace ktlsaccel::detail {
struct mbedtls_context_state;
}

namespace ktlsaccel::mbedtls {

// Mbed TLS error codes (the negative MBEDTLS_ERR_* values), with
// mbedtls_strerror()'s text; certificate problems carry the verification
// flags' description; a cert_file or ca_file in which some certificates
// could not be parsed says how many (codes of the library's own, below
// -0xffff).
const std::error_category &category() noexcept;

// What handshake() shares between connections, as ktlsaccel::context does
// for OpenSSL: one mbedtls_ssl_config built from options (certificates,
// key and CAs parsed once, one RNG) and the sessions that let handshakes
// resume (TLS 1.2; see docs/mbedtls.md):
//  - a server keeps Mbed TLS's session cache (session IDs) and issues
//    session tickets (AES-256-GCM keys of this context, made at create());
//  - a client keeps the newest resumable session per server name and
//    offers it to the next handshake with that name.
// Sessions live 2 hours. A context is a shared handle: copies use the same
// config and sessions. It is thread-safe (the RNG, cache and ticket keys
// are locked; the config is read-only once built).
class context {
public:
	// The options of handshake() below. errc::invalid_argument for a
	// server without cert_file/key_file, a bad ALPN name or a negative
	// handshake_timeout; a file Mbed TLS cannot read or a key that does
	// not match the certificate is an error of category() saying so.
	static result<context> create(const options &opts);

	const options &settings() const noexcept;
	// A client's cached sessions (one per server name); 0 for a server.
	std::size_t cached_sessions() const;

private:
	friend result<connection> handshake(int fd, const context &ctx,
					    std::string_view server_name);
	__attribute__((visibility("hidden")))
	explicit context(std::shared_ptr<ktlsaccel::detail::mbedtls_context_state> s) noexcept;
	std::shared_ptr<ktlsaccel::detail::mbedtls_context_state> s_;
};

// Runs the handshake on the connected TCP socket fd with Mbed TLS, then
// moves the record layer into the kernel. The fd may be blocking or not:
// the handshake waits for it in poll(), up to options.handshake_timeout
// (errc::timeout). server_name: a client's name for this connection
// (SNI, the certificate check, the session cache's key); empty: the
// context's options.server_name. info().resumed says whether an earlier
// session was resumed (Mbed TLS 2.x; on 3.x it stays false);
// info().server_name is the SNI name.
result<connection> handshake(int fd, const context &ctx, std::string_view server_name = {});

// The same with a context of its own for this one connection (nothing is
// resumed). The options are those of connection::handshake(), except:
//  - cipher_list: Mbed TLS suite names ("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256")
//    separated by ':' or ','; empty: every forward-secret suite kTLS takes;
//  - ciphersuites, num_tickets: unused; version tls13 needs Mbed TLS 3.x;
//  - allow_userspace_fallback is not offered: the error says why.
result<connection> handshake(int fd, const options &opts);

// Before the handshakes that use an application's config: turns
// renegotiation off (kTLS cannot renegotiate). On Mbed TLS 2.x that is
// all: the keys are read from the context after its handshake, and the
// application's own key-export callbacks are left alone. On 3.x the hook
// is per context: call prepare(ssl) too.
result<void> prepare(mbedtls_ssl_config *conf);
// After mbedtls_ssl_setup(), before the handshake: on Mbed TLS 3.x
// registers the per-context hook (mbedtls_ssl_set_export_keys_cb); on 2.x
// only checks that the handshake has not started.
result<void> prepare(mbedtls_ssl_context *ssl);

// After the handshake of a prepared context: installs its keys on fd (the
// socket the context's BIO uses). Plaintext Mbed TLS already decrypted is
// returned by the connection's first recv() calls; if it holds bytes it has
// not processed yet, errc::pending_input, and the context stays usable. A
// hand-over the kernel refuses leaves the plaintext in the context too.
// Afterwards do not use the context for I/O; mbedtls_ssl_free() it.
result<connection> offload(mbedtls_ssl_context *ssl, int fd);

// The keys offload() would install, without installing them (for a backend
// of your own, and for tests): plaintext already decrypted is moved into
// keys.pending. On 3.x it consumes what the hook captured for this context.
result<session_keys> export_keys(mbedtls_ssl_context *ssl);

} // namespace ktlsaccel::mbedtls

#pragma GCC visibility pop

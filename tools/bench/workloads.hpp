// SPDX-License-Identifier: MIT
//
// The measurements of ktlsaccel-bench, each one run of one cell of the
// matrix. They run in the guest; what is loaded in the kernel (nothing,
// ktlsaccel.ko, its model settings) is up to the caller.
#pragma once

#include <testsupport/ktls.hpp>

#include <ktlsaccel/keys.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ktlsaccel::bench {

enum class cipher { aes128gcm, chacha20 };
enum class tls { v12, v13 };

std::string to_string(cipher c);
std::string to_string(tls v);
// The library's names for them (what testsupport and libktlsaccel take).
ktlsaccel::cipher lib_cipher(cipher c);
tls_version lib_version(tls v);
// The crypto API name kTLS asks for ("gcm(aes)", ...).
std::string crypto_name(cipher c);

// Key material for setsockopt(SOL_TLS, TLS_TX/TLS_RX): testsupport's, which
// the VM tests use too. random_key: random key and IV, record sequence
// number 1.
using testsupport::raw_crypto_info;
raw_crypto_info random_key(cipher c, tls v);

// A self-signed ECDSA P-256 certificate for "localhost" (openssl(1)).
struct pki {
	std::filesystem::path cert, key;
};
pki make_pki(const std::filesystem::path &dir);

// Deterministic bytes to send (not secret, just not all zero).
std::vector<std::uint8_t> pattern(std::size_t n);

enum class tx_mode { plain, more, sendfile, lib_coalesced };
std::string to_string(tx_mode m);

// TX only: a kTLS sender writes `total` bytes of `data` in `write_size`
// writes; the receiver drains the raw TCP bytes (no decryption). Returns
// seconds from the first write until the receiver saw EOF.
double ktls_tx(const raw_crypto_info &k, const std::vector<std::uint8_t> &data,
	       std::size_t write_size, tx_mode mode, int file_fd);

// Through libktlsaccel with send coalescing on (issue 20): connection::
// install() with fresh AES-128-GCM TLS 1.2 keys, write_size send()s, one
// flush() at the end; the receiver drains raw TCP. Seconds.
double lib_tx_coalesced(const std::vector<std::uint8_t> &data, std::size_t write_size);

// Request/response through libktlsaccel: two connection::install()ed ends
// (AES-128-GCM TLS 1.2), the client sends `size` bytes and waits for the
// echo, `iterations` times after a warm-up; both ends with send coalescing
// on or off. The application's part of issue 20's promise: a recv() closes
// the record a send() left open, so coalescing adds no wait. Microseconds
// per round trip.
std::vector<double> lib_pingpong(std::size_t size, unsigned int iterations, bool coalesce);

// The wire bytes kTLS makes of `data` with key `k` (64 KiB writes, so
// full 16 KiB records with consecutive sequence numbers from 1).
std::vector<std::uint8_t> ktls_capture(const raw_crypto_info &k, const std::vector<std::uint8_t> &data);

// RX only: a raw sender replays `wire`; the receiver (TLS_RX with `k`)
// reads with `read_size` buffers and checks every byte against `data`.
double ktls_rx(const raw_crypto_info &k, const std::vector<std::uint8_t> &wire,
	       const std::vector<std::uint8_t> &data, std::size_t read_size);

// End to end with libktlsaccel: handshake, then client -> server.
double lib_e2e(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
	       std::size_t write_size);

// Userspace OpenSSL (no kTLS): the same three.
double ossl_tx(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
	       std::size_t write_size);
double ossl_rx(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
	       std::size_t read_size);
double ossl_e2e(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
		std::size_t write_size);

// Request/response over one kTLS connection (both directions in the
// kernel): round-trip times in microseconds, warm-up excluded.
std::vector<double> ktls_pingpong(cipher c, tls v, std::size_t size, unsigned int iterations);

// `conns` kTLS TX connections each sending `per_conn` bytes in 64 KiB
// writes from its own thread, one thread draining all receivers; seconds
// until every receiver saw EOF.
double ktls_many(cipher c, tls v, unsigned int conns, std::size_t per_conn);

// One thread encrypting 16 KiB records: the kernel's synchronous AEAD
// through AF_ALG (libkcapi), and OpenSSL's EVP in userspace. Bytes/s.
double afalg_rate(cipher c, std::size_t total);
double evp_rate(cipher c, std::size_t total);

} // namespace ktlsaccel::bench

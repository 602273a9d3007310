// SPDX-License-Identifier: MIT
//
// Raw kTLS without a handshake: a TCP loopback pair whose ends get key
// material made up here, one end TLS_TX and the other TLS_RX.
#pragma once

#include <testsupport/fd.hpp>

#include <ktlsaccel/keys.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include <linux/tls.h>

namespace ktlsaccel::testsupport {

// One direction's key material in the layout setsockopt(SOL_TLS, TLS_TX
// or TLS_RX) takes. Built here from linux/tls.h and not with the
// library's crypto_info: what tests the kernel (and measures it) must not
// depend on the library's key layer being right.
struct raw_crypto_info {
	union {
		struct tls_crypto_info base;
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_aes_gcm_256 gcm256;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
		struct tls12_crypto_info_aes_ccm_128 ccm128;
	};
	std::size_t size;	// of the member in use: what setsockopt() gets
};

// Sizes of the key, explicit IV and salt fields of the cipher's structure.
std::size_t key_size(cipher c);
std::size_t iv_size(cipher c);
std::size_t salt_size(cipher c);

// The given key, IV and salt (of the sizes above) and sequence number;
// throws std::invalid_argument for material of the wrong size.
raw_crypto_info make_crypto_info(cipher c, tls_version v, const std::vector<std::uint8_t> &key,
				 const std::vector<std::uint8_t> &iv,
				 const std::vector<std::uint8_t> &salt, std::uint64_t rec_seq);

// Random key, IV and salt; record sequence number 1 (as after a handshake).
raw_crypto_info random_crypto_info(cipher c, tls_version v);

// The key bytes inside info (the first field differs by cipher).
unsigned char *key_bytes(raw_crypto_info &info, std::size_t *len);

// n bytes from OpenSSL's RAND_bytes.
std::vector<std::uint8_t> random_bytes(std::size_t n);

// A connected TCP pair over 127.0.0.1 (throws std::system_error). Both
// ends time out after 120 s: a stuck peer fails one test or bench cell,
// not the whole guest run.
struct tcp_pair {
	unique_fd a, b;
};
tcp_pair tcp_loopback_pair();

// setsockopt(TCP_ULP "tls") then TLS_TX or TLS_RX; returns 0 or errno.
int ktls_install(int fd, int direction, const raw_crypto_info &info);

} // namespace ktlsaccel::testsupport

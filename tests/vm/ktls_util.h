/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for raw kTLS: a TCP loopback pair whose two ends get the same
 * key material, one as TLS_TX and the other as TLS_RX, with no handshake.
 * Used by the kTLS tests with and without ktlsaccel.ko loaded.
 */
#pragma once

#include "fd.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <linux/tls.h>

namespace ktlsaccel::vmtest {

enum class Cipher { aes_gcm_128, aes_gcm_256, chacha20_poly1305, aes_ccm_128 };
enum class TlsVersion { tls12, tls13 };

std::string to_string(Cipher c);
std::string to_string(TlsVersion v);
/* The crypto API name kTLS allocates for the cipher ("gcm(aes)", ...). */
std::string crypto_api_name(Cipher c);

/* Key material for one direction, in the layout setsockopt(TLS_TX/RX) takes. */
struct CryptoInfo {
	union {
		struct tls_crypto_info base;
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_aes_gcm_256 gcm256;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
		struct tls12_crypto_info_aes_ccm_128 ccm128;
	};
	std::size_t size;
};

/* The key bytes inside info (the first field differs by cipher). */
unsigned char *key_bytes(CryptoInfo &info, std::size_t *len);

/* Random key, IV, salt; record sequence number 1 (as after a handshake). */
CryptoInfo random_crypto_info(Cipher c, TlsVersion v);

/* Sizes of the key, explicit IV and salt fields of the cipher's crypto_info. */
std::size_t key_size(Cipher c);
std::size_t iv_size(Cipher c);
std::size_t salt_size(Cipher c);

/* The given key, IV and salt (of the sizes above) and sequence number. */
CryptoInfo make_crypto_info(Cipher c, TlsVersion v, const std::vector<std::uint8_t> &key,
			    const std::vector<std::uint8_t> &iv,
			    const std::vector<std::uint8_t> &salt, std::uint64_t rec_seq);

/* The ktlsaccel.ko driver that serves the cipher's algorithm. */
std::string module_driver(Cipher c);

/* A connected TCP pair over 127.0.0.1 (throws std::system_error). */
struct TcpPair {
	unique_fd a, b;
};
TcpPair tcp_loopback_pair();

/* setsockopt(TCP_ULP "tls") then TLS_TX or TLS_RX; returns 0 or errno. */
int ktls_install(int fd, int direction, const CryptoInfo &info);

/* Writes data on tx in chunks of `chunk` while a thread reads rx until
 * data.size() bytes arrived or an error; returns the bytes read and sets
 * *rx_errno to the errno of a failed recv() (0 when none failed). */
std::vector<std::uint8_t> ktls_transfer(int tx, int rx, const std::vector<std::uint8_t> &data,
					std::size_t chunk, int *rx_errno);

std::vector<std::uint8_t> random_bytes(std::size_t n);

/* /proc/net/tls_stat as name -> value. */
std::map<std::string, long long> tls_stat();

/* The driver /proc/crypto lists with the highest priority for cra_name. */
std::string crypto_selected_driver(const std::string &cra_name);

} // namespace ktlsaccel::vmtest

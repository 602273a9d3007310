// SPDX-License-Identifier: MIT
//
// The key layer of libktlsaccel: from TLS secrets to the kernel's
// tls12_crypto_info_* structures, and the session_keys a handshake backend
// hands to ktlsaccel::connection::install(). The OpenSSL backend in this
// library uses it; another TLS library (Mbed TLS, say) plugs in here.
#pragma once
// Exported from the shared library; the library builds everything else
// hidden (-fvisibility=hidden).
#pragma GCC visibility push(default)

#include <ktlsaccel/error.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct msghdr;

namespace ktlsaccel {

enum class tls_version : std::uint16_t {
	tls12 = 0x0303,
	tls13 = 0x0304,
};

// The AEAD ciphers that both TLS libraries and kTLS implement.
enum class cipher {
	aes_128_gcm,
	aes_256_gcm,
	chacha20_poly1305,
	aes_128_ccm,	// 16-byte tag only; the CCM_8 suites are not in kTLS
};

// "AES-128-GCM", ...
std::string_view cipher_name(cipher c) noexcept;
// The crypto API name kTLS allocates for it: "gcm(aes)", "ccm(aes)",
// "rfc7539(chacha20,poly1305)".
std::string_view cipher_kernel_name(cipher c) noexcept;
// "TLSv1.2" / "TLSv1.3"
std::string_view tls_version_name(tls_version v) noexcept;

enum class role { client, server };

// Key material wiped (OPENSSL_cleanse) when destroyed or moved from.
class secret {
public:
	secret() = default;
	explicit secret(std::span<const std::uint8_t> bytes);
	explicit secret(std::size_t size);
	secret(secret &&other) noexcept;
	secret &operator=(secret &&other) noexcept;
	secret(const secret &) = delete;
	secret &operator=(const secret &) = delete;
	~secret();

	std::uint8_t *data() noexcept { return bytes_.data(); }
	const std::uint8_t *data() const noexcept { return bytes_.data(); }
	std::size_t size() const noexcept { return bytes_.size(); }
	bool empty() const noexcept { return bytes_.empty(); }
	std::span<const std::uint8_t> span() const noexcept { return bytes_; }
	std::span<std::uint8_t> span() noexcept { return bytes_; }
	void clear() noexcept;

private:
	std::vector<std::uint8_t> bytes_;
};

// One direction's struct tls12_crypto_info_* (linux/tls.h), ready for
// setsockopt(SOL_TLS, TLS_TX or TLS_RX). Wiped when destroyed.
class crypto_info {
public:
	crypto_info() = default;
	crypto_info(tls_version v, cipher c);
	crypto_info(crypto_info &&other) noexcept;
	crypto_info &operator=(crypto_info &&other) noexcept;
	crypto_info(const crypto_info &) = delete;
	crypto_info &operator=(const crypto_info &) = delete;
	~crypto_info();

	tls_version version() const noexcept { return version_; }
	cipher cipher_type() const noexcept { return cipher_; }
	// The whole structure, as setsockopt() takes it.
	const void *data() const noexcept { return bytes_; }
	std::size_t size() const noexcept { return size_; }

	// Its fields (lengths per cipher, as in linux/tls.h).
	std::span<std::uint8_t> iv() noexcept;
	std::span<std::uint8_t> key() noexcept;
	std::span<std::uint8_t> salt() noexcept;
	std::span<std::uint8_t> rec_seq() noexcept;
	void set_rec_seq(std::uint64_t seq) noexcept;
	void wipe() noexcept;

private:
	tls_version version_ = tls_version::tls13;
	cipher cipher_ = cipher::aes_128_gcm;
	std::size_t size_ = 0;
	alignas(8) std::uint8_t bytes_[56] = {};
};

// RFC 8446 §7.1 HKDF-Expand-Label(secret, label, context, out.size()) with
// the "tls13 " prefix added here. digest: an OpenSSL digest name ("SHA256").
std::expected<void, std::error_code>
hkdf_expand_label(std::string_view digest, std::span<const std::uint8_t> secret,
		  std::string_view label, std::span<const std::uint8_t> context,
		  std::span<std::uint8_t> out);

// RFC 5246 §5 PRF(secret, label, seed) = P_<digest>(secret, label + seed).
std::expected<void, std::error_code>
tls12_prf(std::string_view digest, std::span<const std::uint8_t> secret,
	  std::string_view label, std::span<const std::uint8_t> seed,
	  std::span<std::uint8_t> out);

// The hash of the cipher suite's PRF/HKDF: "SHA384" for AES-256-GCM,
// "SHA256" for the others (true of every TLS 1.2 and 1.3 suite here).
std::string_view cipher_digest(cipher c) noexcept;

// TLS 1.3: the write key and IV of a traffic secret (RFC 8446 §7.3), as
// crypto_info whose next record has sequence number seq.
std::expected<crypto_info, std::error_code>
crypto_info_from_traffic_secret(cipher c, std::span<const std::uint8_t> traffic_secret,
				std::uint64_t seq);

// TLS 1.3: the next traffic secret after a KeyUpdate (RFC 8446 §7.2).
std::expected<secret, std::error_code>
traffic_secret_update(cipher c, std::span<const std::uint8_t> traffic_secret);

// TLS 1.2: bytes of key block an AEAD suite uses (RFC 5246 §6.3 with
// MAC keys of length 0; fixed IV 4 bytes for GCM/CCM, 12 for ChaCha20).
std::size_t tls12_key_block_size(cipher c) noexcept;

// TLS 1.2: the key block, PRF(master_secret, "key expansion",
// server_random + client_random).
std::expected<secret, std::error_code>
tls12_key_block(cipher c, std::span<const std::uint8_t> master_secret,
		std::span<const std::uint8_t> client_random,
		std::span<const std::uint8_t> server_random);

// TLS 1.2: crypto_info for the keys `writer` writes with (the client's or
// the server's half of the key block), next record sequence number seq.
std::expected<crypto_info, std::error_code>
crypto_info_from_key_block(cipher c, std::span<const std::uint8_t> key_block,
			   role writer, std::uint64_t seq);

// What a handshake backend hands to connection::install().
struct session_keys {
	tls_version version = tls_version::tls13;
	cipher cipher_type = cipher::aes_128_gcm;
	crypto_info tx;
	crypto_info rx;
	// TLS 1.3 only: the current traffic secrets, for KeyUpdate. install()
	// keeps them only where the socket can rekey, and wipes them otherwise.
	secret tx_secret;
	secret rx_secret;
	// Application data the backend already decrypted; recv() returns it first.
	std::vector<std::uint8_t> pending;
	// For connection::info(): the suite's name and the ALPN protocol, if any.
	std::string cipher_suite;
	std::string alpn;
	// Our side, if the backend knows it: only a server may send tickets
	// and HelloRequests, so a server refuses them. Unset: taken from
	// either side.
	std::optional<ktlsaccel::role> local_role;
};

// The record type (TLS ContentType) of a TLS_GET_RECORD_TYPE control
// message in a recvmsg() result, or -1 if there is none.
int record_type_from_cmsg(const msghdr &msg) noexcept;

// True when this kernel replaces kTLS keys in place (TLS 1.3 KeyUpdate),
// which Linux has done since 6.14: asked of the kernel once, on a loopback
// TCP connection (setting a TLS_TX key twice), not read from its version.
// A connection asks its own socket the same way when its keys go in.
bool kernel_supports_rekey() noexcept;

} // namespace ktlsaccel

#pragma GCC visibility pop

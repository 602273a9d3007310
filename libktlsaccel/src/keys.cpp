// SPDX-License-Identifier: MIT
//
// From TLS secrets to struct tls12_crypto_info_* (include/uapi/linux/tls.h).
#include <ktlsaccel/keys.hpp>

#include "internal.hpp"

#include <linux/tls.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ktlsaccel {

std::string_view cipher_name(cipher c) noexcept
{
	switch (c) {
	case cipher::aes_128_gcm: return "AES-128-GCM";
	case cipher::aes_256_gcm: return "AES-256-GCM";
	case cipher::chacha20_poly1305: return "ChaCha20-Poly1305";
	case cipher::aes_128_ccm: return "AES-128-CCM";
	}
	return "unknown";
}

std::string_view cipher_kernel_name(cipher c) noexcept
{
	switch (c) {
	case cipher::aes_128_gcm:
	case cipher::aes_256_gcm: return "gcm(aes)";
	case cipher::chacha20_poly1305: return "rfc7539(chacha20,poly1305)";
	case cipher::aes_128_ccm: return "ccm(aes)";
	}
	return "unknown";
}

std::string_view tls_version_name(tls_version v) noexcept
{
	return v == tls_version::tls12 ? "TLSv1.2" : "TLSv1.3";
}

std::string_view cipher_digest(cipher c) noexcept
{
	return c == cipher::aes_256_gcm ? "SHA384" : "SHA256";
}

/* ---- secret ------------------------------------------------------------- */

secret::secret(std::span<const std::uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
secret::secret(std::size_t size) : bytes_(size) {}
secret::secret(secret &&other) noexcept : bytes_(std::move(other.bytes_)) { other.clear(); }

secret &secret::operator=(secret &&other) noexcept
{
	if (this != &other) {
		clear();
		bytes_ = std::move(other.bytes_);
		other.clear();
	}
	return *this;
}

secret::~secret() { clear(); }

void secret::clear() noexcept
{
	if (!bytes_.empty())
		OPENSSL_cleanse(bytes_.data(), bytes_.size());
	bytes_.clear();
}

/* ---- crypto_info -------------------------------------------------------- */

namespace {

struct layout {
	std::uint16_t type;
	std::size_t size, iv, iv_len, key, key_len, salt, salt_len, seq;
};

#define KTLSACCEL_LAYOUT(st, id)                                                         \
	layout { id, sizeof(st), offsetof(st, iv), sizeof(st::iv), offsetof(st, key),    \
		 sizeof(st::key), offsetof(st, salt), sizeof(st::salt),                   \
		 offsetof(st, rec_seq) }

layout layout_of(cipher c)
{
	switch (c) {
	case cipher::aes_128_gcm:
		return KTLSACCEL_LAYOUT(tls12_crypto_info_aes_gcm_128, TLS_CIPHER_AES_GCM_128);
	case cipher::aes_256_gcm:
		return KTLSACCEL_LAYOUT(tls12_crypto_info_aes_gcm_256, TLS_CIPHER_AES_GCM_256);
	case cipher::aes_128_ccm:
		return KTLSACCEL_LAYOUT(tls12_crypto_info_aes_ccm_128, TLS_CIPHER_AES_CCM_128);
	case cipher::chacha20_poly1305:
		/* no salt: the whole 12-byte IV is in iv */
		return {TLS_CIPHER_CHACHA20_POLY1305,
			sizeof(tls12_crypto_info_chacha20_poly1305),
			offsetof(tls12_crypto_info_chacha20_poly1305, iv),
			TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE,
			offsetof(tls12_crypto_info_chacha20_poly1305, key),
			TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE,
			offsetof(tls12_crypto_info_chacha20_poly1305, rec_seq), 0,
			offsetof(tls12_crypto_info_chacha20_poly1305, rec_seq)};
	}
	return {};
}

#undef KTLSACCEL_LAYOUT

std::error_code openssl_error()
{
	return detail::openssl_error(errc::invalid_argument);
}

} // namespace

crypto_info::crypto_info(tls_version v, cipher c) : version_(v), cipher_(c)
{
	layout l = layout_of(c);
	static_assert(sizeof(tls12_crypto_info_aes_gcm_256) <= sizeof(bytes_));
	static_assert(sizeof(tls12_crypto_info_chacha20_poly1305) <= sizeof(bytes_));
	size_ = l.size;
	tls_crypto_info hdr{};
	hdr.version = static_cast<std::uint16_t>(v);
	hdr.cipher_type = l.type;
	std::memcpy(bytes_, &hdr, sizeof(hdr));
}

crypto_info::crypto_info(crypto_info &&o) noexcept
	: version_(o.version_), cipher_(o.cipher_), size_(o.size_)
{
	std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
	o.wipe();
}

crypto_info &crypto_info::operator=(crypto_info &&o) noexcept
{
	if (this != &o) {
		version_ = o.version_;
		cipher_ = o.cipher_;
		size_ = o.size_;
		std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
		o.wipe();
	}
	return *this;
}

crypto_info::~crypto_info() { wipe(); }

void crypto_info::wipe() noexcept
{
	OPENSSL_cleanse(bytes_, sizeof(bytes_));
	size_ = 0;
}

std::span<std::uint8_t> crypto_info::iv() noexcept
{
	layout l = layout_of(cipher_);
	return {bytes_ + l.iv, l.iv_len};
}

std::span<std::uint8_t> crypto_info::key() noexcept
{
	layout l = layout_of(cipher_);
	return {bytes_ + l.key, l.key_len};
}

std::span<std::uint8_t> crypto_info::salt() noexcept
{
	layout l = layout_of(cipher_);
	return {bytes_ + l.salt, l.salt_len};
}

std::span<std::uint8_t> crypto_info::rec_seq() noexcept
{
	layout l = layout_of(cipher_);
	return {bytes_ + l.seq, 8};
}

void crypto_info::set_rec_seq(std::uint64_t seq) noexcept
{
	auto s = rec_seq();
	for (int i = 7; i >= 0; i--, seq >>= 8)
		s[i] = static_cast<std::uint8_t>(seq);
}

/* ---- KDFs --------------------------------------------------------------- */

namespace {

struct kdf_ctx_free {
	void operator()(EVP_KDF_CTX *c) const { EVP_KDF_CTX_free(c); }
};
using kdf_ctx_ptr = std::unique_ptr<EVP_KDF_CTX, kdf_ctx_free>;

kdf_ctx_ptr kdf_new(const char *name)
{
	EVP_KDF *kdf = EVP_KDF_fetch(nullptr, name, nullptr);
	if (!kdf)
		return nullptr;
	kdf_ctx_ptr ctx(EVP_KDF_CTX_new(kdf));
	EVP_KDF_free(kdf);
	return ctx;
}

} // namespace

std::expected<void, std::error_code>
hkdf_expand_label(std::string_view digest, std::span<const std::uint8_t> secret,
		  std::string_view label, std::span<const std::uint8_t> context,
		  std::span<std::uint8_t> out)
{
	constexpr std::string_view prefix = "tls13 ";
	if (out.size() > 0xffff || prefix.size() + label.size() > 255 || context.size() > 255)
		return std::unexpected(make_error_code(errc::invalid_argument));

	/* struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; } */
	std::vector<std::uint8_t> info;
	info.push_back(static_cast<std::uint8_t>(out.size() >> 8));
	info.push_back(static_cast<std::uint8_t>(out.size()));
	info.push_back(static_cast<std::uint8_t>(prefix.size() + label.size()));
	info.insert(info.end(), prefix.begin(), prefix.end());
	info.insert(info.end(), label.begin(), label.end());
	info.push_back(static_cast<std::uint8_t>(context.size()));
	info.insert(info.end(), context.begin(), context.end());

	auto ctx = kdf_new(OSSL_KDF_NAME_HKDF);
	if (!ctx)
		return std::unexpected(openssl_error());
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	std::string md(digest);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md.data(), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
			const_cast<std::uint8_t *>(secret.data()), secret.size()),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
		OSSL_PARAM_construct_end(),
	};
	if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
		return std::unexpected(openssl_error());
	return {};
}

std::expected<void, std::error_code>
tls12_prf(std::string_view digest, std::span<const std::uint8_t> secret,
	  std::string_view label, std::span<const std::uint8_t> seed,
	  std::span<std::uint8_t> out)
{
	std::vector<std::uint8_t> full(label.begin(), label.end());
	full.insert(full.end(), seed.begin(), seed.end());

	auto ctx = kdf_new(OSSL_KDF_NAME_TLS1_PRF);
	if (!ctx)
		return std::unexpected(openssl_error());
	std::string md(digest);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md.data(), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
			const_cast<std::uint8_t *>(secret.data()), secret.size()),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, full.data(), full.size()),
		OSSL_PARAM_construct_end(),
	};
	if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
		return std::unexpected(openssl_error());
	return {};
}

/* ---- TLS 1.3 ------------------------------------------------------------ */

std::expected<crypto_info, std::error_code>
crypto_info_from_traffic_secret(cipher c, std::span<const std::uint8_t> traffic_secret,
				std::uint64_t seq)
{
	crypto_info info(tls_version::tls13, c);
	auto key = info.key();
	std::uint8_t iv[12];
	auto digest = cipher_digest(c);
	if (auto r = hkdf_expand_label(digest, traffic_secret, "key", {}, key); !r)
		return std::unexpected(r.error());
	if (auto r = hkdf_expand_label(digest, traffic_secret, "iv", {}, iv); !r)
		return std::unexpected(r.error());
	/* kTLS splits the 12-byte write IV into salt (implicit) and iv. */
	auto salt = info.salt();
	std::copy_n(iv, salt.size(), salt.begin());
	std::copy_n(iv + salt.size(), info.iv().size(), info.iv().begin());
	OPENSSL_cleanse(iv, sizeof(iv));
	info.set_rec_seq(seq);
	return info;
}

std::expected<secret, std::error_code>
traffic_secret_update(cipher c, std::span<const std::uint8_t> traffic_secret)
{
	secret next(traffic_secret.size());
	if (auto r = hkdf_expand_label(cipher_digest(c), traffic_secret, "traffic upd", {},
				       next.span()); !r)
		return std::unexpected(r.error());
	return next;
}

/* ---- TLS 1.2 ------------------------------------------------------------ */

std::size_t detail::key_len(cipher c) noexcept
{
	return c == cipher::aes_128_gcm || c == cipher::aes_128_ccm ? 16 : 32;
}

namespace {

using detail::key_len;
std::size_t fixed_iv_len(cipher c) { return c == cipher::chacha20_poly1305 ? 12 : 4; }

} // namespace

std::size_t tls12_key_block_size(cipher c) noexcept
{
	return 2 * key_len(c) + 2 * fixed_iv_len(c);
}

std::expected<secret, std::error_code>
tls12_key_block(cipher c, std::span<const std::uint8_t> master_secret,
		std::span<const std::uint8_t> client_random,
		std::span<const std::uint8_t> server_random)
{
	std::vector<std::uint8_t> seed(server_random.begin(), server_random.end());
	seed.insert(seed.end(), client_random.begin(), client_random.end());
	secret block(tls12_key_block_size(c));
	if (auto r = tls12_prf(cipher_digest(c), master_secret, "key expansion", seed,
			       block.span()); !r)
		return std::unexpected(r.error());
	return block;
}

std::expected<crypto_info, std::error_code>
crypto_info_from_key_block(cipher c, std::span<const std::uint8_t> key_block,
			   role writer, std::uint64_t seq)
{
	if (key_block.size() < tls12_key_block_size(c))
		return std::unexpected(make_error_code(errc::invalid_argument));

	/* client_write_key, server_write_key, client_write_IV, server_write_IV */
	std::size_t kl = key_len(c), il = fixed_iv_len(c);
	bool server = writer == role::server;
	auto key = key_block.subspan(server ? kl : 0, kl);
	auto fixed_iv = key_block.subspan(2 * kl + (server ? il : 0), il);

	crypto_info info(tls_version::tls12, c);
	std::ranges::copy(key, info.key().begin());
	if (c == cipher::chacha20_poly1305) {
		/* RFC 7905: the 12-byte IV is XORed with the sequence number. */
		std::ranges::copy(fixed_iv, info.iv().begin());
	} else {
		/*
		 * RFC 5288: nonce = salt (fixed IV) || explicit 8 bytes sent in
		 * each record. kTLS sends iv as the first explicit part and
		 * increments it with each record; starting from the sequence
		 * number keeps it unique, as OpenSSL does.
		 */
		std::ranges::copy(fixed_iv, info.salt().begin());
		info.set_rec_seq(seq);
		std::ranges::copy(info.rec_seq(), info.iv().begin());
	}
	info.set_rec_seq(seq);
	return info;
}

/* ---- kernel ------------------------------------------------------------- */

int record_type_from_cmsg(const msghdr &msg) noexcept
{
	for (const cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(const_cast<msghdr *>(&msg),
								      const_cast<cmsghdr *>(c))) {
		if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE &&
		    c->cmsg_len >= CMSG_LEN(sizeof(std::uint8_t)))
			return *CMSG_DATA(c);
	}
	return -1;
}

namespace {

/*
 * Asks the kernel: a loopback TCP connection takes a TLS 1.3 TX key, then
 * the same key again - a rekey where the kernel has it, EBUSY where it has
 * not (and no kTLS at all refuses the first). Version numbers say nothing
 * of backports or of a kernel without CONFIG_TLS.
 */
bool probe_rekey() noexcept
{
	struct fd_guard {
		int fd;
		~fd_guard()
		{
			if (fd >= 0)
				close(fd);
		}
	};
	fd_guard listener{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	fd_guard client{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	if (listener.fd < 0 || client.fd < 0)
		return false;
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(listener.fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0 ||
	    listen(listener.fd, 1) != 0 ||
	    getsockname(listener.fd, reinterpret_cast<sockaddr *>(&a), &len) != 0 ||
	    connect(client.fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0)
		return false;
	if (setsockopt(client.fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) != 0)
		return false;
	crypto_info ci(tls_version::tls13, cipher::aes_128_gcm);
	auto size = static_cast<socklen_t>(ci.size());
	return setsockopt(client.fd, SOL_TLS, TLS_TX, ci.data(), size) == 0 &&
	       setsockopt(client.fd, SOL_TLS, TLS_TX, ci.data(), size) == 0;
}

} // namespace

bool kernel_supports_rekey() noexcept
{
	static const bool yes = probe_rekey();
	return yes;
}

} // namespace ktlsaccel

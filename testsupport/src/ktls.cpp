// SPDX-License-Identifier: MIT
#include <testsupport/ktls.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace ktlsaccel::testsupport {

namespace {

void fill_random(unsigned char *p, std::size_t n)
{
	if (RAND_bytes(p, static_cast<int>(n)) != 1)
		throw std::runtime_error("RAND_bytes failed");
}

// Calls fn with the cipher's tls12_crypto_info_* member of ci.
template <typename F> auto with_info(raw_crypto_info &ci, cipher c, F fn)
{
	switch (c) {
	case cipher::aes_128_gcm: return fn(ci.gcm128, TLS_CIPHER_AES_GCM_128);
	case cipher::aes_256_gcm: return fn(ci.gcm256, TLS_CIPHER_AES_GCM_256);
	case cipher::chacha20_poly1305: return fn(ci.chacha, TLS_CIPHER_CHACHA20_POLY1305);
	case cipher::aes_128_ccm: break;
	}
	return fn(ci.ccm128, TLS_CIPHER_AES_CCM_128);
}

void check(int ret, const char *what)
{
	if (ret < 0)
		throw std::system_error(errno, std::system_category(), what);
}

} // namespace

std::size_t key_size(cipher c)
{
	raw_crypto_info ci{};
	return with_info(ci, c, [](auto &i, int) { return sizeof(i.key); });
}

std::size_t iv_size(cipher c)
{
	raw_crypto_info ci{};
	return with_info(ci, c, [](auto &i, int) { return sizeof(i.iv); });
}

std::size_t salt_size(cipher c)
{
	raw_crypto_info ci{};
	return with_info(ci, c, [](auto &i, int) { return sizeof(i.salt); });
}

raw_crypto_info make_crypto_info(cipher c, tls_version v, const std::vector<std::uint8_t> &key,
				 const std::vector<std::uint8_t> &iv,
				 const std::vector<std::uint8_t> &salt, std::uint64_t rec_seq)
{
	raw_crypto_info ci{};
	std::memset(&ci, 0, sizeof(ci));
	unsigned short ver = v == tls_version::tls12 ? TLS_1_2_VERSION : TLS_1_3_VERSION;
	ci.size = with_info(ci, c, [&](auto &i, int type) {
		if (key.size() != sizeof(i.key) || iv.size() != sizeof(i.iv) ||
		    salt.size() != sizeof(i.salt))
			throw std::invalid_argument("key material of the wrong size for " +
						    std::string(cipher_name(c)));
		i.info.version = ver;
		i.info.cipher_type = static_cast<unsigned short>(type);
		std::memcpy(i.key, key.data(), key.size());
		std::memcpy(i.iv, iv.data(), iv.size());
		if constexpr (sizeof(i.salt) > 0)
			std::memcpy(i.salt, salt.data(), salt.size());
		for (std::size_t b = 0; b < sizeof(i.rec_seq); b++)
			i.rec_seq[b] = static_cast<unsigned char>(rec_seq >> (8 * (sizeof(i.rec_seq) - 1 - b)));
		return sizeof(i);
	});
	return ci;
}

raw_crypto_info random_crypto_info(cipher c, tls_version v)
{
	std::vector<std::uint8_t> key(key_size(c)), iv(iv_size(c)), salt(salt_size(c));
	for (auto *b : {&key, &iv, &salt})
		if (!b->empty())
			fill_random(b->data(), b->size());
	return make_crypto_info(c, v, key, iv, salt, 1);
}

unsigned char *key_bytes(raw_crypto_info &info, std::size_t *len)
{
	switch (info.base.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		*len = sizeof(info.gcm128.key);
		return info.gcm128.key;
	case TLS_CIPHER_AES_GCM_256:
		*len = sizeof(info.gcm256.key);
		return info.gcm256.key;
	case TLS_CIPHER_CHACHA20_POLY1305:
		*len = sizeof(info.chacha.key);
		return info.chacha.key;
	case TLS_CIPHER_AES_CCM_128:
		*len = sizeof(info.ccm128.key);
		return info.ccm128.key;
	}
	*len = 0;
	return nullptr;
}

std::vector<std::uint8_t> random_bytes(std::size_t n)
{
	std::vector<std::uint8_t> v(n);
	fill_random(v.data(), v.size());
	return v;
}

tcp_pair tcp_loopback_pair()
{
	unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	check(listener.get(), "socket");
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	check(::bind(listener.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), "bind");
	check(::listen(listener.get(), 1), "listen");
	socklen_t len = sizeof(addr);
	check(::getsockname(listener.get(), reinterpret_cast<sockaddr *>(&addr), &len),
	      "getsockname");

	unique_fd a(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	check(a.get(), "socket");
	check(::connect(a.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), "connect");
	unique_fd b(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
	check(b.get(), "accept");

	timeval tv{.tv_sec = 120, .tv_usec = 0};
	for (int fd : {a.get(), b.get()}) {
		check(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), "SO_RCVTIMEO");
		check(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), "SO_SNDTIMEO");
	}
	return {std::move(a), std::move(b)};
}

int ktls_install(int fd, int direction, const raw_crypto_info &info)
{
	// The ULP may already be attached when the other direction was set.
	if (::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 && errno != EEXIST)
		return errno;
	if (::setsockopt(fd, SOL_TLS, direction, &info, static_cast<socklen_t>(info.size)) < 0)
		return errno;
	return 0;
}

} // namespace ktlsaccel::testsupport

// SPDX-License-Identifier: MIT

#include "ktls_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace ktlsaccel::vmtest {

std::string to_string(Cipher c)
{
	switch (c) {
	case Cipher::aes_gcm_128: return "aes_gcm_128";
	case Cipher::aes_gcm_256: return "aes_gcm_256";
	case Cipher::chacha20_poly1305: return "chacha20_poly1305";
	case Cipher::aes_ccm_128: return "aes_ccm_128";
	}
	return "?";
}

std::string to_string(TlsVersion v)
{
	return v == TlsVersion::tls12 ? "tls12" : "tls13";
}

std::string crypto_api_name(Cipher c)
{
	switch (c) {
	case Cipher::aes_gcm_128:
	case Cipher::aes_gcm_256: return "gcm(aes)";
	case Cipher::chacha20_poly1305: return "rfc7539(chacha20,poly1305)";
	case Cipher::aes_ccm_128: return "ccm(aes)";
	}
	return "?";
}

static void fill_random(unsigned char *p, std::size_t n)
{
	if (RAND_bytes(p, static_cast<int>(n)) != 1)
		throw std::runtime_error("RAND_bytes failed");
}

std::string module_driver(Cipher c)
{
	switch (c) {
	case Cipher::aes_gcm_128:
	case Cipher::aes_gcm_256: return "ktlsaccel-gcm-aes";
	case Cipher::chacha20_poly1305: return "ktlsaccel-rfc7539-chacha20-poly1305";
	case Cipher::aes_ccm_128: return "ktlsaccel-ccm-aes";
	}
	return "?";
}

/* Calls fn with the cipher's tls12_crypto_info_* member of ci. */
template <typename F>
static auto with_info(CryptoInfo &ci, Cipher c, F fn)
{
	switch (c) {
	case Cipher::aes_gcm_128: return fn(ci.gcm128, TLS_CIPHER_AES_GCM_128);
	case Cipher::aes_gcm_256: return fn(ci.gcm256, TLS_CIPHER_AES_GCM_256);
	case Cipher::chacha20_poly1305: return fn(ci.chacha, TLS_CIPHER_CHACHA20_POLY1305);
	case Cipher::aes_ccm_128: break;
	}
	return fn(ci.ccm128, TLS_CIPHER_AES_CCM_128);
}

std::size_t key_size(Cipher c)
{
	CryptoInfo ci{};
	return with_info(ci, c, [](auto &i, int) { return sizeof(i.key); });
}

std::size_t iv_size(Cipher c)
{
	CryptoInfo ci{};
	return with_info(ci, c, [](auto &i, int) { return sizeof(i.iv); });
}

std::size_t salt_size(Cipher c)
{
	CryptoInfo ci{};
	return with_info(ci, c, [](auto &i, int) { return sizeof(i.salt); });
}

CryptoInfo make_crypto_info(Cipher c, TlsVersion v, const std::vector<std::uint8_t> &key,
			    const std::vector<std::uint8_t> &iv,
			    const std::vector<std::uint8_t> &salt, std::uint64_t rec_seq)
{
	CryptoInfo ci{};
	std::memset(&ci, 0, sizeof(ci));
	unsigned short ver = v == TlsVersion::tls12 ? TLS_1_2_VERSION : TLS_1_3_VERSION;
	ci.size = with_info(ci, c, [&](auto &i, int type) {
		if (key.size() != sizeof(i.key) || iv.size() != sizeof(i.iv) ||
		    salt.size() != sizeof(i.salt))
			throw std::invalid_argument("key material of the wrong size for " +
						    to_string(c));
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

/* Random key, IV and salt; the sequence number at 1. */
CryptoInfo random_crypto_info(Cipher c, TlsVersion v)
{
	std::vector<std::uint8_t> key(key_size(c)), iv(iv_size(c)), salt(salt_size(c));
	for (auto *b : {&key, &iv, &salt})
		if (!b->empty())
			fill_random(b->data(), b->size());
	return make_crypto_info(c, v, key, iv, salt, 1);
}

unsigned char *key_bytes(CryptoInfo &info, std::size_t *len)
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

static void check(int ret, const char *what)
{
	if (ret < 0)
		throw std::system_error(errno, std::system_category(), what);
}

TcpPair tcp_loopback_pair()
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

	/* A hung peer must fail the test, not the whole guest run. */
	timeval tv{.tv_sec = 120, .tv_usec = 0};
	for (int fd : {a.get(), b.get()}) {
		check(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), "SO_RCVTIMEO");
		check(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), "SO_SNDTIMEO");
	}
	return {std::move(a), std::move(b)};
}

int ktls_install(int fd, int direction, const CryptoInfo &info)
{
	/* The ULP may already be attached when the other direction was set. */
	if (::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 && errno != EEXIST)
		return errno;
	if (::setsockopt(fd, SOL_TLS, direction, &info, info.size) < 0)
		return errno;
	return 0;
}

std::vector<std::uint8_t> ktls_transfer(int tx, int rx, const std::vector<std::uint8_t> &data,
					std::size_t chunk, int *rx_errno)
{
	std::vector<std::uint8_t> got;
	got.reserve(data.size());
	*rx_errno = 0;
	std::thread reader([&] {
		std::vector<std::uint8_t> buf(1 << 20);
		while (got.size() < data.size()) {
			ssize_t n = ::recv(rx, buf.data(), buf.size(), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				*rx_errno = errno;
				return;
			}
			if (n == 0)
				return;
			got.insert(got.end(), buf.begin(), buf.begin() + n);
		}
	});
	std::size_t off = 0;
	int send_errno = 0;
	while (off < data.size()) {
		std::size_t n = std::min(chunk, data.size() - off);
		ssize_t w = ::send(tx, data.data() + off, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			send_errno = errno;
			break;
		}
		off += static_cast<std::size_t>(w);
	}
	if (send_errno)
		::shutdown(rx, SHUT_RDWR); /* unblock the reader */
	reader.join();
	if (send_errno)
		throw std::system_error(send_errno, std::system_category(), "send on the kTLS socket");
	return got;
}

std::vector<std::uint8_t> random_bytes(std::size_t n)
{
	std::vector<std::uint8_t> v(n);
	fill_random(v.data(), v.size());
	return v;
}

std::map<std::string, long long> tls_stat()
{
	std::map<std::string, long long> m;
	std::ifstream f("/proc/net/tls_stat");
	std::string name;
	long long value;
	while (f >> name >> value)
		m[name] = value;
	return m;
}

std::string crypto_selected_driver(const std::string &cra_name)
{
	std::ifstream f("/proc/crypto");
	std::string line, name, driver, best;
	long prio = -1, best_prio = -1;
	bool internal = false;
	auto flush = [&] {
		if (name == cra_name && !internal && prio > best_prio) {
			best_prio = prio;
			best = driver;
		}
		name.clear();
		driver.clear();
		prio = -1;
		internal = false;
	};
	while (std::getline(f, line)) {
		if (line.empty()) {
			flush();
			continue;
		}
		auto colon = line.find(':');
		if (colon == line.npos)
			continue;
		std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
		std::string value = line.substr(line.find_first_not_of(" \t", colon + 1));
		if (key == "name")
			name = value;
		else if (key == "driver")
			driver = value;
		else if (key == "priority")
			prio = std::stol(value);
		else if (key == "internal")
			internal = value == "yes";
	}
	flush();
	return best;
}

} // namespace ktlsaccel::vmtest

// SPDX-License-Identifier: MIT

#include "ktls_util.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <system_error>
#include <thread>

namespace ktlsaccel::vmtest {

std::string to_string(Cipher c)
{
	switch (c) {
	case Cipher::aes_128_gcm: return "aes_gcm_128";
	case Cipher::aes_256_gcm: return "aes_gcm_256";
	case Cipher::chacha20_poly1305: return "chacha20_poly1305";
	case Cipher::aes_128_ccm: return "aes_ccm_128";
	}
	return "?";
}

std::string to_string(TlsVersion v)
{
	return v == TlsVersion::tls12 ? "tls12" : "tls13";
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

} // namespace ktlsaccel::vmtest

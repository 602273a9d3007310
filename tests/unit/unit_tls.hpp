// SPDX-License-Identifier: MIT
//
// What the host's handshake tests share: a throwaway PKI (a CA and an EC
// leaf for "localhost", made once per process with the openssl CLI) and a
// connected TCP loopback pair.
#pragma once

#include <ktlsaccel/ktlsaccel.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace ktlsaccel::unit {

// ca.pem, leaf.pem (CN and subjectAltName localhost, signed by ca.pem) and
// leaf.key in a fresh temporary folder.
inline const std::filesystem::path &pki_dir()
{
	static const std::filesystem::path dir = [] {
		std::string tmpl =
			(std::filesystem::temp_directory_path() / "ktlsaccel-unit.XXXXXX").string();
		if (!mkdtemp(tmpl.data()))
			throw std::runtime_error("mkdtemp");
		std::filesystem::path d = tmpl;
		std::string cmd =
			"cd '" + d.string() + "' && exec >/dev/null 2>&1 && "
			"printf 'subjectAltName=DNS:localhost\\n' > ext && "
			"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			"-keyout ca.key -out ca.pem -days 1 -subj /CN=unit-ca && "
			"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			"-keyout leaf.key -out leaf.csr -subj /CN=localhost && "
			"openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
			"-out leaf.pem -days 1 -extfile ext";
		if (std::system(cmd.c_str()) != 0)
			throw std::runtime_error("openssl CLI failed");
		return d;
	}();
	return dir;
}

// A connected TCP pair on 127.0.0.1; throws if any step fails.
struct tcp_pair {
	int client = -1, server = -1;

	tcp_pair()
	{
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(a);
		bool ok = l >= 0 && bind(l, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0 &&
			  listen(l, 1) == 0 &&
			  getsockname(l, reinterpret_cast<sockaddr *>(&a), &len) == 0 &&
			  (client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
			  connect(client, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0 &&
			  (server = accept4(l, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;
		int err = errno;
		if (l >= 0)
			close(l);
		if (!ok) {
			close_both();
			throw std::runtime_error(std::string("TCP loopback pair: ") + std::strerror(err));
		}
	}
	~tcp_pair() { close_both(); }
	tcp_pair(const tcp_pair &) = delete;
	tcp_pair &operator=(const tcp_pair &) = delete;

private:
	void close_both()
	{
		if (client >= 0)
			close(client);
		if (server >= 0)
			close(server);
		client = server = -1;
	}
};

// A server with the leaf, not asking for a client certificate, and a client
// that verifies it as "localhost" against the CA; both may stay in
// userspace TLS (the host has no kTLS). v pins a version.
inline options server_options(std::optional<tls_version> v = std::nullopt)
{
	options o;
	o.role = role::server;
	o.cert_file = pki_dir() / "leaf.pem";
	o.key_file = pki_dir() / "leaf.key";
	o.verify_peer = false;
	o.allow_userspace_fallback = true;
	o.version = v;
	return o;
}

inline options client_options(std::optional<tls_version> v = std::nullopt)
{
	options o;
	o.server_name = "localhost";
	o.ca_file = pki_dir() / "ca.pem";
	o.allow_userspace_fallback = true;
	o.version = v;
	return o;
}

} // namespace ktlsaccel::unit

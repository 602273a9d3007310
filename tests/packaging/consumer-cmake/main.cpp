// SPDX-License-Identifier: MIT
//
// A program outside the tree, built with find_package(ktlsaccel) against the
// installed libktlsaccel-dev. The library runs the handshake on both ends
// of a TCP loopback pair (server in a child process) and hands the records
// to the kernel; 1 MiB goes client -> server and is checked byte by byte.
//
//   ktlsaccel-consumer-cmake CERT.pem KEY.pem
//
// Prints the AEAD driver the kernel chose for the connection's cipher.
#include <ktlsaccel/ktlsaccel.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace {

constexpr std::size_t total = 1 << 20;

std::byte pattern(std::size_t i)
{
	return static_cast<std::byte>(i * 7 + (i >> 11));
}

int fail(const char *what, const std::error_code &ec)
{
	std::fprintf(stderr, "%s: %s\n", what, ec.message().c_str());
	return 1;
}

int serve(int lfd, const char *cert, const char *key)
{
	int fd = accept(lfd, nullptr, nullptr);
	ktlsaccel::options o;
	o.role = ktlsaccel::role::server;
	o.cert_file = cert;
	o.key_file = key;
	o.verify_peer = false;
	auto conn = ktlsaccel::connection::handshake(fd, o);
	if (!conn)
		return fail("server handshake", conn.error());
	if (!conn->info().kernel_offload)
		return fail("server offload", conn->info().offload_error);
	std::vector<std::byte> buf(65536);
	std::size_t got = 0;
	while (got < total) {
		auto n = conn->recv(buf);
		if (!n)
			return fail("server recv", n.error());
		if (*n == 0) {
			std::fprintf(stderr, "server: end of stream after %zu bytes\n", got);
			return 1;
		}
		for (std::size_t i = 0; i < *n; i++)
			if (buf[i] != pattern(got + i)) {
				std::fprintf(stderr, "server: byte %zu differs\n", got + i);
				return 1;
			}
		got += *n;
	}
	const std::byte ok[] = {std::byte{'o'}, std::byte{'k'}};
	if (auto r = conn->send_all(ok); !r)
		return fail("server send", r.error());
	(void)conn->shutdown();
	close(fd);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 3) {
		std::fprintf(stderr, "usage: %s CERT.pem KEY.pem\n", argv[0]);
		return 2;
	}
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) ||
	    listen(lfd, 1) || getsockname(lfd, reinterpret_cast<sockaddr *>(&a), &alen)) {
		std::perror("listen");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0)
		_exit(serve(lfd, argv[1], argv[2]));
	close(lfd);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a))) {
		std::perror("connect");
		return 1;
	}
	ktlsaccel::options o;
	o.server_name = "localhost";
	o.ca_file = argv[1];
	auto conn = ktlsaccel::connection::handshake(fd, o);
	if (!conn)
		return fail("client handshake", conn.error());
	if (!conn->info().kernel_offload)
		return fail("client offload", conn->info().offload_error);
	std::vector<std::byte> data(total);
	for (std::size_t i = 0; i < total; i++)
		data[i] = pattern(i);
	if (auto r = conn->send_all(data); !r)
		return fail("client send", r.error());
	std::byte reply[8];
	auto n = conn->recv(reply);
	if (!n || *n != 2 || reply[0] != std::byte{'o'} || reply[1] != std::byte{'k'}) {
		std::fprintf(stderr, "client: no \"ok\" from the server\n");
		return 1;
	}
	(void)conn->shutdown();
	close(fd);
	int status = 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		std::fprintf(stderr, "server failed\n");
		return 1;
	}
	auto driver = ktlsaccel::kernel_aead_driver(conn->info().cipher_type);
	std::printf("consumer-cmake: 1 MiB through kTLS, byte-exact, %s %s, kernel driver %s\n",
		    conn->info().cipher_suite.c_str(),
		    conn->info().version == ktlsaccel::tls_version::tls13 ? "TLS 1.3" : "TLS 1.2",
		    driver ? driver->c_str() : "?");
	return 0;
}

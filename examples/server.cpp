// SPDX-License-Identifier: MIT
//
// An echo server on kernel TLS: the library runs the handshake and installs
// the keys; the loop below only sees plaintext.
//
//   ktlsaccel-example-server PORT cert.pem key.pem [--backend mbedtls]
//
// With --backend mbedtls, Mbed TLS runs the handshake (TLS 1.2) instead of
// OpenSSL; the records go through the kernel either way.
//
// Serves one client at a time: echoes what it receives until the client
// sends close_notify, then closes with its own.
#include <ktlsaccel/ktlsaccel.hpp>
#ifdef KTLSACCEL_HAVE_MBEDTLS
#include <ktlsaccel/mbedtls.hpp>
#endif

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

int main(int argc, char **argv)
{
	bool use_mbedtls = argc == 6 && std::string(argv[4]) == "--backend" &&
			   std::string(argv[5]) == "mbedtls";
	bool use_openssl = argc == 6 && std::string(argv[4]) == "--backend" &&
			   std::string(argv[5]) == "openssl";
	if (argc != 4 && !use_mbedtls && !use_openssl) {
		std::fprintf(stderr, "usage: %s PORT cert.pem key.pem [--backend openssl|mbedtls]\n",
			     argv[0]);
		return 2;
	}
#ifndef KTLSACCEL_HAVE_MBEDTLS
	if (use_mbedtls) {
		std::fprintf(stderr, "this libktlsaccel was built without Mbed TLS\n");
		return 2;
	}
#endif
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[1])));
	if (bind(l, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0 || listen(l, 8) < 0) {
		std::perror("listen");
		return 1;
	}

	ktlsaccel::options opts;
	opts.role = ktlsaccel::role::server;
	opts.cert_file = argv[2];
	opts.key_file = argv[3];
	opts.verify_peer = false;	// no client certificates

	// One context for every connection: the certificate and key are parsed
	// once, and returning clients resume their sessions.
#ifdef KTLSACCEL_HAVE_MBEDTLS
	std::optional<ktlsaccel::mbedtls::context> mctx;
	if (use_mbedtls) {
		auto c = ktlsaccel::mbedtls::context::create(opts);
		if (!c) {
			std::fprintf(stderr, "context: %s\n", c.error().message().c_str());
			return 1;
		}
		mctx = std::move(*c);
	}
#endif
	auto ctx = ktlsaccel::context::create(opts);
	if (!ctx) {
		std::fprintf(stderr, "context: %s\n", ctx.error().message().c_str());
		return 1;
	}

	for (;;) {
		int fd = accept(l, nullptr, nullptr);
		if (fd < 0)
			continue;
		// A client that stops answering is dropped after
		// options.handshake_timeout (60 s).
#ifdef KTLSACCEL_HAVE_MBEDTLS
		auto conn = mctx ? ktlsaccel::mbedtls::handshake(fd, *mctx)
				 : ktlsaccel::connection::handshake(fd, *ctx);
#else
		auto conn = ktlsaccel::connection::handshake(fd, *ctx);
#endif
		if (!conn) {
			std::fprintf(stderr, "handshake: %s\n", conn.error().message().c_str());
			close(fd);
			continue;
		}
		std::printf("%s %s, kernel TLS: %s, resumed: %s\n",
			    std::string(ktlsaccel::tls_version_name(conn->info().version)).c_str(),
			    conn->info().cipher_suite.c_str(), conn->info().kernel_offload ? "yes" : "no",
			    conn->info().resumed ? "yes" : "no");
		std::fflush(stdout);

		std::byte buf[16384];
		for (;;) {
			auto n = conn->recv(buf);
			if (!n) {
				std::fprintf(stderr, "recv: %s\n", n.error().message().c_str());
				break;
			}
			if (*n == 0)	// close_notify
				break;
			if (auto sent = conn->send_all(std::span(buf, *n)); !sent) {
				std::fprintf(stderr, "send: %s\n", sent.error().message().c_str());
				break;
			}
		}
		(void)conn->shutdown();
		close(fd);
	}
}

// SPDX-License-Identifier: MIT
//
// ktlsaccel-perf: an iperf-like bulk transfer over kernel TLS.
//
//   ktlsaccel-perf server --cert leaf.pem --key leaf.key [--port 5201]
//   ktlsaccel-perf client HOST --ca ca.pem [--bytes 1G] [--reverse]
//   ktlsaccel-perf --backend mbedtls ...    the handshake by Mbed TLS instead of OpenSSL
//
// The client asks for a transfer in one direction (client -> server, or
// server -> client with --reverse) and reports throughput, the TLS version
// and cipher, whether the kernel took the records, and the AEAD driver the
// kernel's crypto API would choose for that cipher.
#include <ktlsaccel/ktlsaccel.hpp>
#ifdef KTLSACCEL_HAVE_MBEDTLS
#include <ktlsaccel/mbedtls.hpp>
#endif

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <expected>
#include <map>
#include <string>
#include <vector>

using namespace ktlsaccel;

namespace {

// The request the client sends first, inside TLS: magic, direction, size.
struct request {
	char magic[4] = {'K', 'T', 'A', 'P'};
	std::uint32_t server_sends = 0;	// network order
	std::uint64_t bytes = 0;	// network order
};
static_assert(sizeof(request) == 16);

std::uint64_t hton64(std::uint64_t v) { return (std::uint64_t(htonl(std::uint32_t(v))) << 32) | htonl(std::uint32_t(v >> 32)); }
std::uint64_t ntoh64(std::uint64_t v) { return hton64(v); }

[[noreturn]] void die(const std::string &what)
{
	std::fprintf(stderr, "ktlsaccel-perf: %s\n", what.c_str());
	std::exit(1);
}

// "64M", "1G", "1.5K": a decimal number (digits first: no sign, nan or inf)
// with an optional binary suffix, at most `max` bytes.
std::uint64_t parse_size(const std::string &s, const char *what, double max)
{
	char *end = nullptr;
	double v = std::strtod(s.c_str(), &end);
	std::string unit(end);
	static const std::map<std::string, std::uint64_t> units = {
		{"", 1}, {"K", 1ULL << 10}, {"M", 1ULL << 20}, {"G", 1ULL << 30},
		{"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}};
	auto u = units.find(unit);
	if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])) || end == s.c_str() ||
	    s.find_first_of("xX") != s.npos || u == units.end())
		die(std::string("bad ") + what + " '" + s + "' (use e.g. 64M, 1G)");
	double bytes = v * static_cast<double>(u->second);
	/* strtod's overflow is HUGE_VAL, which fails this too. */
	if (!std::isfinite(bytes) || bytes > max)
		die(std::string(what) + " '" + s + "' is more than " +
		    std::to_string(static_cast<std::uint64_t>(max)) + " bytes");
	return static_cast<std::uint64_t>(bytes);
}

// --write-size: one buffer of it is allocated.
constexpr double kMaxWriteSize = 1ULL << 30;
// --bytes: well below 2^63, so every count and sum stays exact and fits any
// signed 64-bit type on the way.
constexpr double kMaxBytes = 1ULL << 62;

// Which TLS library runs the handshake; the records are the kernel's either way.
bool use_mbedtls = false;

result<connection> run_handshake(int fd, const options &o)
{
#ifdef KTLSACCEL_HAVE_MBEDTLS
	if (use_mbedtls)
		return mbedtls::handshake(fd, o);
#endif
	return connection::handshake(fd, o);
}

void apply_crypto_choice(options &o, const std::string &tls, const std::string &cipher_name)
{
	if (tls == "1.2")
		o.version = tls_version::tls12;
	else if (tls == "1.3")
		o.version = tls_version::tls13;
	else if (!tls.empty())
		die("bad --tls '" + tls + "' (1.2 or 1.3)");
	if (cipher_name.empty())
		return;
	static const std::map<std::string, std::pair<const char *, const char *>> names = {
		{"aes128gcm", {"TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"}},
		{"aes256gcm", {"TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"}},
		{"chacha20", {"TLS_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"}},
		{"aes128ccm", {"TLS_AES_128_CCM_SHA256", "ECDHE-ECDSA-AES128-CCM"}},
	};
	/* Mbed TLS names its TLS 1.2 suites differently */
	static const std::map<std::string, const char *> mbedtls_names = {
		{"aes128gcm", "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256:TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"},
		{"aes256gcm", "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384:TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"},
		{"chacha20", "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256:"
			     "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256"},
		{"aes128ccm", "TLS-ECDHE-ECDSA-WITH-AES-128-CCM"},
	};
	auto it = names.find(cipher_name);
	if (it == names.end())
		die("bad --cipher '" + cipher_name + "' (aes128gcm, aes256gcm, chacha20, aes128ccm)");
	o.ciphersuites = it->second.first;
	o.cipher_list = use_mbedtls ? mbedtls_names.at(cipher_name) : it->second.second;
}

void print_session(const connection &c)
{
	const auto &i = c.info();
	std::printf("session: %s %s, records in %s\n", std::string(tls_version_name(i.version)).c_str(),
		    i.cipher_suite.c_str(),
		    i.kernel_offload ? "the kernel (kTLS)"
				     : ("userspace (" + i.offload_error.message() + ")").c_str());
	if (!i.kernel_offload)
		return;
	auto drv = kernel_aead_driver(i.cipher_type);
	std::printf("kernel AEAD: %s -> %s (highest priority in /proc/crypto; the kernel does not "
		    "report which driver a socket got)\n",
		    std::string(cipher_kernel_name(i.cipher_type)).c_str(),
		    drv ? drv->c_str() : ("unknown: " + drv.error().message()).c_str());
}

void report(const char *verb, std::uint64_t bytes, std::chrono::steady_clock::duration d)
{
	double s = std::chrono::duration<double>(d).count();
	double mib = static_cast<double>(bytes) / (1 << 20);
	std::printf("%s %.1f MiB in %.3f s: %.1f MiB/s (%.2f Gbit/s)\n", verb, mib, s, mib / s,
		    static_cast<double>(bytes) * 8 / s / 1e9);
}

// The payload: byte i of the stream is pattern_byte(i). It repeats every
// 256 bytes, so the receiver can check it whatever the sender's write size.
std::byte pattern_byte(std::uint64_t i) { return static_cast<std::byte>((i % 256) * 131 + 7); }

bool verify_payload = false;	// --verify

// Sends `bytes` of the pattern in `chunk`-sized writes; MSG_MORE on all but
// the last keeps records in flight across writes. The error is a message:
// the client exits with it, the server logs it and serves the next one.
std::expected<void, std::string> send_bulk(connection &c, std::uint64_t bytes, std::size_t chunk,
					   bool more)
{
	std::vector<std::byte> buf(chunk + 256);
	for (std::size_t i = 0; i < buf.size(); i++)
		buf[i] = pattern_byte(i);
	std::uint64_t sent = 0;
	while (sent < bytes) {
		std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes - sent, chunk));
		int flags = more && n < bytes - sent ? MSG_MORE : 0;
		if (auto r = c.send_all(std::span(buf.data() + sent % 256, n), flags); !r)
			return std::unexpected("send: " + r.error().message());
		sent += n;
	}
	return {};
}

// Returns the bytes received (fewer than `bytes` at EOF). With `verify`,
// every byte is compared with the pattern the sender wrote; the first
// difference is an error.
std::expected<std::uint64_t, std::string> recv_bulk(connection &c, std::uint64_t bytes,
						    std::size_t chunk, bool verify = false)
{
	std::vector<std::byte> buf(chunk), want;
	if (verify) {
		want.resize(chunk + 256);
		for (std::size_t i = 0; i < want.size(); i++)
			want[i] = pattern_byte(i);
	}
	std::uint64_t got = 0;
	while (got < bytes) {
		auto r = c.recv(std::span(buf.data(), static_cast<std::size_t>(
							     std::min<std::uint64_t>(chunk, bytes - got))));
		if (!r)
			return std::unexpected("recv: " + r.error().message());
		if (*r == 0)
			break;
		if (verify && std::memcmp(buf.data(), want.data() + got % 256, *r) != 0) {
			std::size_t i = 0;
			while (buf[i] == want[got % 256 + i])
				i++;
			return std::unexpected("byte " + std::to_string(got + i) +
					       " of the payload differs from what was sent");
		}
		got += *r;
	}
	return got;
}

void report_verified(std::uint64_t got, std::uint64_t bytes)
{
	if (verify_payload && got == bytes)
		std::printf("verified: all %llu bytes match what was sent\n",
			    static_cast<unsigned long long>(got));
}

// --hold: keep the connection, and with it the kernel's TLS state (and the
// module's flows), after the transfer until SIGUSR1, SIGINT or SIGTERM, or
// for at most `seconds`; lets a script read `ktlsaccel flows` first.
void hold_open(unsigned seconds)
{
	if (seconds == 0)
		return;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, nullptr);
	std::printf("holding the connection open for up to %u s (SIGUSR1 ends it)\n", seconds);
	std::fflush(stdout);
	timespec limit{static_cast<time_t>(seconds), 0};
	sigtimedwait(&set, nullptr, &limit);
}

int tcp_connect(const std::string &host, std::uint16_t port)
{
	addrinfo hints{}, *res = nullptr;
	hints.ai_socktype = SOCK_STREAM;
	int e = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
	if (e)
		die("cannot resolve " + host + ": " + gai_strerror(e));
	int fd = -1;
	for (auto *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		die("cannot connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
	return fd;
}

int run_client(const std::string &host, std::uint16_t port, options o, std::uint64_t bytes,
	       bool reverse, std::size_t chunk, bool more, unsigned hold)
{
	int fd = tcp_connect(host, port);
	if (o.server_name.empty())
		o.server_name = host;
	auto conn = run_handshake(fd, o);
	if (!conn)
		die("handshake with " + host + ": " + conn.error().message());
	print_session(*conn);

	request req;
	req.server_sends = htonl(reverse ? 1 : 0);
	req.bytes = hton64(bytes);
	if (auto r = conn->send_all(std::as_bytes(std::span(&req, 1))); !r)
		die("send: " + r.error().message());

	auto start = std::chrono::steady_clock::now();
	if (reverse) {
		auto got = recv_bulk(*conn, bytes, chunk, verify_payload);
		if (!got)
			die(got.error());
		report("received", *got, std::chrono::steady_clock::now() - start);
		if (*got != bytes)
			die("the server sent " + std::to_string(*got) + " of " + std::to_string(bytes) + " bytes");
		report_verified(*got, bytes);
	} else {
		if (auto r = send_bulk(*conn, bytes, chunk, more); !r)
			die(r.error());
		/* the server's 8-byte count says everything arrived */
		std::uint64_t ack = 0;
		if (auto r = recv_bulk(*conn, sizeof(ack), sizeof(ack)); !r)
			die(r.error());
		report("sent", bytes, std::chrono::steady_clock::now() - start);
	}
	hold_open(hold);
	(void)conn->shutdown();
	close(fd);
	return 0;
}

void serve_one(int fd, const options &o, std::size_t chunk, bool more)
{
	auto conn = run_handshake(fd, o);
	if (!conn) {
		std::fprintf(stderr, "ktlsaccel-perf: handshake: %s\n", conn.error().message().c_str());
		return;
	}
	print_session(*conn);
	request req;
	std::vector<std::byte> in(sizeof(req));
	std::size_t have = 0;
	while (have < sizeof(req)) {
		auto r = conn->recv(std::span(in).subspan(have));
		if (!r || *r == 0) {
			std::fprintf(stderr, "ktlsaccel-perf: no request from the client\n");
			return;
		}
		have += *r;
	}
	std::memcpy(&req, in.data(), sizeof(req));
	if (std::memcmp(req.magic, "KTAP", 4) != 0) {
		std::fprintf(stderr, "ktlsaccel-perf: not a ktlsaccel-perf client\n");
		return;
	}
	std::uint64_t bytes = ntoh64(req.bytes);
	auto start = std::chrono::steady_clock::now();
	/* A client that resets or sends a bad record ends its own connection,
	 * not the server. */
	if (ntohl(req.server_sends)) {
		if (auto r = send_bulk(*conn, bytes, chunk, more); !r) {
			std::fprintf(stderr, "ktlsaccel-perf: %s\n", r.error().c_str());
			return;
		}
		report("sent", bytes, std::chrono::steady_clock::now() - start);
	} else {
		auto got = recv_bulk(*conn, bytes, chunk, verify_payload);
		if (!got) {
			std::fprintf(stderr, "ktlsaccel-perf: %s\n", got.error().c_str());
			return;
		}
		report("received", *got, std::chrono::steady_clock::now() - start);
		report_verified(*got, bytes);
		std::uint64_t ack = hton64(*got);
		(void)conn->send_all(std::as_bytes(std::span(&ack, 1)));
	}
	(void)conn->shutdown();
	/* wait for the client's close_notify before closing */
	std::byte b[64];
	while (true) {
		auto r = conn->recv(b);
		if (!r || *r == 0)
			break;
	}
}

int run_server(const std::string &bind_addr, std::uint16_t port, const options &o, bool once,
	       std::size_t chunk, bool more)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	if (inet_pton(AF_INET, bind_addr.c_str(), &a.sin_addr) != 1)
		die("bad --bind address '" + bind_addr + "' (IPv4)");
	if (bind(l, reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0 || listen(l, 16) < 0)
		die("cannot listen on " + bind_addr + ":" + std::to_string(port) + ": " + std::strerror(errno));
	std::printf("listening on %s:%u\n", bind_addr.c_str(), port);
	std::fflush(stdout);
	do {
		int fd = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
		if (fd < 0)
			die(std::string("accept: ") + std::strerror(errno));
		serve_one(fd, o, chunk, more);
		close(fd);
		std::fflush(stdout);
	} while (!once);
	close(l);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"ktlsaccel-perf: bulk TLS throughput with records in the kernel (kTLS)"};
	app.require_subcommand(1);

	std::uint16_t port = 5201;
	std::string tls, cipher_name, chunk_s = "1M", backend = "openssl";
	bool no_more = false, fallback = false;
	app.add_option("-p,--port", port, "TCP port")->capture_default_str();
	app.add_option("--tls", tls, "TLS version: 1.2 or 1.3 (default: negotiate)");
	app.add_option("--cipher", cipher_name, "aes128gcm, aes256gcm, chacha20 or aes128ccm");
	app.add_option("--write-size", chunk_s, "bytes per send()/recv() call")->capture_default_str();
	app.add_flag("--no-msg-more", no_more, "do not set MSG_MORE between writes");
	app.add_flag("--fallback", fallback, "continue in userspace TLS if the kernel cannot take it");
	app.add_option("--backend", backend, "TLS library for the handshake: openssl or mbedtls "
					    "(TLS 1.2; Mbed TLS 3.x also 1.3)")
		->check(CLI::IsMember({"openssl", "mbedtls"}))
		->capture_default_str();
	app.add_flag("--verify", verify_payload,
		     "the receiving side checks every byte against what the sender wrote");

	auto *server = app.add_subcommand("server", "accept connections and serve transfers");
	std::string bind_addr = "0.0.0.0", cert, key;
	bool once = false;
	server->add_option("--bind", bind_addr, "IPv4 address to listen on")->capture_default_str();
	server->add_option("--cert", cert, "certificate chain (PEM)")->required()->check(CLI::ExistingFile);
	server->add_option("--key", key, "private key (PEM)")->required()->check(CLI::ExistingFile);
	server->add_flag("-1,--once", once, "exit after one connection");

	auto *client = app.add_subcommand("client", "connect and measure one transfer");
	std::string host, ca, server_name, bytes_s = "256M";
	bool reverse = false, insecure = false;
	client->add_option("host", host, "server host name or address")->required();
	client->add_option("--ca", ca, "CA certificates to trust (PEM; default: system store)")
		->check(CLI::ExistingFile);
	client->add_option("--server-name", server_name, "name to verify (default: host)");
	client->add_option("-n,--bytes", bytes_s, "bytes to transfer (K, M, G suffixes)")
		->capture_default_str();
	client->add_flag("-R,--reverse", reverse, "the server sends, the client receives");
	client->add_flag("--insecure", insecure, "do not verify the server's certificate");
	unsigned hold = 0;
	client->add_option("--hold", hold,
			   "after the transfer, keep the connection open until SIGUSR1 or for at "
			   "most this many seconds");

	CLI11_PARSE(app, argc, argv);

	std::size_t chunk = static_cast<std::size_t>(parse_size(chunk_s, "--write-size", kMaxWriteSize));
	if (chunk == 0)
		die("--write-size must be positive");
	if (backend == "mbedtls") {
#ifdef KTLSACCEL_HAVE_MBEDTLS
		use_mbedtls = true;
		if (fallback)
			die("--fallback is not offered with --backend mbedtls");
#else
		die("--backend mbedtls: this build of libktlsaccel has no Mbed TLS backend "
		    "(install libmbedtls-dev and rebuild)");
#endif
	}
	options o;
	apply_crypto_choice(o, tls, cipher_name);
	o.allow_userspace_fallback = fallback;
	if (*server) {
		o.role = role::server;
		o.cert_file = cert;
		o.key_file = key;
		o.verify_peer = false;
		return run_server(bind_addr, port, o, once, chunk, !no_more);
	}
	o.role = role::client;
	o.ca_file = ca;
	o.server_name = server_name;
	o.verify_peer = !insecure;
	return run_client(host, port, o, parse_size(bytes_s, "--bytes", kMaxBytes), reverse, chunk, !no_more, hold);
}

// SPDX-License-Identifier: MIT
#include "workloads.hpp"

#include <ktlsaccel/ktlsaccel.hpp>

#include <kcapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace ktlsaccel::bench {

namespace {

using clock = std::chrono::steady_clock;

double since(clock::time_point t0)
{
	return std::chrono::duration<double>(clock::now() - t0).count();
}

[[noreturn]] void fail_errno(const std::string &what)
{
	throw std::system_error(errno, std::system_category(), what);
}

void check(long ret, const char *what)
{
	if (ret < 0)
		fail_errno(what);
}

using testsupport::tcp_loopback_pair;
using testsupport::tcp_pair;
using testsupport::unique_fd;

void install(int fd, int direction, const raw_crypto_info &k)
{
	if (int err = testsupport::ktls_install(fd, direction, k))
		throw std::system_error(err, std::system_category(),
					direction == TLS_TX ? "setsockopt(TLS_TX)" : "setsockopt(TLS_RX)");
}

void send_all(int fd, const std::uint8_t *p, std::size_t n, int flags)
{
	while (n > 0) {
		ssize_t w = ::send(fd, p, n, flags | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		check(w, "send");
		p += w;
		n -= static_cast<std::size_t>(w);
	}
}

void recv_exactly(int fd, std::uint8_t *p, std::size_t n)
{
	while (n > 0) {
		ssize_t r = ::recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		check(r, "recv");
		if (r == 0)
			throw std::runtime_error("recv: unexpected EOF");
		p += r;
		n -= static_cast<std::size_t>(r);
	}
}

// Reads raw bytes until EOF; returns how many.
std::size_t drain(int fd, std::vector<std::uint8_t> *keep = nullptr)
{
	std::vector<std::uint8_t> buf(1 << 20);
	std::size_t got = 0;
	for (;;) {
		ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
		if (r < 0 && errno == EINTR)
			continue;
		check(r, "recv (drain)");
		if (r == 0)
			return got;
		if (keep)
			keep->insert(keep->end(), buf.begin(), buf.begin() + r);
		got += static_cast<std::size_t>(r);
	}
}

// ---- OpenSSL without kTLS ------------------------------------------------

struct ssl_ctx_free {
	void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct ssl_free {
	void operator()(SSL *s) const { SSL_free(s); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;

[[noreturn]] void ssl_fail(const std::string &what)
{
	char buf[256] = "";
	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	throw std::runtime_error(what + ": " + buf);
}

const char *suite12(cipher c)
{
	return c == cipher::aes128gcm ? "ECDHE-ECDSA-AES128-GCM-SHA256" : "ECDHE-ECDSA-CHACHA20-POLY1305";
}

const char *suite13(cipher c)
{
	return c == cipher::aes128gcm ? "TLS_AES_128_GCM_SHA256" : "TLS_CHACHA20_POLY1305_SHA256";
}

ctx_ptr make_ctx(bool server, const pki &p, cipher c, tls v)
{
	ctx_ptr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
	if (!ctx)
		ssl_fail("SSL_CTX_new");
	int ver = v == tls::v12 ? TLS1_2_VERSION : TLS1_3_VERSION;
	SSL_CTX_set_min_proto_version(ctx.get(), ver);
	SSL_CTX_set_max_proto_version(ctx.get(), ver);
	if (SSL_CTX_set_cipher_list(ctx.get(), suite12(c)) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx.get(), suite13(c)) != 1)
		ssl_fail("cipher list");
	// What users run today: records in userspace, kTLS off.
	SSL_CTX_clear_options(ctx.get(), SSL_OP_ENABLE_KTLS);
	if (server) {
		if (SSL_CTX_use_certificate_chain_file(ctx.get(), p.cert.c_str()) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx.get(), p.key.c_str(), SSL_FILETYPE_PEM) != 1)
			ssl_fail("server certificate");
		SSL_CTX_set_num_tickets(ctx.get(), 0);
	} else {
		if (SSL_CTX_load_verify_locations(ctx.get(), p.cert.c_str(), nullptr) != 1)
			ssl_fail("trust anchor");
		SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
	}
	return ctx;
}

struct ssl_pair {
	tcp_pair fds;
	ctx_ptr cctx, sctx;
	ssl_ptr client, server;	// client on fds.a, server on fds.b
};

ssl_pair ossl_connect(const pki &p, cipher c, tls v)
{
	ssl_pair s{tcp_loopback_pair(), make_ctx(false, p, c, v), make_ctx(true, p, c, v), {}, {}};
	s.client.reset(SSL_new(s.cctx.get()));
	s.server.reset(SSL_new(s.sctx.get()));
	if (!s.client || !s.server)
		ssl_fail("SSL_new");
	SSL_set_fd(s.client.get(), s.fds.a.get());
	SSL_set_fd(s.server.get(), s.fds.b.get());
	SSL_set_tlsext_host_name(s.client.get(), "localhost");
	SSL_set1_host(s.client.get(), "localhost");
	auto srv = std::async(std::launch::async, [&] { return SSL_accept(s.server.get()); });
	int cr = SSL_connect(s.client.get());
	int sr = srv.get();
	if (cr != 1 || sr != 1)
		ssl_fail("OpenSSL handshake");
	return s;
}

void ssl_write_all(SSL *ssl, const std::uint8_t *p, std::size_t n)
{
	while (n > 0) {
		std::size_t w = 0;
		if (SSL_write_ex(ssl, p, n, &w) != 1)
			ssl_fail("SSL_write");
		p += w;
		n -= w;
	}
}

// Reads data.size() bytes with `chunk` buffers, checking them.
void ssl_read_check(SSL *ssl, const std::vector<std::uint8_t> &data, std::size_t chunk)
{
	std::vector<std::uint8_t> buf(chunk);
	std::size_t got = 0;
	while (got < data.size()) {
		std::size_t r = 0;
		if (SSL_read_ex(ssl, buf.data(), std::min(chunk, data.size() - got), &r) != 1)
			ssl_fail("SSL_read");
		if (std::memcmp(buf.data(), data.data() + got, r) != 0)
			throw std::runtime_error("OpenSSL received bytes that differ from those sent");
		got += r;
	}
}

} // namespace

std::string to_string(cipher c)
{
	return c == cipher::aes128gcm ? "aes128gcm" : "chacha20";
}

std::string to_string(tls v)
{
	return v == tls::v12 ? "1.2" : "1.3";
}

std::string to_string(tx_mode m)
{
	switch (m) {
	case tx_mode::plain: return "send";
	case tx_mode::more: return "send+MSG_MORE";
	case tx_mode::sendfile: return "sendfile";
	case tx_mode::lib_coalesced: return "library coalescing";
	}
	return "?";
}

std::string crypto_name(cipher c)
{
	return std::string(cipher_kernel_name(lib_cipher(c)));
}

ktlsaccel::cipher lib_cipher(cipher c)
{
	return c == cipher::aes128gcm ? ktlsaccel::cipher::aes_128_gcm
				      : ktlsaccel::cipher::chacha20_poly1305;
}

tls_version lib_version(tls v)
{
	return v == tls::v12 ? tls_version::tls12 : tls_version::tls13;
}

raw_crypto_info random_key(cipher c, tls v)
{
	return testsupport::random_crypto_info(lib_cipher(c), lib_version(v));
}

pki make_pki(const std::filesystem::path &dir)
{
	std::filesystem::create_directories(dir);
	pki p{dir / "cert.pem", dir / "key.pem"};
	std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
			  " -days 2 -subj /CN=localhost"
			  " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
			  p.key.string() + "' -out '" + p.cert.string() + "' 2>/dev/null";
	if (std::system(cmd.c_str()) != 0)
		throw std::runtime_error("openssl req failed: " + cmd);
	return p;
}

std::vector<std::uint8_t> pattern(std::size_t n)
{
	std::vector<std::uint8_t> v(n);
	std::uint32_t x = 0x12345678;
	for (auto &b : v) {
		x = x * 1103515245 + 12345;
		b = static_cast<std::uint8_t>(x >> 24);
	}
	return v;
}

double ktls_tx(const raw_crypto_info &k, const std::vector<std::uint8_t> &data, std::size_t write_size,
	       tx_mode mode, int file_fd)
{
	auto p = tcp_loopback_pair();
	install(p.a.get(), TLS_TX, k);
	std::size_t wire = 0;
	auto t0 = clock::now();
	std::thread rx([&] { wire = drain(p.b.get()); });
	try {
		std::size_t off = 0;
		while (off < data.size()) {
			std::size_t n = std::min(write_size, data.size() - off);
			bool last = off + n == data.size();
			if (mode == tx_mode::sendfile) {
				off_t fo = static_cast<off_t>(off);
				ssize_t w = ::sendfile(p.a.get(), file_fd, &fo, n);
				if (w < 0 && errno == EINTR)
					continue;
				check(w, "sendfile");
				off += static_cast<std::size_t>(w);
				continue;
			}
			send_all(p.a.get(), data.data() + off, n,
				 mode == tx_mode::more && !last ? MSG_MORE : 0);
			off += n;
		}
	} catch (...) {
		::shutdown(p.b.get(), SHUT_RDWR);
		rx.join();
		throw;
	}
	// close() pushes what kTLS still holds, then FIN.
	p.a.reset();
	rx.join();
	double s = since(t0);
	if (wire < data.size())
		throw std::runtime_error("TX: the receiver got fewer bytes than were sent");
	return s;
}

double lib_tx_coalesced(const std::vector<std::uint8_t> &data, std::size_t write_size)
{
	auto p = tcp_loopback_pair();
	session_keys keys;
	keys.version = tls_version::tls12;
	keys.cipher_type = ktlsaccel::cipher::aes_128_gcm;
	keys.local_role = role::client;
	for (auto *ci : {&keys.tx, &keys.rx}) {
		*ci = crypto_info(keys.version, keys.cipher_type);
		for (auto part : {ci->key(), ci->iv(), ci->salt()})
			if (RAND_bytes(part.data(), static_cast<int>(part.size())) != 1)
				throw std::runtime_error("RAND_bytes failed");
	}
	std::size_t wire = 0;
	clock::time_point t0;
	{
		auto made = connection::install(p.a.get(), std::move(keys));
		if (!made)
			throw std::runtime_error("install: " + made.error().message());
		std::optional<connection> conn(std::move(*made));
		if (auto r = conn->set_coalescing(coalescing{}); !r)
			throw std::runtime_error("set_coalescing: " + r.error().message());
		t0 = clock::now();
		std::thread rx([&] { wire = drain(p.b.get()); });
		std::string err;
		for (std::size_t off = 0; off < data.size() && err.empty(); off += write_size) {
			std::size_t n = std::min(write_size, data.size() - off);
			auto r = conn->send_all(std::as_bytes(std::span(data.data() + off, n)));
			if (!r)
				err = "send: " + r.error().message();
		}
		if (auto r = conn->flush(); err.empty() && !r)
			err = "flush: " + r.error().message();
		if (!err.empty()) {
			::shutdown(p.b.get(), SHUT_RDWR);
			rx.join();
			throw std::runtime_error(err);
		}
		// As ktls_tx(): close() waits for the records still being
		// encrypted and sends them, then FIN (shutdown() would not wait).
		conn.reset();
		p.a.reset();
		rx.join();
	}
	double s = since(t0);
	if (wire < data.size())
		throw std::runtime_error("TX: the receiver got fewer bytes than were sent");
	return s;
}

namespace {

// Fresh keys for one direction each way: what one end sends with, the other
// receives with.
std::pair<session_keys, session_keys> mirrored_keys()
{
	session_keys a, b;
	a.version = b.version = tls_version::tls12;
	a.cipher_type = b.cipher_type = ktlsaccel::cipher::aes_128_gcm;
	a.local_role = role::client;
	b.local_role = role::server;
	for (auto *ci : {&a.tx, &a.rx}) {
		*ci = crypto_info(a.version, a.cipher_type);
		for (auto part : {ci->key(), ci->iv(), ci->salt()})
			if (RAND_bytes(part.data(), static_cast<int>(part.size())) != 1)
				throw std::runtime_error("RAND_bytes failed");
	}
	// (crypto_info is move-only, as it holds keys: copy the parts)
	auto copy = [&](crypto_info &to, crypto_info &from) {
		to = crypto_info(a.version, a.cipher_type);
		std::ranges::copy(from.key(), to.key().begin());
		std::ranges::copy(from.iv(), to.iv().begin());
		std::ranges::copy(from.salt(), to.salt().begin());
		std::ranges::copy(from.rec_seq(), to.rec_seq().begin());
	};
	copy(b.tx, a.rx);
	copy(b.rx, a.tx);
	return {std::move(a), std::move(b)};
}

connection lib_end(int fd, session_keys keys, bool coalesce)
{
	auto made = connection::install(fd, std::move(keys));
	if (!made)
		throw std::runtime_error("install: " + made.error().message());
	if (coalesce)
		if (auto r = made->set_coalescing(coalescing{}); !r)
			throw std::runtime_error("set_coalescing: " + r.error().message());
	return std::move(*made);
}

void lib_recv_exactly(connection &c, std::uint8_t *p, std::size_t n)
{
	while (n) {
		auto r = c.recv(std::as_writable_bytes(std::span(p, n)));
		if (!r)
			throw std::runtime_error("recv: " + r.error().message());
		if (*r == 0)
			throw std::runtime_error("recv: the peer closed");
		p += *r;
		n -= *r;
	}
}

/*
 * Request/response round trips between fds a (the client) and b (the echo),
 * `iterations` of them timed after a warm-up, in microseconds.
 * exchange(msg, back) sends msg and reads the answer into back; echo(buf)
 * reads a request into buf and sends it back; echo_done() runs after the
 * last. A failure on either side shuts both sockets down, so that the
 * other side never waits for it, and is thrown.
 */
template <typename Exchange, typename Echo, typename EchoDone>
std::vector<double> round_trips(int a, int b, std::size_t size, unsigned int iterations,
				Exchange exchange, Echo echo, EchoDone echo_done)
{
	const unsigned int warmup = 5;
	auto stop = [&] {
		::shutdown(a, SHUT_RDWR);
		::shutdown(b, SHUT_RDWR);
	};
	auto msg = pattern(size);
	auto echoer = std::async(std::launch::async, [&]() -> std::string {
		std::vector<std::uint8_t> buf(size);
		try {
			for (unsigned int i = 0; i < warmup + iterations; i++)
				echo(buf);
			echo_done();
		} catch (const std::exception &e) {
			stop();
			return e.what();
		}
		return "";
	});
	std::vector<double> rtt;
	std::vector<std::uint8_t> back(size);
	std::string err;
	try {
		for (unsigned int i = 0; i < warmup + iterations; i++) {
			auto t0 = clock::now();
			exchange(msg, back);
			if (i >= warmup)
				rtt.push_back(since(t0) * 1e6);
			if (back != msg)
				throw std::runtime_error("request/response: the echo differs");
		}
	} catch (const std::exception &e) {
		err = e.what();
		stop();
	}
	std::string eerr = echoer.get();
	if (!err.empty() || !eerr.empty())
		throw std::runtime_error(err.empty() ? eerr : err);
	return rtt;
}

void set_nodelay(int fd)
{
	int one = 1;
	check(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), "TCP_NODELAY");
}

} // namespace

std::vector<double> lib_pingpong(std::size_t size, unsigned int iterations, bool coalesce)
{
	auto p = tcp_loopback_pair();
	set_nodelay(p.a.get());
	set_nodelay(p.b.get());
	auto [ka, kb] = mirrored_keys();
	auto client = lib_end(p.a.get(), std::move(ka), coalesce);
	auto server = lib_end(p.b.get(), std::move(kb), coalesce);
	auto sent = [](const result<void> &r, const char *what) {
		if (!r)
			throw std::runtime_error(std::string(what) + ": " + r.error().message());
	};
	return round_trips(
		p.a.get(), p.b.get(), size, iterations,
		[&](const std::vector<std::uint8_t> &msg, std::vector<std::uint8_t> &back) {
			sent(client.send_all(std::as_bytes(std::span(msg))), "send");
			lib_recv_exactly(client, back.data(), back.size());
		},
		[&](std::vector<std::uint8_t> &buf) {
			lib_recv_exactly(server, buf.data(), buf.size());
			sent(server.send_all(std::as_bytes(std::span(buf))), "echo send");
		},
		// Coalescing may hold the last echo open until a recv(),
		// flush() or the timer: flush it as an application would.
		[&] { sent(server.flush(), "echo flush"); });
}

std::vector<std::uint8_t> ktls_capture(const raw_crypto_info &k, const std::vector<std::uint8_t> &data)
{
	auto p = tcp_loopback_pair();
	install(p.a.get(), TLS_TX, k);
	std::vector<std::uint8_t> wire;
	wire.reserve(data.size() + data.size() / 512 + 64);
	std::thread rx([&] { drain(p.b.get(), &wire); });
	for (std::size_t off = 0; off < data.size(); off += 65536)
		send_all(p.a.get(), data.data() + off, std::min<std::size_t>(65536, data.size() - off), 0);
	p.a.reset();
	rx.join();
	return wire;
}

double ktls_rx(const raw_crypto_info &k, const std::vector<std::uint8_t> &wire,
	       const std::vector<std::uint8_t> &data, std::size_t read_size)
{
	auto p = tcp_loopback_pair();
	install(p.b.get(), TLS_RX, k);
	std::vector<std::uint8_t> buf(read_size);
	auto t0 = clock::now();
	std::thread tx([&] {
		try {
			for (std::size_t off = 0; off < wire.size(); off += 262144)
				send_all(p.a.get(), wire.data() + off,
					 std::min<std::size_t>(262144, wire.size() - off), 0);
		} catch (...) {
		}
		::shutdown(p.a.get(), SHUT_WR);
	});
	std::size_t got = 0;
	std::string err;
	while (got < data.size()) {
		ssize_t r = ::recv(p.b.get(), buf.data(), std::min(read_size, data.size() - got), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? std::string("recv on TLS_RX: ") + std::strerror(errno)
				    : "recv on TLS_RX: EOF before all bytes";
			break;
		}
		if (std::memcmp(buf.data(), data.data() + got, static_cast<std::size_t>(r)) != 0) {
			err = "RX: decrypted bytes differ from those encrypted";
			break;
		}
		got += static_cast<std::size_t>(r);
	}
	double s = since(t0);
	if (!err.empty())
		::shutdown(p.a.get(), SHUT_RDWR);
	tx.join();
	if (!err.empty())
		throw std::runtime_error(err);
	return s;
}

double lib_e2e(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
	       std::size_t write_size)
{
	auto fds = tcp_loopback_pair();
	options base;
	base.version = lib_version(v);
	base.cipher_list = suite12(c);
	base.ciphersuites = suite13(c);
	options so = base, co = base;
	so.role = role::server;
	so.cert_file = p.cert.string();
	so.key_file = p.key.string();
	so.verify_peer = false;
	so.num_tickets = 0;
	co.role = role::client;
	co.ca_file = p.cert.string();
	co.server_name = "localhost";

	std::promise<void> ready;
	auto ready_f = ready.get_future();
	clock::time_point done;
	auto server = std::async(std::launch::async, [&]() -> std::string {
		auto conn = connection::handshake(fds.b.get(), so);
		if (!conn) {
			ready.set_value();
			return "server handshake: " + conn.error().message();
		}
		ready.set_value();
		if (!conn->info().kernel_offload)
			return "server: the kernel did not take the connection";
		std::vector<std::byte> buf(write_size);
		std::size_t got = 0;
		while (got < data.size()) {
			auto r = conn->recv(std::span(buf.data(), std::min(write_size, data.size() - got)));
			if (!r)
				return "server recv: " + r.error().message();
			if (*r == 0)
				return "server recv: EOF before all bytes";
			if (std::memcmp(buf.data(), data.data() + got, *r) != 0)
				return "server: received bytes differ from those sent";
			got += *r;
		}
		done = clock::now();
		return "";
	});
	auto conn = connection::handshake(fds.a.get(), co);
	ready_f.wait();
	if (!conn) {
		::shutdown(fds.a.get(), SHUT_RDWR);
		server.get();
		throw std::runtime_error("client handshake: " + conn.error().message());
	}
	auto t0 = clock::now();
	std::string cerr;
	for (std::size_t off = 0; off < data.size() && cerr.empty(); off += write_size) {
		std::size_t n = std::min(write_size, data.size() - off);
		auto r = conn->send_all(std::as_bytes(std::span(data.data() + off, n)));
		if (!r)
			cerr = "client send: " + r.error().message();
	}
	if (!cerr.empty())
		::shutdown(fds.a.get(), SHUT_RDWR);
	std::string serr = server.get();
	if (!cerr.empty() || !serr.empty())
		throw std::runtime_error(cerr.empty() ? serr : cerr);
	if (!conn->info().kernel_offload)
		throw std::runtime_error("client: the kernel did not take the connection");
	return std::chrono::duration<double>(done - t0).count();
}

double ossl_tx(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
	       std::size_t write_size)
{
	auto s = ossl_connect(p, c, v);
	std::size_t wire = 0;
	auto t0 = clock::now();
	std::thread rx([&] { wire = drain(s.fds.b.get()); });
	try {
		for (std::size_t off = 0; off < data.size(); off += write_size)
			ssl_write_all(s.client.get(), data.data() + off,
				      std::min(write_size, data.size() - off));
	} catch (...) {
		::shutdown(s.fds.b.get(), SHUT_RDWR);
		rx.join();
		throw;
	}
	::shutdown(s.fds.a.get(), SHUT_WR);
	rx.join();
	double t = since(t0);
	if (wire < data.size())
		throw std::runtime_error("TX: the receiver got fewer bytes than were sent");
	return t;
}

double ossl_rx(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
	       std::size_t read_size)
{
	auto s = ossl_connect(p, c, v);
	// The server's records go to memory first (SSL_write in 64 KiB pieces
	// makes full 16 KiB records), then are replayed raw on its socket.
	BIO *mem = BIO_new(BIO_s_mem());
	if (!mem)
		ssl_fail("BIO_new");
	SSL_set0_wbio(s.server.get(), mem);
	for (std::size_t off = 0; off < data.size(); off += 65536)
		ssl_write_all(s.server.get(), data.data() + off, std::min<std::size_t>(65536, data.size() - off));
	char *wp = nullptr;
	long wn = BIO_get_mem_data(mem, &wp);
	std::vector<std::uint8_t> wire(reinterpret_cast<std::uint8_t *>(wp),
				       reinterpret_cast<std::uint8_t *>(wp) + wn);
	auto t0 = clock::now();
	std::thread tx([&] {
		try {
			for (std::size_t off = 0; off < wire.size(); off += 262144)
				send_all(s.fds.b.get(), wire.data() + off,
					 std::min<std::size_t>(262144, wire.size() - off), 0);
		} catch (...) {
		}
	});
	try {
		ssl_read_check(s.client.get(), data, read_size);
	} catch (...) {
		::shutdown(s.fds.b.get(), SHUT_RDWR);
		tx.join();
		throw;
	}
	double t = since(t0);
	tx.join();
	return t;
}

double ossl_e2e(const pki &p, cipher c, tls v, const std::vector<std::uint8_t> &data,
		std::size_t write_size)
{
	auto s = ossl_connect(p, c, v);
	auto t0 = clock::now();
	auto server = std::async(std::launch::async, [&]() -> std::string {
		try {
			ssl_read_check(s.server.get(), data, write_size);
		} catch (const std::exception &e) {
			return e.what();
		}
		return "";
	});
	std::string cerr;
	try {
		for (std::size_t off = 0; off < data.size(); off += write_size)
			ssl_write_all(s.client.get(), data.data() + off,
				      std::min(write_size, data.size() - off));
	} catch (const std::exception &e) {
		cerr = e.what();
		::shutdown(s.fds.a.get(), SHUT_RDWR);
	}
	std::string serr = server.get();
	double t = since(t0);
	if (!cerr.empty() || !serr.empty())
		throw std::runtime_error(cerr.empty() ? serr : cerr);
	return t;
}

std::vector<double> ktls_pingpong(cipher c, tls v, std::size_t size, unsigned int iterations)
{
	auto p = tcp_loopback_pair();
	auto k1 = random_key(c, v), k2 = random_key(c, v);
	install(p.a.get(), TLS_TX, k1);
	install(p.a.get(), TLS_RX, k2);
	install(p.b.get(), TLS_RX, k1);
	install(p.b.get(), TLS_TX, k2);
	set_nodelay(p.a.get());
	set_nodelay(p.b.get());
	return round_trips(
		p.a.get(), p.b.get(), size, iterations,
		[&](const std::vector<std::uint8_t> &msg, std::vector<std::uint8_t> &back) {
			send_all(p.a.get(), msg.data(), msg.size(), 0);
			recv_exactly(p.a.get(), back.data(), back.size());
		},
		[&](std::vector<std::uint8_t> &buf) {
			recv_exactly(p.b.get(), buf.data(), buf.size());
			send_all(p.b.get(), buf.data(), buf.size(), 0);
		},
		[] {});
}

double ktls_many(cipher c, tls v, unsigned int conns, std::size_t per_conn)
{
	std::vector<tcp_pair> pairs;
	for (unsigned int i = 0; i < conns; i++) {
		pairs.push_back(tcp_loopback_pair());
		install(pairs.back().a.get(), TLS_TX, random_key(c, v));
	}
	auto data = pattern(per_conn);
	unique_fd ep(::epoll_create1(EPOLL_CLOEXEC));
	check(ep.get(), "epoll_create1");
	for (unsigned int i = 0; i < conns; i++) {
		epoll_event e{};
		e.events = EPOLLIN;
		e.data.u32 = i;
		check(::epoll_ctl(ep.get(), EPOLL_CTL_ADD, pairs[i].b.get(), &e), "epoll_ctl");
	}
	std::atomic<int> failed{0};
	auto t0 = clock::now();
	std::vector<std::thread> senders;
	for (unsigned int i = 0; i < conns; i++)
		senders.emplace_back([&, i] {
			try {
				for (std::size_t off = 0; off < per_conn; off += 65536)
					send_all(pairs[i].a.get(), data.data() + off,
						 std::min<std::size_t>(65536, per_conn - off), 0);
			} catch (...) {
				failed++;
			}
			pairs[i].a.reset();
		});
	std::vector<std::uint8_t> buf(1 << 20);
	unsigned int open = conns;
	std::size_t wire = 0;
	while (open > 0) {
		epoll_event ev[64];
		int n = ::epoll_wait(ep.get(), ev, 64, 120000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (int j = 0; j < n; j++) {
			int fd = pairs[ev[j].data.u32].b.get();
			ssize_t r = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
			if (r > 0) {
				wire += static_cast<std::size_t>(r);
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
				open--;
			}
		}
	}
	double s = since(t0);
	for (auto &t : senders)
		t.join();
	if (open > 0 || failed || wire < per_conn * conns)
		throw std::runtime_error("many connections: a transfer did not complete");
	return s;
}

double afalg_rate(cipher c, std::size_t total)
{
	kcapi_handle *h = nullptr;
	std::string name = crypto_name(c);
	if (kcapi_aead_init(&h, name.c_str(), 0) != 0)
		throw std::runtime_error("kcapi_aead_init(" + name + ") failed");
	std::unique_ptr<kcapi_handle, void (*)(kcapi_handle *)> guard(h, kcapi_aead_destroy);
	std::vector<std::uint8_t> key(c == cipher::aes128gcm ? 16 : 32, 0x42), iv(12, 7);
	const std::size_t rec = 16384, aad = 13, tag = 16;
	if (kcapi_aead_setkey(h, key.data(), static_cast<std::uint32_t>(key.size())) != 0 ||
	    kcapi_aead_settaglen(h, tag) != 0)
		throw std::runtime_error("AF_ALG " + name + ": setkey/settaglen failed");
	kcapi_aead_setassoclen(h, aad);
	std::vector<std::uint8_t> in(aad + rec, 0x5a), out(aad + rec + tag + 1);
	auto t0 = clock::now();
	std::size_t done = 0;
	while (done < total) {
		ssize_t n = kcapi_aead_encrypt(h, in.data(), in.size(), iv.data(), out.data(),
					       aad + rec + tag, KCAPI_ACCESS_HEURISTIC);
		if (n != static_cast<ssize_t>(aad + rec + tag))
			throw std::runtime_error("AF_ALG " + name + " encrypt failed");
		done += rec;
	}
	return static_cast<double>(done) / since(t0);
}

double evp_rate(cipher c, std::size_t total)
{
	std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX *)> ctx(EVP_CIPHER_CTX_new(),
									 EVP_CIPHER_CTX_free);
	const EVP_CIPHER *ciph = c == cipher::aes128gcm ? EVP_aes_128_gcm() : EVP_chacha20_poly1305();
	std::vector<std::uint8_t> key(32, 0x42), iv(12, 7), in(16384, 0x5a), out(16384 + 32), aad(13, 1);
	unsigned char tagbuf[16];
	auto t0 = clock::now();
	std::size_t done = 0;
	while (done < total) {
		int l = 0;
		if (EVP_EncryptInit_ex(ctx.get(), ciph, nullptr, key.data(), iv.data()) != 1 ||
		    EVP_EncryptUpdate(ctx.get(), nullptr, &l, aad.data(), static_cast<int>(aad.size())) != 1 ||
		    EVP_EncryptUpdate(ctx.get(), out.data(), &l, in.data(), static_cast<int>(in.size())) != 1 ||
		    EVP_EncryptFinal_ex(ctx.get(), out.data() + l, &l) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16, tagbuf) != 1)
			ssl_fail("EVP encrypt");
		done += in.size();
	}
	return static_cast<double>(done) / since(t0);
}

} // namespace ktlsaccel::bench

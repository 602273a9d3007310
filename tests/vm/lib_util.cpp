// SPDX-License-Identifier: MIT
#include "lib_util.hpp"
#include "vm.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace ktlsaccel::vmtest {

namespace {

/*
 * In-process OpenSSL peers write with write(2): a peer that keeps talking
 * after the library side closed must get EPIPE, not kill the test binary.
 */
const bool sigpipe_ignored = [] {
	signal(SIGPIPE, SIG_IGN);
	return true;
}();

} // namespace

fs::path scratch_dir()
{
	static const fs::path dir = [] {
		const char *t = std::getenv("TMPDIR");
		std::string tmpl = std::string(t && *t ? t : "/tmp") + "/ktlsaccel-lib.XXXXXX";
		if (!mkdtemp(tmpl.data()))
			throw std::runtime_error("mkdtemp failed");
		return fs::path(tmpl);
	}();
	return dir;
}

const pki &test_pki()
{
	/* Made fresh every run: no private key ever lives in the tree. */
	static const pki p = [] {
		pki k;
		k.dir = scratch_dir() / "pki";
		fs::create_directories(k.dir);
		k.ca = k.dir / "ca.pem";
		k.cert = k.dir / "leaf.pem";
		k.key = k.dir / "leaf.key";
		std::string d = k.dir.string();
		{
			std::ofstream ext(k.dir / "leaf.ext");
			ext << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
			       "basicConstraints=CA:FALSE\n"
			       "keyUsage=digitalSignature\n"
			       "extendedKeyUsage=serverAuth,clientAuth\n";
		}
		check_output("cd " + d +
			     " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
			     " -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=ktlsaccel test CA'"
			     " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
			     " -keyout leaf.key -out leaf.csr -subj '/CN=localhost'"
			     " && openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key"
			     " -CAcreateserial -out leaf.pem -days 2 -extfile leaf.ext");
		return k;
	}();
	return p;
}

listener tcp_listen()
{
	listener l;
	l.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	int one = 1;
	setsockopt(l.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(l.fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0 ||
	    listen(l.fd.get(), 8) < 0 ||
	    getsockname(l.fd.get(), reinterpret_cast<sockaddr *>(&a), &len) < 0)
		throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
	l.port = ntohs(a.sin_port);
	return l;
}

unique_fd tcp_accept(const listener &l)
{
	int fd = accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
	if (fd < 0)
		throw std::runtime_error(std::string("accept: ") + std::strerror(errno));
	return unique_fd(fd);
}

unique_fd tcp_connect(std::uint16_t port, std::chrono::milliseconds patience)
{
	auto until = std::chrono::steady_clock::now() + patience;
	for (;;) {
		unique_fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons(port);
		if (connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0) {
			/*
			 * While nothing listens yet, loopback TCP can connect a
			 * socket to itself when the kernel picks the target port
			 * as the source port: a handshake would then wait for
			 * its own ClientHello to answer. Try again.
			 */
			sockaddr_in self{};
			socklen_t len = sizeof(self);
			getsockname(fd.get(), reinterpret_cast<sockaddr *>(&self), &len);
			if (self.sin_port != a.sin_port)
				return fd;
		}
		if (std::chrono::steady_clock::now() > until)
			throw std::runtime_error("connect to port " + std::to_string(port) + ": " +
						 std::strerror(errno));
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
}

std::uint16_t free_port()
{
	return tcp_listen().port;
}

std::vector<std::byte> pattern(std::size_t size, std::uint32_t seed)
{
	std::vector<std::byte> v(size);
	std::uint64_t x = 0x9e3779b97f4a7c15ULL * (seed + 1);
	for (std::size_t i = 0; i < size; i++) {
		/* xorshift64: varied bytes, no long runs */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = static_cast<std::byte>(x >> 32);
	}
	return v;
}

void write_file(const fs::path &p, const std::vector<std::byte> &data)
{
	std::ofstream f(p, std::ios::binary);
	f.write(reinterpret_cast<const char *>(data.data()), static_cast<std::streamsize>(data.size()));
	if (!f)
		throw std::runtime_error("cannot write " + p.string());
}

std::vector<std::byte> read_file(const fs::path &p)
{
	std::ifstream f(p, std::ios::binary);
	std::vector<char> v((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	std::vector<std::byte> out(v.size());
	std::memcpy(out.data(), v.data(), v.size());
	return out;
}

static std::size_t mib_from_env(const char *name, std::size_t dflt)
{
	const char *v = std::getenv(name);
	std::size_t mib = v && *v ? std::strtoul(v, nullptr, 10) : dflt;
	return (mib ? mib : dflt) << 20;
}

std::size_t bulk_size() { return mib_from_env("KTLSACCEL_TEST_BULK_MIB", 4); }
std::size_t module_bulk_size() { return mib_from_env("KTLSACCEL_TEST_MODULE_BULK_MIB", 4); }

process::process(const spec &s)
{
	int in_pipe[2] = {-1, -1};
	if (!s.stdin_file && pipe2(in_pipe, O_CLOEXEC) < 0)
		throw std::runtime_error("pipe failed");
	pid_ = fork();
	if (pid_ < 0)
		throw std::runtime_error("fork failed");
	if (pid_ == 0) {
		int in = s.stdin_file ? open(s.stdin_file->c_str(), O_RDONLY) : in_pipe[0];
		int out = open(s.stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(s.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || out < 0 || err < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		std::vector<char *> argv;
		for (const auto &a : s.argv)
			argv.push_back(const_cast<char *>(a.c_str()));
		argv.push_back(nullptr);
		execvp(argv[0], argv.data());
		_exit(127);
	}
	if (!s.stdin_file) {
		::close(in_pipe[0]);
		stdin_.reset(in_pipe[1]);
	}
}

process::~process()
{
	if (!reaped_) {
		kill(pid_, SIGKILL);
		waitpid(pid_, nullptr, 0);
	}
}

void process::feed_stdin(const std::vector<std::byte> &data)
{
	std::size_t done = 0;
	while (stdin_ && done < data.size()) {
		ssize_t n = ::write(stdin_.get(), data.data() + done, data.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* the child went away: its exit status tells */
		done += static_cast<std::size_t>(n);
	}
	close_stdin();
}

void process::close_stdin() { stdin_.reset(); }

int process::wait(std::chrono::seconds timeout)
{
	if (reaped_)
		return status_;
	auto until = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		int st;
		pid_t r = waitpid(pid_, &st, WNOHANG);
		if (r == pid_) {
			reaped_ = true;
			status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return status_;
		}
		if (std::chrono::steady_clock::now() > until) {
			kill(pid_, SIGKILL);
			waitpid(pid_, nullptr, 0);
			reaped_ = true;
			status_ = -1;
			return status_;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
}

std::string file_text(const fs::path &p)
{
	std::ifstream f(p);
	return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

bool wait_for_text(const fs::path &file, const std::string &needle)
{
	for (int i = 0; i < 400; i++) {
		if (file_text(file).find(needle) != std::string::npos)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return false;
}

process::spec server_spec(std::vector<std::string> argv, const std::string &name)
{
	process::spec s;
	s.argv = std::move(argv);
	s.stdout_file = scratch_dir() / (name + ".out");
	s.stderr_file = scratch_dir() / (name + ".err");
	fs::remove(s.stdout_file);
	return s;
}

command_result run_retrying(const std::string &command)
{
	return run("for i in $(seq 100); do " + command + " && exit 0; sleep 0.1; done; exit 1");
}

/* s_server's and s_client's options that pin the version and cipher. */
static std::vector<std::string> openssl_version_args(tls_version v, cipher c)
{
	auto name = openssl_cipher_name(v, c);
	if (v == tls_version::tls13)
		return {"-tls1_3", "-ciphersuites", name};
	return {"-tls1_2", "-cipher", name};
}

process::spec openssl_s_server(std::uint16_t port, tls_version v, cipher c,
			       const fs::path &stderr_file)
{
	const auto &k = test_pki();
	process::spec s;
	s.argv = {"openssl", "s_server", "-quiet", "-naccept", "1",
		  "-accept", "127.0.0.1:" + std::to_string(port),
		  "-cert", k.cert, "-key", k.key};
	for (auto &a : openssl_version_args(v, c))
		s.argv.push_back(a);
	s.stderr_file = stderr_file;
	return s;
}

process::spec openssl_s_client(std::uint16_t port, tls_version v, cipher c,
			       const fs::path &stderr_file)
{
	const auto &k = test_pki();
	process::spec s;
	s.argv = {"openssl", "s_client", "-quiet", "-connect",
		  "127.0.0.1:" + std::to_string(port), "-CAfile", k.ca,
		  "-verify_return_error", "-servername", "localhost"};
	for (auto &a : openssl_version_args(v, c))
		s.argv.push_back(a);
	s.stderr_file = stderr_file;
	return s;
}

std::string openssl_cipher_name(tls_version v, cipher c)
{
	if (v == tls_version::tls13) {
		switch (c) {
		case cipher::aes_128_gcm: return "TLS_AES_128_GCM_SHA256";
		case cipher::aes_256_gcm: return "TLS_AES_256_GCM_SHA384";
		case cipher::chacha20_poly1305: return "TLS_CHACHA20_POLY1305_SHA256";
		case cipher::aes_128_ccm: return "TLS_AES_128_CCM_SHA256";
		}
	}
	switch (c) {
	case cipher::aes_128_gcm: return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case cipher::aes_256_gcm: return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case cipher::chacha20_poly1305: return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case cipher::aes_128_ccm: return "ECDHE-ECDSA-AES128-CCM";
	}
	return {};
}

ssl_ctx_ptr peer_ctx(role r, tls_version v, cipher c)
{
	ssl_ctx_ptr ctx(SSL_CTX_new(r == role::server ? TLS_server_method() : TLS_client_method()));
	SSL_CTX_set_min_proto_version(ctx.get(), static_cast<int>(v));
	SSL_CTX_set_max_proto_version(ctx.get(), static_cast<int>(v));
	auto name = openssl_cipher_name(v, c);
	if (v == tls_version::tls13)
		SSL_CTX_set_ciphersuites(ctx.get(), name.c_str());
	else
		SSL_CTX_set_cipher_list(ctx.get(), name.c_str());
	const auto &k = test_pki();
	if (r == role::server) {
		SSL_CTX_use_certificate_chain_file(ctx.get(), k.cert.c_str());
		SSL_CTX_use_PrivateKey_file(ctx.get(), k.key.c_str(), SSL_FILETYPE_PEM);
	} else {
		SSL_CTX_load_verify_locations(ctx.get(), k.ca.c_str(), nullptr);
		SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
	}
	return ctx;
}

options lib_options(role r, tls_version v, cipher c)
{
	const auto &k = test_pki();
	options o;
	o.role = r;
	o.version = v;
	if (v == tls_version::tls13)
		o.ciphersuites = openssl_cipher_name(v, c);
	else
		o.cipher_list = openssl_cipher_name(v, c);
	o.ca_file = k.ca;
	if (r == role::server) {
		o.cert_file = k.cert;
		o.key_file = k.key;
		o.verify_peer = false;
	} else {
		o.server_name = "localhost";
	}
	return o;
}

handshaken_pair handshake_pair(const handshake_fn &client, const handshake_fn &server)
{
	auto l = tcp_listen();
	std::promise<result<connection>> server_conn;
	unique_fd server_fd;
	std::thread acceptor([&] {
		server_fd = tcp_accept(l);
		server_conn.set_value(server(server_fd.get()));
	});
	auto client_fd = tcp_connect(l.port);
	auto client_conn = client(client_fd.get());
	if (!client_conn)
		::shutdown(client_fd.get(), SHUT_RDWR);
	acceptor.join();
	return {std::move(client_fd), std::move(server_fd), std::move(client_conn),
		server_conn.get_future().get()};
}

handshaken_pair handshake_pair(tls_version v, cipher c)
{
	return handshake_pair(
		[&](int fd) { return connection::handshake(fd, lib_options(role::client, v, c)); },
		[&](int fd) { return connection::handshake(fd, lib_options(role::server, v, c)); });
}

void expect_one_way(connection &from, connection &to, const std::vector<std::byte> &data)
{
	std::thread tx([&] {
		EXPECT_TRUE(from.send_all(data));
		EXPECT_TRUE(from.shutdown());
	});
	std::error_code end;
	auto got = recv_to_end(to, &end);
	tx.join();
	EXPECT_FALSE(end) << end.message();
	ASSERT_EQ(got.size(), data.size());
	EXPECT_TRUE(got == data) << "received bytes differ";
}

std::vector<std::byte> recv_exactly(connection &conn, std::size_t n)
{
	std::vector<std::byte> out(n);
	std::size_t got = 0;
	while (got < n) {
		auto r = conn.recv(std::span(out).subspan(got));
		if (!r || *r == 0)
			break;
		got += *r;
	}
	out.resize(got);
	return out;
}

void exchange_both_ways(connection &client, connection &server, std::size_t size,
			std::uint32_t seed)
{
	const auto down = pattern(size, seed), up = pattern(size, seed + 1);
	std::thread tx([&] { EXPECT_TRUE(server.send_all(down)); });
	auto got_down = recv_exactly(client, down.size());
	tx.join();
	EXPECT_TRUE(got_down == down) << "client received different bytes";
	std::thread tx2([&] { EXPECT_TRUE(client.send_all(up)); });
	auto got_up = recv_exactly(server, up.size());
	tx2.join();
	EXPECT_TRUE(got_up == up) << "server received different bytes";
}

std::vector<std::byte> recv_to_end(connection &conn, std::error_code *end)
{
	std::vector<std::byte> out;
	std::vector<std::byte> buf(64 * 1024);
	for (;;) {
		auto r = conn.recv(buf);
		if (!r) {
			*end = r.error();
			return out;
		}
		if (*r == 0) {
			*end = {};
			return out;
		}
		out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(*r));
	}
}

std::optional<flow_watch> flow_watch::start()
{
	auto c = control::client::open();
	if (!c) {
		ADD_FAILURE() << "control family: " << control::describe(c.error());
		return std::nullopt;
	}
	auto f = c->dump_flows();
	if (!f) {
		ADD_FAILURE() << "flow dump: " << control::describe(f.error(), c->extack());
		return std::nullopt;
	}
	/* ids only grow: anything newer than the newest now is ours to see */
	std::uint64_t after = 0;
	for (const auto &x : *f)
		after = std::max(after, x.id);
	return flow_watch(std::move(*c), after);
}

std::vector<control::flow_info> flow_watch::flows()
{
	std::vector<control::flow_info> mine;
	auto f = ctl_.dump_flows();
	if (!f) {
		ADD_FAILURE() << "flow dump: " << control::describe(f.error(), ctl_.extack());
		return mine;
	}
	for (auto &x : *f)
		if (x.id > after_ && x.pid == static_cast<std::uint32_t>(::getpid()))
			mine.push_back(std::move(x));
	return mine;
}

std::string flow_watch::describe_all()
{
	auto f = ctl_.dump_flows();
	if (!f)
		return "flow dump failed: " + control::describe(f.error(), ctl_.extack());
	std::string s = "flows after id " + std::to_string(after_) + " (this pid " +
			std::to_string(::getpid()) + "):\n";
	for (const auto &x : *f)
		s += "  id=" + std::to_string(x.id) + " pid=" + std::to_string(x.pid) +
		     " comm=" + x.comm + " alg=" + x.alg + " dir=" + std::string(to_string(x.direction)) +
		     " submitted=" + std::to_string(x.stats.submitted) +
		     " bytes=" + std::to_string(x.stats.bytes) +
		     " max_in_flight=" + std::to_string(x.stats.max_in_flight) + "\n";
	/* debugfs lists them all in one read: a second opinion on the dump */
	s += "debugfs:\n" + run("cat /sys/kernel/debug/ktlsaccel/flows").output;
	return s;
}

void set_pipeline_latency(std::uint32_t us)
{
	auto ctl = control::client::open();
	ASSERT_TRUE(ctl) << control::describe(ctl.error());
	control::config_change change;
	change.latency_us = us;
	auto r = ctl->set_config(change);
	ASSERT_TRUE(r) << control::describe(r.error(), ctl->extack());
}

std::uint64_t flow_bytes(const std::vector<control::flow_info> &flows, control::flow_direction d)
{
	std::uint64_t n = 0;
	for (const auto &f : flows)
		if (f.direction == d)
			n += f.stats.bytes;
	return n;
}

} // namespace ktlsaccel::vmtest

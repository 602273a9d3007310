/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the libktlsaccel tests in the guest (test_lib_*.cpp): a
 * throwaway PKI made at run time, loopback TCP, OpenSSL peers in-process
 * and `openssl s_server`/`s_client` processes.
 */
#pragma once

#include "vm.h"

#include <testsupport/fd.hpp>

#include <ktlsaccel/control.hpp>
#include <ktlsaccel/ktlsaccel.hpp>

#include <openssl/ssl.h>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ktlsaccel::vmtest {

using testsupport::unique_fd;

/* CA and leaf (EC P-256, CN/SAN localhost + 127.0.0.1), made once per run. */
struct pki {
	std::filesystem::path dir, ca, cert, key;
};
const pki &test_pki();

/* A scratch directory for this test process (under $TMPDIR or /tmp). */
std::filesystem::path scratch_dir();

/* Loopback TCP. */
struct listener {
	unique_fd fd;
	std::uint16_t port = 0;
};
listener tcp_listen();
unique_fd tcp_accept(const listener &l);
/* Connects to 127.0.0.1:port, retrying for a while (a server starting). */
unique_fd tcp_connect(std::uint16_t port, std::chrono::milliseconds patience = std::chrono::seconds(20));
/* A port nobody listens on right now. */
std::uint16_t free_port();

/* Deterministic pseudo-random bytes (not a secret, just varied data). */
std::vector<std::byte> pattern(std::size_t size, std::uint32_t seed = 1);
void write_file(const std::filesystem::path &p, const std::vector<std::byte> &data);
std::vector<std::byte> read_file(const std::filesystem::path &p);

/* Bytes per bulk transfer: KTLSACCEL_TEST_BULK_MIB, default 4 MiB. */
std::size_t bulk_size();
/* The same with ktlsaccel.ko loaded: KTLSACCEL_TEST_MODULE_BULK_MIB, default 4 MiB. */
std::size_t module_bulk_size();

/* A child process (execvp) with stdin/stdout/stderr redirected. */
class process {
public:
	struct spec {
		std::vector<std::string> argv;
		std::optional<std::filesystem::path> stdin_file;  /* else a pipe we hold */
		std::filesystem::path stdout_file = "/dev/null";
		std::filesystem::path stderr_file = "/dev/null";
	};
	explicit process(const spec &s);
	process(process &&) = delete;
	~process();
	/* Writes to its stdin pipe (blocking), then closes it: EOF. */
	void feed_stdin(const std::vector<std::byte> &data);
	/* Closes our end of its stdin pipe (if any): EOF for the child. */
	void close_stdin();
	/* Exit status, or -1 if it had to be killed after the timeout. */
	int wait(std::chrono::seconds timeout = std::chrono::seconds(300));
	pid_t pid() const { return pid_; }

private:
	pid_t pid_ = -1;
	unique_fd stdin_;
	bool reaped_ = false;
	int status_ = -1;
};

/* Whatever the file holds ("" if nothing): a tool's output for a message. */
std::string file_text(const std::filesystem::path &p);
/* Waits up to 20 s until the file shows `needle` (a server says it listens). */
bool wait_for_text(const std::filesystem::path &file, const std::string &needle);

/*
 * A server program's spec with its stdout and stderr in scratch_dir() as
 * <name>.out and <name>.err; the .out of an earlier run is removed, so
 * that its "listening" does not count for this one.
 */
process::spec server_spec(std::vector<std::string> argv, const std::string &name);
/* Runs a client command line, retrying for 10 s while its server starts
 * (servers that print nothing until a client comes cannot be waited for). */
command_result run_retrying(const std::string &command);

/*
 * `openssl s_server` for one connection on 127.0.0.1:port with the test
 * PKI's leaf, and `openssl s_client` to 127.0.0.1:port trusting its CA
 * (for "localhost"); both pinned to one version and cipher, quiet, stderr
 * to stderr_file.
 */
process::spec openssl_s_server(std::uint16_t port, tls_version v, cipher c,
			       const std::filesystem::path &stderr_file);
process::spec openssl_s_client(std::uint16_t port, tls_version v, cipher c,
			       const std::filesystem::path &stderr_file);
/*
 * How long `openssl s_server` may take to listen (tcp_connect()'s
 * patience): it took over 20 s in a guest sharing 2 host cores with ten
 * other guests.
 */
constexpr std::chrono::seconds openssl_start_patience{180};

/* OpenSSL objects for in-process peers. */
struct ssl_ctx_free {
	void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct ssl_free {
	void operator()(SSL *s) const { SSL_free(s); }
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;

/* OpenSSL names of a cipher for TLS 1.2 (ECDSA suites) and TLS 1.3. */
std::string openssl_cipher_name(tls_version v, cipher c);

/* A peer's SSL_CTX pinned to one version and cipher (server: our leaf). */
ssl_ctx_ptr peer_ctx(role r, tls_version v, cipher c);

/* ktlsaccel options to talk to the peers above. */
options lib_options(role r, tls_version v, cipher c);

/*
 * Both ends of a loopback connection, each handshaken by its function on
 * its fd: the server's in a thread on the accepted socket. A client that
 * fails shuts its socket down, so that the server's handshake ends too.
 */
struct handshaken_pair {
	unique_fd client_fd, server_fd;
	result<connection> client, server;
};
using handshake_fn = std::function<result<connection>(int fd)>;
handshaken_pair handshake_pair(const handshake_fn &client, const handshake_fn &server);
/* The library (OpenSSL backend) on both ends, with lib_options(). */
handshaken_pair handshake_pair(tls_version v, cipher c);

/*
 * Sends data on `from` in one send_all() (from a thread), then its
 * close_notify; reads `to` until that close_notify and expects every
 * byte. Fatal failures: call it inside ASSERT_NO_FATAL_FAILURE().
 */
void expect_one_way(connection &from, connection &to, const std::vector<std::byte> &data);

/* Reads until n bytes, EOF (0) or an error; returns what it got. */
std::vector<std::byte> recv_exactly(connection &conn, std::size_t n);
/*
 * The server sends `size` bytes down, the client reads them all (and any
 * post-handshake messages before them), then sends `size` up; both
 * byte-exact (seed and seed + 1 patterns).
 */
void exchange_both_ways(connection &client, connection &server, std::size_t size,
			std::uint32_t seed);
/* Reads until recv() returns 0 or fails; returns the data and the result. */
std::vector<std::byte> recv_to_end(connection &conn, std::error_code *end);

/*
 * With ktlsaccel.ko loaded: the module's flows (one per tfm, so one per
 * kTLS socket direction) that this process created after start(). Tells
 * apart a test's sockets from whatever else uses the module.
 */
class flow_watch {
public:
	/* Fails the test (and gives nullopt) without the control family. */
	static std::optional<flow_watch> start();
	/* This process's flows created since start(); empty and a test
	 * failure if the dump fails. */
	std::vector<control::flow_info> flows();
	/* All flows, one per line, for a failure message. */
	std::string describe_all();

private:
	explicit flow_watch(control::client c, std::uint64_t after) : ctl_(std::move(c)), after_(after) {}
	control::client ctl_;
	std::uint64_t after_;
};

/*
 * With ktlsaccel.ko loaded: the modelled pipeline latency, which keeps
 * records in the rings long enough to see them there under TCG. Fatal
 * failures: call it inside ASSERT_NO_FATAL_FAILURE().
 */
void set_pipeline_latency(std::uint32_t us);

/* Sum of the bytes of @flows that ran in direction @d (TX: encrypt, RX: decrypt). */
std::uint64_t flow_bytes(const std::vector<control::flow_info> &flows, control::flow_direction d);

} // namespace ktlsaccel::vmtest

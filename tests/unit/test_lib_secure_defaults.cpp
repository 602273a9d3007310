// SPDX-License-Identifier: MIT
//
// libktlsaccel secure by default (issue 19), on the host, which has no kTLS:
//  - a client that verifies the peer must name it (OpenSSL and Mbed TLS):
//    a chain checked without a name takes any certificate of the CAs;
//  - the default cipher lists never negotiate a suite kTLS cannot take
//    (AES-256-CCM is in OpenSSL's "AESCCM" family, not in kTLS), and a
//    caller's lists are narrowed unless userspace may take over;
//  - a refused hand-over leaves the plaintext OpenSSL decrypted in the SSL;
//  - a signal (EINTR) ends neither a handshake nor a blocking recv() of the
//    userspace fallback, and that fallback takes one thread sending while
//    another receives.
// A handshake that should succeed falls back to userspace TLS here: the
// host cannot take the keys, which is also how a refused hand-over is made.
#include <ktlsaccel/ktlsaccel.hpp>
#ifdef KTLSACCEL_HAVE_MBEDTLS
#include <ktlsaccel/mbedtls.hpp>
#endif

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "unit_tls.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace ktlsaccel;

namespace {

using namespace unit;

struct outcome {
	result<connection> client, server;
};

// Both ends on loopback; a client that fails closes its side so that the
// server's handshake ends too.
outcome run(tcp_pair &p, const options &co, const options &so)
{
	auto server = std::async(std::launch::async, [&] { return connection::handshake(p.server, so); });
	auto client = connection::handshake(p.client, co);
	if (!client)
		shutdown(p.client, SHUT_RDWR);
	auto srv = server.get();
	return {std::move(client), std::move(srv)};
}

} // namespace

TEST(LibSecureDefaults, VerifyingClientWithoutServerNameIsRefused)
{
	tcp_pair p;
	auto co = client_options();
	co.server_name.clear();
	/* the man in the middle's certificate is valid for "localhost" only */
	auto r = run(p, co, server_options());
	ASSERT_FALSE(r.client) << "a verifying client without a name accepted a certificate";
	EXPECT_EQ(r.client.error(), errc::invalid_argument) << r.client.error().message();
}

TEST(LibSecureDefaults, NonVerifyingClientNeedsNoServerName)
{
	tcp_pair p;
	auto co = client_options();
	co.server_name.clear();
	co.verify_peer = false;
	auto r = run(p, co, server_options());
	ASSERT_TRUE(r.client) << r.client.error().message();
	ASSERT_TRUE(r.server) << r.server.error().message();
	/* info() (issue 20): no SNI was sent, no client certificate */
	EXPECT_EQ(r.server->info().server_name, "");
	EXPECT_TRUE(r.server->info().peer_certificate.empty());
	EXPECT_EQ(r.server->info().peer_subject, "");
}

#ifdef KTLSACCEL_HAVE_MBEDTLS
TEST(LibSecureDefaults, MbedtlsVerifyingClientWithoutServerNameIsRefused)
{
	/* refused before any I/O: a peer that is gone must not be what fails it */
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	options co;
	co.ca_file = pki_dir() / "ca.pem";
	auto r = mbedtls::handshake(sv[0], co);
	close(sv[0]);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), errc::invalid_argument) << r.error().message();
}
#endif

// info() (issue 20): the SNI name the client asked for, and the peer's
// certificate, compared with the file the peer loaded it from.
TEST(LibSecureDefaults, InfoNamesTheSniHostAndThePeerCertificate)
{
	tcp_pair p;
	auto so = server_options();
	so.verify_peer = true;	/* asks for the client's certificate */
	so.ca_file = pki_dir() / "ca.pem";
	auto co = client_options();
	co.cert_file = pki_dir() / "leaf.pem";
	co.key_file = pki_dir() / "leaf.key";
	auto r = run(p, co, so);
	ASSERT_TRUE(r.client) << r.client.error().message();
	ASSERT_TRUE(r.server) << r.server.error().message();

	std::vector<std::uint8_t> leaf_der;
	{
		std::unique_ptr<FILE, int (*)(FILE *)> f(fopen((pki_dir() / "leaf.pem").c_str(), "r"),
							 fclose);
		ASSERT_TRUE(f);
		X509 *x = PEM_read_X509(f.get(), nullptr, nullptr, nullptr);
		ASSERT_TRUE(x);
		unsigned char *der = nullptr;
		int len = i2d_X509(x, &der);
		ASSERT_GT(len, 0);
		leaf_der.assign(der, der + len);
		OPENSSL_free(der);
		X509_free(x);
	}
	for (auto *c : {&*r.client, &*r.server}) {
		const auto &i = c->info();
		SCOPED_TRACE(c == &*r.client ? "client" : "server");
		EXPECT_EQ(i.server_name, "localhost");
		EXPECT_EQ(i.peer_subject, "CN=localhost");
		EXPECT_EQ(i.peer_certificate, leaf_der);
	}
}

TEST(LibSecureDefaults, DefaultListNeverNegotiatesAes256Ccm)
{
	/*
	 * A peer that takes only ECDHE-ECDSA-AES256-CCM: OpenSSL's "AESCCM"
	 * family holds it, kTLS does not. Offered, the handshake succeeds and
	 * the hand-over cannot; not offered, the handshake fails.
	 */
	tcp_pair p;
	auto so = server_options();
	so.version = tls_version::tls12;
	so.cipher_list = "ECDHE-ECDSA-AES256-CCM";
	auto r = run(p, client_options(), so);
	if (r.client) {
		ADD_FAILURE() << "negotiated " << r.client->info().cipher_suite << ", offload error: "
			      << r.client->info().offload_error.message();
		return;
	}
	EXPECT_NE(r.client.error(), errc::invalid_argument) << r.client.error().message();
}

TEST(LibSecureDefaults, DefaultListStillTakesAes128Ccm)
{
	tcp_pair p;
	auto so = server_options();
	so.version = tls_version::tls12;
	so.cipher_list = "ECDHE-ECDSA-AES128-CCM";
	auto r = run(p, client_options(), so);
	ASSERT_TRUE(r.client) << r.client.error().message();
	EXPECT_EQ(r.client->info().cipher_type, cipher::aes_128_ccm);
	EXPECT_NE(r.client->info().offload_error, errc::cipher_unsupported);
}

TEST(LibSecureDefaults, OwnListsAreNarrowedWithoutFallback)
{
	struct {
		tls_version v;
		const char *list, *suites;
	} cases[] = {
		{tls_version::tls12, "ECDHE-ECDSA-AES256-CCM:ECDHE-ECDSA-AES128-CCM8", ""},
		{tls_version::tls13, "", "TLS_AES_128_CCM_8_SHA256"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(std::string(c.list) + c.suites);
		/* nothing kTLS takes is left: refused before any I/O */
		int sv[2];
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		close(sv[1]);
		auto co = client_options();
		co.allow_userspace_fallback = false;
		co.version = c.v;
		co.cipher_list = c.list;
		co.ciphersuites = c.suites;
		auto r = connection::handshake(sv[0], co);
		close(sv[0]);
		ASSERT_FALSE(r);
		EXPECT_EQ(r.error(), errc::cipher_unsupported) << r.error().message();
	}
}

TEST(LibSecureDefaults, OwnListsStandWithFallback)
{
	/* with userspace allowed to take over, the caller's suite is negotiated */
	tcp_pair p;
	auto so = server_options();
	so.version = tls_version::tls12;
	so.cipher_list = "ECDHE-ECDSA-AES256-CCM";
	auto co = client_options();
	co.cipher_list = "ECDHE-ECDSA-AES256-CCM";
	auto r = run(p, co, so);
	ASSERT_TRUE(r.client) << r.client.error().message();
	EXPECT_FALSE(r.client->info().kernel_offload);
	EXPECT_EQ(r.client->info().offload_error, errc::cipher_unsupported);
}

namespace {

struct ssl_ctx_del {
	void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct ssl_del {
	void operator()(SSL *s) const { SSL_free(s); }
};

// An OpenSSL server, prepared, and a plain client over loopback at version
// v, their handshake done (`done`). setup(srv, before_prepare) runs on the
// server twice: before ssl_prepare() and after it.
struct ossl_pair {
	tcp_pair p;
	std::unique_ptr<SSL_CTX, ssl_ctx_del> sctx{SSL_CTX_new(TLS_server_method())};
	std::unique_ptr<SSL_CTX, ssl_ctx_del> cctx{SSL_CTX_new(TLS_client_method())};
	std::unique_ptr<SSL, ssl_del> srv, cli;
	bool done = false;

	template <typename Setup> ossl_pair(int v, std::optional<size_t> tickets, Setup setup)
	{
		for (SSL_CTX *c : {sctx.get(), cctx.get()}) {
			SSL_CTX_set_min_proto_version(c, v);
			SSL_CTX_set_max_proto_version(c, v);
		}
		if (tickets)
			SSL_CTX_set_num_tickets(sctx.get(), *tickets);
		EXPECT_EQ(SSL_CTX_use_certificate_chain_file(sctx.get(),
							     (pki_dir() / "leaf.pem").c_str()), 1);
		EXPECT_EQ(SSL_CTX_use_PrivateKey_file(sctx.get(), (pki_dir() / "leaf.key").c_str(),
						      SSL_FILETYPE_PEM), 1);
		srv.reset(SSL_new(sctx.get()));
		cli.reset(SSL_new(cctx.get()));
		SSL_set_fd(srv.get(), p.server);
		SSL_set_fd(cli.get(), p.client);
		setup(srv.get(), true);
		EXPECT_TRUE(ssl_prepare(srv.get()));
		setup(srv.get(), false);
		auto accepted = std::async(std::launch::async, [&] { return SSL_accept(srv.get()); });
		int connected = SSL_connect(cli.get());
		done = accepted.get() == 1 && connected == 1;
	}
};

} // namespace

TEST(LibSecureDefaults, RefusedOffloadKeepsDecryptedPlaintextInTheSsl)
{
	for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
		SCOPED_TRACE(v);
		ossl_pair pair(v, 0, [](SSL *, bool) {});
		ASSERT_TRUE(pair.done);
		SSL *srv = pair.srv.get(), *cli = pair.cli.get();

		const std::string msg = "0123456789 plaintext already decrypted";
		ASSERT_EQ(SSL_write(cli, msg.data(), static_cast<int>(msg.size())),
			  static_cast<int>(msg.size()));
		char first = 0;
		ASSERT_EQ(SSL_read(srv, &first, 1), 1);
		ASSERT_EQ(SSL_pending(srv), static_cast<int>(msg.size() - 1));

		auto conn = connection::offload(srv);
		if (conn && conn->info().kernel_offload)
			GTEST_SKIP() << "this host has kernel TLS";
		ASSERT_FALSE(conn);
		EXPECT_EQ(conn.error(), errc::kernel_tls_unavailable) << conn.error().message();
		/* "leaving the SSL usable": the rest of the record is still there */
		ASSERT_EQ(SSL_pending(srv), static_cast<int>(msg.size() - 1));
		std::string rest(msg.size() - 1, '\0');
		ASSERT_EQ(SSL_read(srv, rest.data(), static_cast<int>(rest.size())),
			  static_cast<int>(rest.size()));
		EXPECT_EQ(first + rest, msg);
		ERR_clear_error();
	}
}

namespace {

void on_signal(int) {}

// SIGUSR1 with a handler and without SA_RESTART: blocking calls see EINTR.
struct interrupting_signal {
	struct sigaction old {};
	interrupting_signal()
	{
		struct sigaction sa {};
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;
		sigaction(SIGUSR1, &sa, &old);
	}
	~interrupting_signal() { sigaction(SIGUSR1, &old, nullptr); }
	/* several, spaced: at least one lands while the thread waits in a read */
	static void pester(pthread_t t)
	{
		for (int i = 0; i < 20; i++) {
			pthread_kill(t, SIGUSR1);
			usleep(5000);
		}
	}
};

void wait_readable(int fd)
{
	pollfd pfd{fd, POLLIN, 0};
	while (poll(&pfd, 1, -1) < 0) {
	}
}

} // namespace

TEST(LibSecureDefaults, SignalsDoNotEndTheHandshake)
{
	interrupting_signal sig;
	tcp_pair p;
	std::promise<pthread_t> self;
	auto client = std::async(std::launch::async, [&] {
		self.set_value(pthread_self());
		return connection::handshake(p.client, client_options());
	});
	pthread_t t = self.get_future().get();
	/* the ClientHello is out: the client waits for the server's reply */
	wait_readable(p.server);
	interrupting_signal::pester(t);
	auto server = std::async(std::launch::async, [&] {
		return connection::handshake(p.server, server_options());
	});
	auto cli = client.get();
	/* a client that gave up would leave the server waiting for it */
	if (!cli)
		shutdown(p.client, SHUT_RDWR);
	auto srv = server.get();
	ASSERT_TRUE(cli) << "a signal ended the handshake: " << cli.error().message();
	ASSERT_TRUE(srv) << srv.error().message();
}

TEST(LibSecureDefaults, SignalsDoNotEndBlockingFallbackRecv)
{
	tcp_pair p;
	auto r = run(p, client_options(), server_options());
	ASSERT_TRUE(r.client) << r.client.error().message();
	ASSERT_TRUE(r.server) << r.server.error().message();
	if (r.client->info().kernel_offload)
		GTEST_SKIP() << "this host has kernel TLS";

	interrupting_signal sig;
	std::promise<pthread_t> self;
	auto got = std::async(std::launch::async, [&] {
		self.set_value(pthread_self());
		char c = 0;
		auto n = r.client->recv(std::as_writable_bytes(std::span(&c, 1)));
		return n ? std::string(1, c) + std::to_string(*n) : "error: " + n.error().message();
	});
	interrupting_signal::pester(self.get_future().get());
	const char data = 'z';
	ASSERT_TRUE(r.server->send_all(std::as_bytes(std::span(&data, 1))));
	EXPECT_EQ(got.get(), "z1");
}

TEST(LibSecureDefaults, FallbackSendsWhileAnotherThreadReceives)
{
	/*
	 * Each end sends a megabyte from one thread while another thread
	 * receives on it, both ends at once: the documented use, on one SSL.
	 */
	for (auto v : {tls_version::tls12, tls_version::tls13}) {
		SCOPED_TRACE(tls_version_name(v));
		tcp_pair p;
		auto so = server_options();
		so.version = v;
		auto r = run(p, client_options(), so);
		ASSERT_TRUE(r.client) << r.client.error().message();
		ASSERT_TRUE(r.server) << r.server.error().message();
		if (r.client->info().kernel_offload)
			GTEST_SKIP() << "this host has kernel TLS";

		std::vector<std::byte> up(1 << 20), down(1 << 20);
		for (std::size_t i = 0; i < up.size(); i++) {
			up[i] = std::byte(i * 7 + 1);
			down[i] = std::byte(i * 13 + 5);
		}
		auto sender = [](connection &c, const std::vector<std::byte> &d) {
			for (std::size_t off = 0; off < d.size(); off += 1000) {
				auto n = std::min<std::size_t>(1000, d.size() - off);
				if (!c.send_all(std::span(d).subspan(off, n)))
					return false;
			}
			return true;
		};
		auto receiver = [](connection &c, std::size_t want) {
			std::vector<std::byte> got(want);
			std::size_t have = 0;
			while (have < want) {
				auto n = c.recv(std::span(got).subspan(have));
				if (!n || *n == 0)
					break;
				have += *n;
			}
			got.resize(have);
			return got;
		};
		auto ctx = std::async(std::launch::async, [&] { return sender(*r.client, up); });
		auto stx = std::async(std::launch::async, [&] { return sender(*r.server, down); });
		auto srx = std::async(std::launch::async, [&] { return receiver(*r.server, up.size()); });
		auto crx = receiver(*r.client, down.size());
		EXPECT_TRUE(ctx.get());
		EXPECT_TRUE(stx.get());
		EXPECT_TRUE(srx.get() == up) << "server received different data";
		EXPECT_TRUE(crx == down) << "client received different data";
	}
}

TEST(LibSecureDefaults, MaxFragmentLengthRefusesTheHandOver)
{
	/*
	 * An OpenSSL server grants a client's max_fragment_length by itself;
	 * kTLS would then write 16 KiB records that client rejects.
	 */
	for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
		SCOPED_TRACE(v);
		tcp_pair p;
		std::unique_ptr<SSL_CTX, ssl_ctx_del> cctx(SSL_CTX_new(TLS_client_method()));
		SSL_CTX_set_min_proto_version(cctx.get(), v);
		SSL_CTX_set_max_proto_version(cctx.get(), v);
		std::unique_ptr<SSL, ssl_del> cli(SSL_new(cctx.get()));
		SSL_set_fd(cli.get(), p.client);
		ASSERT_EQ(SSL_set_tlsext_max_fragment_length(cli.get(), TLSEXT_max_fragment_length_512), 1);
		auto server = std::async(std::launch::async, [&] {
			return connection::handshake(p.server, server_options());
		});
		ASSERT_EQ(SSL_connect(cli.get()), 1);
		auto srv = server.get();
		ASSERT_TRUE(srv) << srv.error().message();
		EXPECT_FALSE(srv->info().kernel_offload);
		EXPECT_EQ(srv->info().offload_error, errc::record_size_limited)
			<< srv->info().offload_error.message();
		/* and the userspace record layer keeps to the limit */
		std::string msg(2000, 'm');
		ASSERT_TRUE(srv->send_all(std::as_bytes(std::span(msg))));
		std::string got(msg.size(), '\0');
		std::size_t have = 0;
		while (have < got.size()) {
			int n = SSL_read(cli.get(), got.data() + have, static_cast<int>(got.size() - have));
			ASSERT_GT(n, 0);
			have += static_cast<std::size_t>(n);
		}
		EXPECT_EQ(got, msg);
		ERR_clear_error();
	}
}

namespace {

// The keys of ossl_pair's server.
template <typename Setup>
result<session_keys> server_keys_after(int v, Setup setup)
{
	ossl_pair pair(v, std::nullopt, setup);
	EXPECT_TRUE(pair.done);
	auto keys = ssl_export_keys(pair.srv.get());
	ERR_clear_error();
	return keys;
}

size_t pad_everything(SSL *, int, size_t len, void *)
{
	return len < 200 ? 200 - len : 0;
}

size_t pad_application_data(SSL *, int type, size_t, void *)
{
	return type == SSL3_RT_APPLICATION_DATA ? 100 : 0;
}

} // namespace

/*
 * kTLS cannot pad TLS 1.3 records: an SSL that would pad them (a padding
 * callback or block padding, RFC 8446 §5.4) is refused, as with
 * max_fragment_length, instead of silently losing its padding.
 */
TEST(LibSecureDefaults, RecordPaddingRefusesTheHandOver)
{
	struct padding_case {
		const char *what;
		void (*setup)(SSL *, bool before_prepare);
	};
	const padding_case cases[] = {
		{"block padding set before ssl_prepare()",
		 [](SSL *s, bool before) {
			 if (before)
				 SSL_set_block_padding(s, 64);
		 }},
		{"block padding set after ssl_prepare()",
		 [](SSL *s, bool before) {
			 if (!before)
				 SSL_set_block_padding(s, 256);
		 }},
		{"a padding callback",
		 [](SSL *s, bool before) {
			 if (before)
				 SSL_set_record_padding_callback(s, pad_everything);
		 }},
		{"a callback that pads application data only, with an argument",
		 [](SSL *s, bool before) {
			 static int arg;
			 if (before) {
				 SSL_set_record_padding_callback(s, pad_application_data);
				 SSL_set_record_padding_callback_arg(s, &arg);
			 }
		 }},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.what);
		auto keys = server_keys_after(TLS1_3_VERSION, c.setup);
		ASSERT_FALSE(keys);
		EXPECT_EQ(keys.error(), errc::record_padding) << keys.error().message();
		EXPECT_EQ(error_to_errno(keys.error()), EOPNOTSUPP);
	}
	/* the same SSL unpadded hands over; TLS 1.2 records have no padding to lose */
	auto plain = server_keys_after(TLS1_3_VERSION, [](SSL *, bool) {});
	EXPECT_TRUE(plain) << plain.error().message();
	auto tls12 = server_keys_after(TLS1_2_VERSION, cases[0].setup);
	EXPECT_TRUE(tls12) << tls12.error().message();
}

/*
 * sendfile() in the userspace fallback on a non-blocking socket that fills
 * up: the bytes that went out are counted (not an EAGAIN that loses them),
 * the offset agrees, and resuming from it delivers the file byte-exact.
 */
TEST(LibSecureDefaults, FallbackSendfileCountsWhatWentOut)
{
	tcp_pair p;
	auto r = run(p, client_options(), server_options());
	ASSERT_TRUE(r.client && r.server);
	if (r.server->info().kernel_offload)
		GTEST_SKIP() << "this host has kernel TLS";
	/* room for a few of sendfile()'s 64 KiB chunks, far from all of them */
	int big = 1 << 20;
	setsockopt(p.server, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(p.client, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	const std::size_t total = 16 << 20;
	std::vector<char> content(total);
	for (std::size_t i = 0; i < total; i++)
		content[i] = static_cast<char>(i * 13 + i / 4096);
	std::string tmpl = (fs::temp_directory_path() / "ktlsaccel-fsf.XXXXXX").string();
	int file = mkstemp(tmpl.data());
	ASSERT_GE(file, 0);
	fs::remove(tmpl);
	ASSERT_EQ(::write(file, content.data(), total), static_cast<ssize_t>(total));
	int fl = fcntl(p.server, F_GETFL);
	ASSERT_EQ(fcntl(p.server, F_SETFL, fl | O_NONBLOCK), 0);

	/* nobody reads yet: the socket fills */
	off_t off = 0;
	auto first = r.server->sendfile(file, &off, total);
	ASSERT_TRUE(first) << "bytes went out, but the count was lost: " << first.error().message();
	EXPECT_GT(*first, 0u);
	EXPECT_LT(*first, total);
	EXPECT_EQ(off, static_cast<off_t>(*first));

	auto reader = std::async(std::launch::async, [&] {
		std::vector<char> got(total);
		std::size_t have = 0;
		while (have < total) {
			auto n = r.client->recv(std::as_writable_bytes(
				std::span(got.data() + have, total - have)));
			if (!n || *n == 0)
				break;
			have += *n;
		}
		got.resize(have);
		return got;
	});
	while (static_cast<std::size_t>(off) < total) {
		pollfd pfd{p.server, POLLOUT, 0};
		poll(&pfd, 1, -1);
		auto n = r.server->sendfile(file, &off, total - static_cast<std::size_t>(off));
		if (!n && n.error() != std::errc::resource_unavailable_try_again) {
			ADD_FAILURE() << n.error().message();
			shutdown(p.server, SHUT_RDWR);	/* the reader must not wait forever */
			break;
		}
	}
	auto got = reader.get();
	EXPECT_EQ(got.size(), total);
	EXPECT_TRUE(got == content) << "the file did not arrive byte-exact";
	close(file);
}

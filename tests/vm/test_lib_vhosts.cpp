// SPDX-License-Identifier: MIT
//
// The library adopted by a server shaped like nginx (issue 20): one
// thread, non-blocking sockets and epoll, handshakes driven step by step
// (handshake_state), an SNI callback that switches the SSL's SSL_CTX
// between two virtual hosts with their own certificates, many clients at
// once, each echoed byte for byte through the kernel. Clients share one
// context and resume in a second round.
#include "lib_util.hpp"
#include "vm.h"

#include <ktlsaccel/ktlsaccel.hpp>

#include <openssl/ssl.h>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <map>
#include <thread>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;

namespace {

constexpr int clients = 16;
constexpr std::size_t per_client = 16 * 1024;
const std::string vhost_a = "localhost", vhost_b = "other.test";

/* A second leaf of the test CA, for the other virtual host. */
struct vhost_files {
	std::filesystem::path cert, key;
};
const vhost_files &other_vhost()
{
	static const vhost_files f = [] {
		const auto &k = test_pki();
		vhost_files v{k.dir / "other.pem", k.dir / "other.key"};
		check_output("cd " + k.dir.string() +
			     " && printf 'subjectAltName=DNS:" + vhost_b + "\\n' > other.ext"
			     " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
			     " -keyout other.key -out other.csr -subj /CN=" + vhost_b +
			     " && openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key"
			     " -CAcreateserial -out other.pem -days 2 -extfile other.ext");
		return v;
	}();
	return f;
}

int switch_vhost(SSL *ssl, int *, void *other)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name && name == vhost_b)
		SSL_set_SSL_CTX(ssl, static_cast<SSL_CTX *>(other));
	return SSL_TLSEXT_ERR_OK;
}

struct server_report {
	int served = 0, resumed = 0, offloaded = 0;
	std::map<std::string, int> names;
	std::vector<std::string> errors;
};

/*
 * The event loop: accepts `expect` connections, echoes each until its
 * close_notify, answers with ours. Ends when all are served, or after 60 s
 * without any event (a failure).
 */
server_report serve(int listen_fd, const context &ctx, int expect)
{
	struct slot {
		unique_fd fd;
		std::optional<handshake_state> hs;
		std::optional<connection> conn;
		std::vector<std::byte> out;
		std::size_t out_off = 0;
		bool peer_closed = false;
	};
	server_report rep;
	unique_fd ep(epoll_create1(EPOLL_CLOEXEC));
	std::map<int, std::unique_ptr<slot>> slots;
	auto watch = [&](int fd, std::uint32_t events, int op) {
		epoll_event e{};
		e.events = events;
		e.data.fd = fd;
		epoll_ctl(ep.get(), op, fd, &e);
	};
	watch(listen_fd, EPOLLIN, EPOLL_CTL_ADD);
	auto drop = [&](int fd, std::string why) {
		if (!why.empty())
			rep.errors.push_back(std::move(why));
		epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
		slots.erase(fd);
		rep.served++;
	};
	/* after the hand-over: recv() first, since pending plaintext raises no event */
	auto pump = [&](slot &s) {
		std::byte buf[4096];
		for (;;) {
			if (s.out_off < s.out.size()) {
				auto n = s.conn->send(std::span(s.out).subspan(s.out_off));
				if (!n && n.error() == std::errc::resource_unavailable_try_again) {
					watch(s.fd.get(), EPOLLOUT, EPOLL_CTL_MOD);
					return;
				}
				if (!n)
					return drop(s.fd.get(), "send: " + n.error().message());
				s.out_off += *n;
				continue;
			}
			if (s.peer_closed) {
				auto r = s.conn->shutdown();
				return drop(s.fd.get(), r ? "" : "shutdown: " + r.error().message());
			}
			auto n = s.conn->recv(buf);
			if (!n && n.error() == std::errc::resource_unavailable_try_again) {
				if (s.conn->pending() != 0)
					rep.errors.push_back("EAGAIN with plaintext pending");
				watch(s.fd.get(), EPOLLIN, EPOLL_CTL_MOD);
				return;
			}
			if (!n)
				return drop(s.fd.get(), "recv: " + n.error().message());
			if (*n == 0)
				s.peer_closed = true;
			s.out.assign(buf, buf + *n);
			s.out_off = 0;
		}
	};
	auto progress = [&](slot &s) {
		if (s.hs) {
			auto w = s.hs->step();
			if (!w)
				return drop(s.fd.get(), "handshake: " + w.error().message());
			if (*w != handshake_state::want::done) {
				bool rd = *w == handshake_state::want::read;
				watch(s.fd.get(), rd ? EPOLLIN : EPOLLOUT, EPOLL_CTL_MOD);
				return;
			}
			auto c = s.hs->finish();
			s.hs.reset();
			if (!c)
				return drop(s.fd.get(), "hand-over: " + c.error().message());
			s.conn.emplace(std::move(*c));
			rep.names[s.conn->info().server_name]++;
			rep.resumed += s.conn->info().resumed;
			rep.offloaded += s.conn->info().kernel_offload;
		}
		pump(s);
	};

	while (rep.served < expect) {
		epoll_event ev[32];
		int n = epoll_wait(ep.get(), ev, 32, 60000);
		if (n == 0) {
			rep.errors.push_back("no event for 60 s");
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == listen_fd) {
				int c = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (c < 0)
					continue;
				auto s = std::make_unique<slot>();
				s->fd.reset(c);
				auto hs = handshake_state::start(c, ctx);
				if (!hs) {
					rep.errors.push_back("start: " + hs.error().message());
					rep.served++;
					continue;
				}
				s->hs.emplace(std::move(*hs));
				slot &ref = *s;
				slots[c] = std::move(s);
				watch(c, EPOLLIN, EPOLL_CTL_ADD);
				progress(ref);
				continue;
			}
			auto it = slots.find(fd);
			if (it != slots.end())
				progress(*it->second);
		}
	}
	return rep;
}

struct client_report {
	bool ok = false, resumed = false, offloaded = false;
	std::string server_name, peer_subject, error;
};

client_report run_client(std::uint16_t port, const context &ctx, const std::string &name,
			 std::uint32_t seed)
{
	client_report r;
	auto fd = tcp_connect(port);
	auto conn = connection::handshake(fd.get(), ctx, name);
	if (!conn) {
		r.error = "handshake: " + conn.error().message();
		return r;
	}
	r.server_name = conn->info().server_name;
	r.peer_subject = conn->info().peer_subject;
	r.resumed = conn->info().resumed;
	r.offloaded = conn->info().kernel_offload;
	const auto data = pattern(per_client, seed);
	std::thread tx([&] {
		if (!conn->send_all(data) || !conn->shutdown())
			r.error = "send";
	});
	std::error_code end;
	auto got = recv_to_end(*conn, &end);
	tx.join();
	if (end)
		r.error = "recv: " + end.message();
	else if (got != data)
		r.error = "echo differs (" + std::to_string(got.size()) + " bytes)";
	r.ok = r.error.empty();
	return r;
}

} // namespace

TEST(LibVhosts, EpollServerSwitchesVirtualHostsAndClientsResume)
{
	const auto &k = test_pki();
	const auto &b = other_vhost();
	options so;
	so.role = role::server;
	so.cert_file = k.cert;
	so.key_file = k.key;
	so.verify_peer = false;
	so.handshake_timeout = std::chrono::seconds(60);
	auto host_a = context::create(so);
	so.cert_file = b.cert;
	so.key_file = b.key;
	auto host_b = context::create(so);
	ASSERT_TRUE(host_a) << host_a.error().message();
	ASSERT_TRUE(host_b) << host_b.error().message();
	/* nginx: the SNI callback of the default server's SSL_CTX picks the virtual host's */
	SSL_CTX_set_tlsext_servername_callback(host_a->native_handle(), switch_vhost);
	SSL_CTX_set_tlsext_servername_arg(host_a->native_handle(), host_b->native_handle());

	options co;
	co.ca_file = k.ca;
	auto cctx = context::create(co);
	ASSERT_TRUE(cctx) << cctx.error().message();

	auto l = tcp_listen();
	fcntl(l.fd.get(), F_SETFL, O_NONBLOCK);
	for (int round = 0; round < 2; round++) {
		SCOPED_TRACE(round ? "second round (resumed)" : "first round");
		server_report srep;
		std::thread server([&] { srep = serve(l.fd.get(), *host_a, clients); });
		std::vector<client_report> crep(clients);
		std::vector<std::thread> threads;
		for (int i = 0; i < clients; i++)
			threads.emplace_back([&, i] {
				crep[i] = run_client(l.port, *cctx, i % 2 ? vhost_b : vhost_a,
						     std::uint32_t(1000 * round + i));
			});
		for (auto &t : threads)
			t.join();
		server.join();

		int resumed = 0;
		for (int i = 0; i < clients; i++) {
			const auto &want = i % 2 ? vhost_b : vhost_a;
			SCOPED_TRACE("client " + std::to_string(i) + " for " + want);
			EXPECT_TRUE(crep[i].ok) << crep[i].error;
			EXPECT_TRUE(crep[i].offloaded);
			EXPECT_EQ(crep[i].server_name, want);
			/* the virtual host's own certificate, whoever resumed */
			EXPECT_EQ(crep[i].peer_subject, "CN=" + want);
			/* the first round's clients overlap: a late one may resume an early one's */
			if (round == 1) {
				EXPECT_TRUE(crep[i].resumed);
			}
			resumed += crep[i].resumed;
		}
		for (const auto &e : srep.errors)
			ADD_FAILURE() << "server: " << e;
		EXPECT_EQ(srep.served, clients);
		EXPECT_EQ(srep.offloaded, clients);
		EXPECT_EQ(srep.names[vhost_a], clients / 2);
		EXPECT_EQ(srep.names[vhost_b], clients / 2);
		EXPECT_EQ(srep.resumed, resumed) << "the two ends disagree on resumption";
	}
	EXPECT_EQ(cctx->cached_sessions(), 2u);
}

// SPDX-License-Identifier: MIT
//
// A hostile peer against the library's recv() (issue 19): both ends are
// handed to kTLS by the library, then the server's socket is used raw to
// send crafted control records (TLS_SET_RECORD_TYPE), encrypted by the
// kernel with the real keys:
//  - endless TLS 1.2 warning alerts, TLS 1.3 NewSessionTickets (one per
//    record, or a thousand in one record) and TLS 1.2 HelloRequests, then
//    application data: recv() must fail (unexpected_message) within its
//    bound, not return the data after consuming everything;
//  - a few of each between application data: a peer within the bound is
//    served (the count restarts at each application data record).
// The peer stops once the client's socket is reset, so nothing here
// depends on time.
#include "lib_util.hpp"
#include "vm.h"

#include <ktlsaccel/ktlsaccel.hpp>

#include <linux/tls.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

using namespace ktlsaccel;
using namespace ktlsaccel::vmtest;

namespace {

constexpr std::uint8_t record_alert = 21;
constexpr std::uint8_t record_handshake = 22;
constexpr std::uint8_t record_application_data = 23;

/* One record of the given type through the peer socket's kTLS; false on error. */
bool send_raw(int fd, std::uint8_t type, const std::vector<std::uint8_t> &data)
{
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(type))] = {};
	iovec iov{const_cast<std::uint8_t *>(data.data()), data.size()};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_TLS;
	c->cmsg_type = TLS_SET_RECORD_TYPE;
	c->cmsg_len = CMSG_LEN(sizeof(type));
	std::memcpy(CMSG_DATA(c), &type, sizeof(type));
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n == static_cast<ssize_t>(data.size()))
			return true;
		if (n < 0 && errno == EINTR)
			continue;
		return false;
	}
}

const std::vector<std::uint8_t> warning_alert = {1, 100};	/* no_renegotiation */
const std::vector<std::uint8_t> hello_request = {0, 0, 0, 0};
/* RFC 8446 §4.6.1: lifetime, age_add, nonce<0..255>, ticket<1..2^16-1>, extensions */
const std::vector<std::uint8_t> new_session_ticket = {4, 0, 0, 14, 0, 0, 0x0e, 0x10, 1, 2, 3, 4,
						      0, 0, 1, 0x5a, 0, 0};

struct hostile_case {
	const char *name;
	tls_version version;
	std::uint8_t type;
	std::vector<std::uint8_t> record;
};

class LibHostilePeer : public testing::TestWithParam<hostile_case> {};

/*
 * Resets the client's socket (linger 0): a peer blocked sending into it
 * gets an error and stops.
 */
void reset(unique_fd &fd)
{
	linger l{1, 0};
	setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	fd.reset();
}

} // namespace

TEST_P(LibHostilePeer, EndlessControlRecordsEndRecv)
{
	const auto &hc = GetParam();
	auto p = handshake_pair(hc.version, cipher::aes_128_gcm);
	ASSERT_TRUE(p.client) << p.client.error().message();
	ASSERT_TRUE(p.server) << p.server.error().message();
	ASSERT_TRUE(p.client->info().kernel_offload);
	ASSERT_TRUE(p.server->info().kernel_offload);

	/* far beyond any bound; data after them shows a recv() that let them all pass */
	constexpr int flood = 5000;
	int peer = p.server_fd.get();
	int sent = 0;
	std::thread hostile([&] {
		for (; sent < flood; sent++) {
			if (!send_raw(peer, hc.type, hc.record))
				return;
		}
		(void)send_raw(peer, record_application_data, {'x'});
	});
	std::vector<std::byte> buf(64);
	auto r = p.client->recv(buf);
	/* the connection is dead: no close_notify after the fatal alert */
	auto closed = p.client->shutdown();
	reset(p.client_fd);
	hostile.join();
	ASSERT_FALSE(r) << "recv() returned " << *r << " bytes after " << sent
			<< " control records";
	EXPECT_EQ(r.error(), errc::unexpected_message) << r.error().message();
	EXPECT_FALSE(closed) << "shutdown() after a fatal error sent close_notify";
	auto again = p.client->recv(buf);
	EXPECT_FALSE(again);
}

TEST_P(LibHostilePeer, FewControlRecordsBetweenDataPass)
{
	const auto &hc = GetParam();
	auto p = handshake_pair(hc.version, cipher::aes_128_gcm);
	ASSERT_TRUE(p.client) << p.client.error().message();
	ASSERT_TRUE(p.server) << p.server.error().message();

	/*
	 * Three per round (under every bound per run of records), forty
	 * rounds: more than any bound in total, except the per-connection
	 * one of HelloRequests, which is counted apart.
	 */
	const int per_round = 3, rounds = hc.record == hello_request ? 5 : 40;
	int peer = p.server_fd.get();
	std::thread peer_tx([&] {
		for (int i = 0; i < rounds; i++) {
			for (int k = 0; k < per_round; k++)
				ASSERT_TRUE(send_raw(peer, hc.type, hc.record));
			ASSERT_TRUE(send_raw(peer, record_application_data,
					     {static_cast<std::uint8_t>('a' + i % 26)}));
		}
	});
	auto got = recv_exactly(*p.client, static_cast<std::size_t>(rounds));
	peer_tx.join();
	ASSERT_EQ(got.size(), static_cast<std::size_t>(rounds));
	for (int i = 0; i < rounds; i++)
		EXPECT_EQ(got[static_cast<std::size_t>(i)], std::byte('a' + i % 26)) << i;
}

INSTANTIATE_TEST_SUITE_P(
	Peers, LibHostilePeer,
	testing::Values(hostile_case{"Tls12WarningAlerts", tls_version::tls12, record_alert, warning_alert},
			hostile_case{"Tls12HelloRequests", tls_version::tls12, record_handshake,
				     hello_request},
			hostile_case{"Tls13Tickets", tls_version::tls13, record_handshake,
				     new_session_ticket}),
	[](const testing::TestParamInfo<hostile_case> &i) { return std::string(i.param.name); });

TEST(LibHostilePeer, ThousandTicketsInOneRecordEndRecv)
{
	auto p = handshake_pair(tls_version::tls13, cipher::aes_128_gcm);
	ASSERT_TRUE(p.client) << p.client.error().message();
	ASSERT_TRUE(p.server) << p.server.error().message();

	std::vector<std::uint8_t> record;
	for (int i = 0; i < 900; i++)
		record.insert(record.end(), new_session_ticket.begin(), new_session_ticket.end());
	ASSERT_LE(record.size(), 16384u);
	int peer = p.server_fd.get();
	std::thread hostile([&] {
		if (send_raw(peer, record_handshake, record))
			(void)send_raw(peer, record_application_data, {'x'});
	});
	std::vector<std::byte> buf(64);
	auto r = p.client->recv(buf);
	reset(p.client_fd);
	hostile.join();
	ASSERT_FALSE(r) << "recv() returned data after 900 tickets in one record";
	EXPECT_EQ(r.error(), errc::unexpected_message) << r.error().message();
}

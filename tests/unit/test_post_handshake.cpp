// SPDX-License-Identifier: MIT
//
// The post-handshake message rules recv() applies under kTLS, checked on
// the host: splitting with a size cap, and which messages are refused with
// which alert (RFC 8446 §4.6, §5.1; RFC 5246 §7.4.1.1).
#include "post_handshake.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

using namespace ktlsaccel::detail;

namespace {

std::vector<std::uint8_t> message(std::uint8_t type, std::vector<std::uint8_t> body)
{
	std::size_t n = body.size();
	std::vector<std::uint8_t> m = {type, std::uint8_t(n >> 16), std::uint8_t(n >> 8), std::uint8_t(n)};
	m.insert(m.end(), body.begin(), body.end());
	return m;
}

const bool is_server = true, is_client = false;

} // namespace

TEST(PostHandshake, SplitsMessagesAndWaitsForIncompleteOnes)
{
	auto buf = message(hs_new_session_ticket, {1, 2, 3});
	auto ku = message(hs_key_update, {0});
	buf.insert(buf.end(), ku.begin(), ku.end());
	buf.push_back(hs_key_update);	/* the start of a third */

	auto a = next_handshake_message(buf, 0);
	ASSERT_EQ(a.verdict, hs_split::message);
	EXPECT_EQ(a.type, hs_new_session_ticket);
	EXPECT_EQ(a.body.size(), 3u);
	EXPECT_EQ(a.next, 7u);
	auto b = next_handshake_message(buf, a.next);
	ASSERT_EQ(b.verdict, hs_split::message);
	EXPECT_EQ(b.type, hs_key_update);
	EXPECT_EQ(b.next, 12u);
	EXPECT_EQ(next_handshake_message(buf, b.next).verdict, hs_split::need_more);
	EXPECT_EQ(next_handshake_message(buf, buf.size()).verdict, hs_split::need_more);
}

TEST(PostHandshake, OversizedMessageIsRefusedFromItsHeader)
{
	/* only the header has arrived: refused without waiting for 16 MiB */
	const std::vector<std::uint8_t> huge = {hs_new_session_ticket, 0xff, 0xff, 0xff};
	EXPECT_EQ(next_handshake_message(huge, 0).verdict, hs_split::too_long);
	std::size_t n = max_post_handshake_message + 1;
	const std::vector<std::uint8_t> just_over = {hs_new_session_ticket, std::uint8_t(n >> 16),
						     std::uint8_t(n >> 8), std::uint8_t(n)};
	EXPECT_EQ(next_handshake_message(just_over, 0).verdict, hs_split::too_long);
	auto at_cap = message(hs_new_session_ticket, std::vector<std::uint8_t>(max_post_handshake_message));
	EXPECT_EQ(next_handshake_message(at_cap, 0).verdict, hs_split::message);
}

TEST(PostHandshake, KeyUpdateIsCheckedStrictly)
{
	const std::uint8_t zero[] = {0}, one[] = {1}, two[] = {2}, long_body[] = {0, 0};
	auto ok = check_post_handshake(true, &is_client, hs_key_update, zero, false);
	EXPECT_EQ(ok.action, hs_check::key_update);
	EXPECT_FALSE(ok.update_requested);
	auto req = check_post_handshake(true, &is_server, hs_key_update, one, false);
	EXPECT_EQ(req.action, hs_check::key_update);
	EXPECT_TRUE(req.update_requested);

	auto bad_value = check_post_handshake(true, &is_client, hs_key_update, two, false);
	EXPECT_EQ(bad_value.action, hs_check::reject);
	EXPECT_EQ(bad_value.alert, alert_illegal_parameter);
	auto bad_length = check_post_handshake(true, &is_client, hs_key_update, long_body, false);
	EXPECT_EQ(bad_length.action, hs_check::reject);
	EXPECT_EQ(bad_length.alert, alert_decode_error);
	auto not_last = check_post_handshake(true, &is_client, hs_key_update, zero, true);
	EXPECT_EQ(not_last.action, hs_check::reject);
	EXPECT_EQ(not_last.alert, alert_unexpected_message);
	/* no KeyUpdate in TLS 1.2 */
	EXPECT_EQ(check_post_handshake(false, &is_client, hs_key_update, zero, false).action,
		  hs_check::reject);
}

TEST(PostHandshake, TicketsAndHelloRequestsOnlyComeFromServers)
{
	const std::span<const std::uint8_t> none;
	const std::uint8_t ticket[] = {1, 2, 3};
	EXPECT_EQ(check_post_handshake(true, &is_client, hs_new_session_ticket, ticket, false).action,
		  hs_check::drop);
	/* role unknown (connection::install): given the benefit of the doubt */
	EXPECT_EQ(check_post_handshake(true, nullptr, hs_new_session_ticket, ticket, false).action,
		  hs_check::drop);
	auto to_server = check_post_handshake(true, &is_server, hs_new_session_ticket, ticket, false);
	EXPECT_EQ(to_server.action, hs_check::reject);
	EXPECT_EQ(to_server.alert, alert_unexpected_message);

	EXPECT_EQ(check_post_handshake(false, &is_client, hs_hello_request, none, false).action,
		  hs_check::decline_renegotiation);
	EXPECT_EQ(check_post_handshake(false, &is_server, hs_hello_request, none, false).action,
		  hs_check::reject);
	auto with_body = check_post_handshake(false, &is_client, hs_hello_request, ticket, false);
	EXPECT_EQ(with_body.action, hs_check::reject);
	EXPECT_EQ(with_body.alert, alert_decode_error);
	/* TLS 1.2 tickets belong to the handshake, TLS 1.3 HelloRequest does not exist */
	EXPECT_EQ(check_post_handshake(false, &is_client, hs_new_session_ticket, ticket, false).action,
		  hs_check::reject);
	EXPECT_EQ(check_post_handshake(true, &is_client, hs_hello_request, none, false).action,
		  hs_check::reject);
}

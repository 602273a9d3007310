// SPDX-License-Identifier: MIT
//
// Private to libktlsaccel: splitting and judging the handshake messages a
// peer sends after the hand-over (RFC 8446 §4.6, RFC 5246 §7.4.1.1). Pure
// functions in a header so the host unit tests can reach them without kTLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ktlsaccel::detail {

inline constexpr std::uint8_t hs_hello_request = 0;
inline constexpr std::uint8_t hs_new_session_ticket = 4;
inline constexpr std::uint8_t hs_key_update = 24;

inline constexpr std::uint8_t alert_unexpected_message = 10;
inline constexpr std::uint8_t alert_illegal_parameter = 47;
inline constexpr std::uint8_t alert_decode_error = 50;

/*
 * The largest post-handshake message we buffer. A message's length field
 * has 24 bits: without a cap a peer makes us hold 16 MiB. NewSessionTicket
 * is the only big one, and real tickets are a few hundred bytes.
 */
inline constexpr std::size_t max_post_handshake_message = 64 * 1024;

struct hs_split {
	enum { need_more, message, too_long } verdict = need_more;
	std::uint8_t type = 0;
	std::span<const std::uint8_t> body;
	std::size_t next = 0;	// offset just past this message
};

// The message starting at buf[off], if buf holds all of it.
inline hs_split next_handshake_message(std::span<const std::uint8_t> buf, std::size_t off)
{
	hs_split s;
	if (buf.size() - off < 4)
		return s;
	std::size_t len = std::size_t(buf[off + 1]) << 16 | std::size_t(buf[off + 2]) << 8 |
			  buf[off + 3];
	/* checked before waiting for the body, so nothing big is ever buffered */
	if (len > max_post_handshake_message) {
		s.verdict = hs_split::too_long;
		return s;
	}
	if (buf.size() - off - 4 < len)
		return s;
	s.verdict = hs_split::message;
	s.type = buf[off];
	s.body = buf.subspan(off + 4, len);
	s.next = off + 4 + len;
	return s;
}

struct hs_check {
	enum { drop, decline_renegotiation, key_update, reject } action = reject;
	bool update_requested = false;	// key_update: the peer wants ours
	std::uint8_t alert = alert_unexpected_message;	// reject: what to send
};

// What a complete post-handshake message calls for. server: our role, if
// known. trailing: bytes of the same record follow the message.
inline hs_check check_post_handshake(bool tls13, const bool *server, std::uint8_t type,
				     std::span<const std::uint8_t> body, bool trailing)
{
	hs_check c;
	if (tls13 && type == hs_new_session_ticket) {
		/* only servers send tickets (RFC 8446 §4.6.1) */
		if (server && *server)
			return c;
		/* resumption is not offered after the hand-over: drop it */
		c.action = hs_check::drop;
		return c;
	}
	if (!tls13 && type == hs_hello_request) {
		/* only servers send HelloRequest (RFC 5246 §7.4.1.1) */
		if (server && *server)
			return c;
		if (!body.empty()) {
			c.alert = alert_decode_error;
			return c;
		}
		/* a client may decline renegotiation with a warning */
		c.action = hs_check::decline_renegotiation;
		return c;
	}
	if (tls13 && type == hs_key_update) {
		if (body.size() != 1) {
			c.alert = alert_decode_error;
			return c;
		}
		if (body[0] > 1) {
			c.alert = alert_illegal_parameter;
			return c;
		}
		/* RFC 8446 §5.1: a key change must end its record */
		if (trailing)
			return c;
		c.action = hs_check::key_update;
		c.update_requested = body[0] == 1;
		return c;
	}
	return c;
}

/*
 * What a peer may send that is not application data: every control record
 * costs a recvmsg() and returns nothing, so without a bound a peer keeps
 * recv() busy forever. Counted since the last application data, as OpenSSL
 * does for warning alerts (5) and KeyUpdates (32); tickets and
 * HelloRequests, of no use after the hand-over, also per connection.
 */
struct control_budget {
	static constexpr unsigned max_records_in_row = 64;
	static constexpr unsigned max_messages_in_row = 64;
	static constexpr unsigned max_warnings_in_row = 5;
	static constexpr unsigned max_key_updates_in_row = 32;
	static constexpr unsigned max_tickets = 1024;
	static constexpr unsigned max_hello_requests = 16;

	unsigned records_in_row = 0, messages_in_row = 0;
	unsigned warnings_in_row = 0, key_updates_in_row = 0;
	unsigned tickets = 0, hello_requests = 0;

	void on_application_data()
	{
		records_in_row = messages_in_row = warnings_in_row = key_updates_in_row = 0;
	}
	// A whole alert record (handshake records count by message): false
	// once over the bound.
	bool on_control_record() { return ++records_in_row <= max_records_in_row; }
	bool on_warning_alert() { return ++warnings_in_row <= max_warnings_in_row; }
	// A complete post-handshake message of this type.
	bool on_message(std::uint8_t type)
	{
		if (++messages_in_row > max_messages_in_row)
			return false;
		switch (type) {
		case hs_new_session_ticket:
			return ++tickets <= max_tickets;
		case hs_hello_request:
			return ++hello_requests <= max_hello_requests;
		case hs_key_update:
			return ++key_updates_in_row <= max_key_updates_in_row;
		}
		return true;
	}
};

} // namespace ktlsaccel::detail

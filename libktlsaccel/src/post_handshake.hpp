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

} // namespace ktlsaccel::detail

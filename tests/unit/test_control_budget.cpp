// SPDX-License-Identifier: MIT
//
// The bound on what a peer may send that is not application data
// (detail::control_budget): every kind of control record runs out, the run
// restarts at application data, and the per-connection counts do not.
// The in-guest LibHostilePeer tests drive the same bound through kTLS.
#include "post_handshake.hpp"

#include <gtest/gtest.h>

using ktlsaccel::detail::control_budget;
using namespace ktlsaccel::detail;

namespace {

/* How many in a row f() allows before it says no (capped: never endless). */
template <typename F>
unsigned allowed(F f)
{
	unsigned n = 0;
	while (n < 100000 && f())
		n++;
	return n;
}

} // namespace

TEST(ControlBudget, EveryKindRunsOut)
{
	{
		control_budget b;
		EXPECT_EQ(allowed([&] { return b.on_control_record(); }), 64u);
	}
	{
		control_budget b;
		EXPECT_EQ(allowed([&] { return b.on_warning_alert(); }), 5u);
	}
	{
		control_budget b;
		EXPECT_EQ(allowed([&] { return b.on_message(hs_key_update); }), 32u);
	}
	{
		control_budget b;
		EXPECT_EQ(allowed([&] { return b.on_message(hs_new_session_ticket); }), 64u)
			<< "messages in one run, tickets or not";
	}
	{
		control_budget b;
		EXPECT_EQ(allowed([&] { return b.on_message(hs_hello_request); }), 16u);
	}
}

TEST(ControlBudget, ApplicationDataRestartsTheRunNotTheConnectionCounts)
{
	control_budget b;
	for (int round = 0; round < 1000; round++) {
		for (int i = 0; i < 4; i++) {
			ASSERT_TRUE(b.on_control_record()) << round;
			ASSERT_TRUE(b.on_warning_alert()) << round;
			ASSERT_TRUE(b.on_message(hs_key_update)) << round;
		}
		b.on_application_data();
	}

	control_budget t;
	unsigned tickets = 0;
	for (int round = 0; round < 1000 && tickets < 5000; round++) {
		bool ok = true;
		for (int i = 0; i < 3 && ok; i++) {
			ok = t.on_message(hs_new_session_ticket);
			tickets += ok;
		}
		if (!ok)
			break;
		t.on_application_data();
	}
	EXPECT_EQ(tickets, 1024u) << "tickets per connection";

	control_budget h;
	unsigned hello = 0;
	for (int round = 0; round < 100; round++) {
		if (!h.on_message(hs_hello_request))
			break;
		hello++;
		h.on_application_data();
	}
	EXPECT_EQ(hello, 16u) << "HelloRequests per connection";
}

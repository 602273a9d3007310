// SPDX-License-Identifier: MIT
//
// The client's request/reply exchange against a real kernel: the host's own
// generic netlink controller (nlctrl) stands in for ktlsaccel. A do request
// delivers its reply, a dump every part up to NLMSG_DONE, and a request the
// kernel refuses comes back as a failure carrying the errno and the text of
// the extended ack.

#include "control_msg.hpp"

#include <linux/genetlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

using namespace ktlsaccel;

namespace {

struct MsgDeleter {
	void operator()(nl_msg *m) const { nlmsg_free(m); }
};
using Msg = std::unique_ptr<nl_msg, MsgDeleter>;

Msg ctrl_request(int flags = 0, std::uint8_t cmd = CTRL_CMD_GETFAMILY)
{
	Msg m(nlmsg_alloc());
	genlmsg_put(m.get(), NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, flags, cmd, 1);
	return m;
}

std::string family_name(nl_msg *m)
{
	nlattr *tb[CTRL_ATTR_MAX + 1];
	if (genlmsg_parse(nlmsg_hdr(m), 0, tb, CTRL_ATTR_MAX, nullptr) < 0 ||
	    !tb[CTRL_ATTR_FAMILY_NAME])
		return {};
	return nla_get_string(tb[CTRL_ATTR_FAMILY_NAME]);
}

class ControlNetlink : public testing::Test {
protected:
	void SetUp() override
	{
		auto s = detail::open_genl_socket();
		ASSERT_TRUE(s) << s.error().message();
		sk = std::move(*s);
	}
	detail::nl_sock_ptr sk{nullptr, nullptr};
};

} // namespace

TEST_F(ControlNetlink, DoRequestDeliversItsOneReply)
{
	auto m = ctrl_request();
	nla_put_string(m.get(), CTRL_ATTR_FAMILY_NAME, "nlctrl");
	std::vector<std::string> names;
	auto r = detail::transact(sk.get(), m.get(), [&](nl_msg *reply) -> detail::control_result<void> {
		names.push_back(family_name(reply));
		return {};
	});
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_EQ(names, std::vector<std::string>{"nlctrl"});
}

TEST_F(ControlNetlink, DumpDeliversEveryPartUntilDone)
{
	auto m = ctrl_request(NLM_F_DUMP);
	std::set<std::string> names;
	auto r = detail::transact(sk.get(), m.get(), [&](nl_msg *reply) -> detail::control_result<void> {
		names.insert(family_name(reply));
		return {};
	});
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_TRUE(names.count("nlctrl"));
	/* The socket is still in step: another request works. */
	auto again = ctrl_request();
	nla_put_string(again.get(), CTRL_ATTR_FAMILY_NAME, "nlctrl");
	EXPECT_TRUE(detail::transact(sk.get(), again.get()));
}

TEST_F(ControlNetlink, RefusalCarriesErrnoAndExtackText)
{
	auto m = ctrl_request();
	std::uint8_t one_byte = 7; /* CTRL_ATTR_FAMILY_ID is a u16 */
	nla_put(m.get(), CTRL_ATTR_FAMILY_ID, 1, &one_byte);
	auto r = detail::transact(sk.get(), m.get());
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code.category(), std::system_category());
	EXPECT_NE(r.error().code.value(), 0);
	EXPECT_NE(r.error().extack.find("policy"), std::string::npos)
		<< "extack: '" << r.error().extack << "'";
	EXPECT_EQ(r.error().message().rfind(r.error().extack + ": ", 0), 0u) << r.error().message();
}

TEST_F(ControlNetlink, ReplyParseErrorIsReturnedAfterTheExchangeEnds)
{
	auto m = ctrl_request();
	nla_put_string(m.get(), CTRL_ATTR_FAMILY_NAME, "nlctrl");
	auto r = detail::transact(sk.get(), m.get(), [](nl_msg *) -> detail::control_result<void> {
		return std::unexpected(
			detail::control_failure{make_error_code(control::errc::protocol), "bad reply"});
	});
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code, control::errc::protocol);
	/* the ack was consumed: the next exchange is not confused by it */
	auto again = ctrl_request();
	nla_put_string(again.get(), CTRL_ATTR_FAMILY_NAME, "nlctrl");
	EXPECT_TRUE(detail::transact(sk.get(), again.get()));
}

TEST_F(ControlNetlink, UnknownCommandIsRefused)
{
	auto m = ctrl_request(0, 200);
	auto r = detail::transact(sk.get(), m.get());
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code, std::errc::operation_not_supported);
}

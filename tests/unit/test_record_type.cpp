// SPDX-License-Identifier: MIT
//
// Parsing TLS_GET_RECORD_TYPE control messages as tls_sw_recvmsg() puts
// them (put_cmsg(msg, SOL_TLS, TLS_GET_RECORD_TYPE, 1, &type)).
#include <ktlsaccel/keys.hpp>

#include <linux/tls.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstring>

using ktlsaccel::record_type_from_cmsg;

namespace {

struct control {
	alignas(cmsghdr) char buf[2 * CMSG_SPACE(sizeof(int))] = {};
	msghdr msg{};

	control() { msg.msg_control = buf; }

	cmsghdr *add(int level, int type, const void *data, std::size_t len)
	{
		msg.msg_controllen += CMSG_SPACE(len);
		cmsghdr *c = CMSG_FIRSTHDR(&msg);
		while (c && c->cmsg_len)
			c = CMSG_NXTHDR(&msg, c);
		c->cmsg_level = level;
		c->cmsg_type = type;
		c->cmsg_len = CMSG_LEN(len);
		std::memcpy(CMSG_DATA(c), data, len);
		return c;
	}
};

} // namespace

TEST(RecordType, EachContentTypeIsReported)
{
	for (unsigned char type : {20, 21, 22, 23}) {
		control c;
		c.add(SOL_TLS, TLS_GET_RECORD_TYPE, &type, 1);
		EXPECT_EQ(record_type_from_cmsg(c.msg), type);
	}
}

TEST(RecordType, NoControlMessageIsMinusOne)
{
	msghdr msg{};
	EXPECT_EQ(record_type_from_cmsg(msg), -1);
}

TEST(RecordType, OtherLevelsAndTypesAreIgnored)
{
	control c;
	int tos = 4;
	c.add(IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	EXPECT_EQ(record_type_from_cmsg(c.msg), -1);
	unsigned char type = 21;
	c.add(SOL_TLS, TLS_GET_RECORD_TYPE, &type, 1);
	EXPECT_EQ(record_type_from_cmsg(c.msg), 21);
}

TEST(RecordType, SetRecordTypeIsNotAReceivedType)
{
	control c;
	unsigned char type = 22;
	c.add(SOL_TLS, TLS_SET_RECORD_TYPE, &type, 1);
	EXPECT_EQ(record_type_from_cmsg(c.msg), -1);
}

// SPDX-License-Identifier: MIT
//
// Errors of the control client as people read them, and the real client on
// a host without the module: ControlClient::open() and ConfigMonitor::open()
// report "not loaded".

#include "cli_fixtures.h"

#include <ktlsaccel/control.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

using namespace ktlsaccel;

TEST(ControlErrors, NotLoadedMessageIsExact)
{
	Error e{make_error_code(ControlErrc::not_loaded), {}};
	EXPECT_TRUE(e.not_loaded());
	EXPECT_EQ(e.message(), "ktlsaccel is not loaded: insmod ktlsaccel.ko");
}

TEST(ControlErrors, EpermNamesCapNetAdmin)
{
	Error e{std::error_code(EPERM, std::system_category()), {}};
	EXPECT_TRUE(e.not_permitted());
	EXPECT_NE(e.message().find("CAP_NET_ADMIN"), std::string::npos) << e.message();
}

TEST(ControlErrors, ExtackTextLeadsTheMessage)
{
	Error e{std::error_code(EINVAL, std::system_category()),
		"queues: value 300 is out of range 1..256"};
	EXPECT_EQ(e.message(), "queues: value 300 is out of range 1..256: Invalid argument");
	EXPECT_TRUE(e.code == std::errc::invalid_argument);
}

TEST(ControlErrors, ErrorCodesCompareWithTheEnum)
{
	std::error_code ec = ControlErrc::timeout;
	EXPECT_EQ(ec.category().name(), std::string("ktlsaccel-control"));
	EXPECT_NE(ec, make_error_code(ControlErrc::protocol));
}

TEST(ControlErrors, ClientOnAHostWithoutTheModuleIsNotLoaded)
{
	if (ktlsaccel::testfix::module_loaded())
		GTEST_SKIP() << "ktlsaccel is loaded on this host";
	auto c = ControlClient::open();
	ASSERT_FALSE(c);
	EXPECT_TRUE(c.error().not_loaded()) << c.error().message();
	auto m = ConfigMonitor::open();
	ASSERT_FALSE(m);
	EXPECT_TRUE(m.error().not_loaded()) << m.error().message();
}

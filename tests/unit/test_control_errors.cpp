// SPDX-License-Identifier: MIT
//
// Errors of the control client as people read them (control::describe()),
// the conditions its own codes map to, and the real client on a host
// without the module: client::open() and monitor::open() report "not
// loaded".

#include "cli_fixtures.h"

#include <ktlsaccel/control.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

using namespace ktlsaccel;

TEST(ControlErrors, NotLoadedMessageIsExact)
{
	std::error_code ec = control::errc::not_loaded;
	EXPECT_EQ(control::describe(ec), "ktlsaccel is not loaded: insmod ktlsaccel.ko");
	/* An extack cannot come with it (no family, no request): ignored. */
	EXPECT_EQ(control::describe(ec, "x"), "ktlsaccel is not loaded: insmod ktlsaccel.ko");
}

TEST(ControlErrors, EpermNamesCapNetAdmin)
{
	std::error_code ec(EPERM, std::system_category());
	std::string text = control::describe(ec);
	EXPECT_NE(text.find("CAP_NET_ADMIN"), std::string::npos) << text;
	EXPECT_EQ(text.rfind(ec.message(), 0), 0u) << text;
}

TEST(ControlErrors, ExtackTextLeadsTheMessage)
{
	std::error_code ec(EINVAL, std::system_category());
	EXPECT_EQ(control::describe(ec, "queues: value 300 is out of range 1..256"),
		  "queues: value 300 is out of range 1..256: Invalid argument");
	EXPECT_EQ(control::describe(ec), "Invalid argument");
}

TEST(ControlErrors, ErrorCodesCompareWithTheEnum)
{
	std::error_code ec = control::errc::timeout;
	EXPECT_EQ(ec.category().name(), std::string("ktlsaccel-control"));
	EXPECT_EQ(&ec.category(), &control::category());
	EXPECT_EQ(ec, control::errc::timeout);
	EXPECT_NE(ec, make_error_code(control::errc::protocol));
	/* Not the TLS library's errc of the same name. */
	EXPECT_NE(ec, make_error_code(ktlsaccel::errc::timeout));
}

TEST(ControlErrors, CodesMapToPortableConditions)
{
	EXPECT_EQ(make_error_code(control::errc::not_loaded), std::errc::no_such_device);
	EXPECT_EQ(make_error_code(control::errc::protocol), std::errc::protocol_error);
	EXPECT_EQ(make_error_code(control::errc::timeout), std::errc::timed_out);
	EXPECT_NE(make_error_code(control::errc::timeout), std::errc::protocol_error);
	/* The condition is not the code: an ENODEV is not "not loaded". */
	EXPECT_NE(std::error_code(ENODEV, std::system_category()), control::errc::not_loaded);
}

TEST(ControlErrors, ClientOnAHostWithoutTheModuleIsNotLoaded)
{
	if (ktlsaccel::testfix::module_loaded())
		GTEST_SKIP() << "ktlsaccel is loaded on this host";
	auto c = control::client::open();
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error(), control::errc::not_loaded) << control::describe(c.error());
	auto m = control::monitor::open();
	ASSERT_FALSE(m);
	EXPECT_EQ(m.error(), control::errc::not_loaded) << control::describe(m.error());
}

// SPDX-License-Identifier: MIT
//
// Error codes say what happened and map to the errno of the C API.
#include <ktlsaccel/error.hpp>
#include <ktlsaccel/ktlsaccel.h>

#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cerrno>

using namespace ktlsaccel;
using testing::HasSubstr;

TEST(Errors, AlertNamesFollowRfc8446)
{
	EXPECT_EQ(alert_name(0), "close_notify");
	EXPECT_EQ(alert_name(20), "bad_record_mac");
	EXPECT_EQ(alert_name(40), "handshake_failure");
	EXPECT_EQ(alert_name(116), "certificate_required");
	EXPECT_EQ(alert_name(255), "unknown");
}

TEST(Errors, FatalAlertMessageNamesTheAlert)
{
	std::error_code ec(20, alert_category());
	EXPECT_THAT(ec.message(), HasSubstr("bad_record_mac"));
	EXPECT_EQ(error_to_errno(ec), EPROTO);
}

TEST(Errors, LibraryConditionsMapToErrno)
{
	EXPECT_EQ(error_to_errno(errc::bad_record_mac), EBADMSG);
	EXPECT_EQ(error_to_errno(errc::key_update_unsupported), EOPNOTSUPP);
	EXPECT_EQ(error_to_errno(errc::pending_input), EBUSY);
	EXPECT_EQ(error_to_errno(errc::kernel_tls_unavailable), ENOPROTOOPT);
	EXPECT_EQ(error_to_errno(std::error_code(ECONNRESET, std::system_category())), ECONNRESET);
	EXPECT_EQ(error_to_errno({}), 0);
	std::error_code ec = errc::bad_record_mac;
	EXPECT_TRUE(ec == std::errc::bad_message);
}

TEST(Errors, KeyUpdateMessageSaysWhichKernelIsNeeded)
{
	std::error_code ec = errc::key_update_unsupported;
	EXPECT_THAT(ec.message(), HasSubstr("not supported by this kernel"));
	EXPECT_THAT(ec.message(), HasSubstr("6.14"));
}

TEST(Errors, CApiReportsMessageOfLastFailure)
{
	struct ktlsaccel_conn *conn = reinterpret_cast<struct ktlsaccel_conn *>(1);
	EXPECT_EQ(ktlsaccel_offload_ssl(nullptr, &conn), -EINVAL);
	EXPECT_EQ(conn, nullptr);
	EXPECT_THAT(ktlsaccel_last_error(), HasSubstr("invalid argument"));
	EXPECT_EQ(ktlsaccel_prepare_ssl(nullptr), -EINVAL);
	ktlsaccel_conn_free(nullptr);
}

// SPDX-License-Identifier: MIT
//
// The C API refuses bad arguments with -EINVAL before any I/O, instead of
// crashing on a NULL conn or storing EFAULT as a fatal connection error.
#include <ktlsaccel/ktlsaccel.h>

#include <gtest/gtest.h>

#include <cerrno>

TEST(CApiArgs, NullConnectionIsInvalid)
{
	char buf[4] = {};
	EXPECT_EQ(ktlsaccel_send(nullptr, buf, sizeof(buf), 0), -EINVAL);
	EXPECT_EQ(ktlsaccel_recv(nullptr, buf, sizeof(buf), 0), -EINVAL);
	EXPECT_EQ(ktlsaccel_sendfile(nullptr, 0, nullptr, 1), -EINVAL);
	EXPECT_EQ(ktlsaccel_key_update(nullptr, 0), -EINVAL);
	EXPECT_EQ(ktlsaccel_shutdown(nullptr), -EINVAL);
	EXPECT_EQ(ktlsaccel_conn_fd(nullptr), -EINVAL);
	EXPECT_EQ(ktlsaccel_set_coalescing(nullptr, 1000, 0), -EINVAL);
	EXPECT_EQ(ktlsaccel_flush(nullptr), -EINVAL);
	EXPECT_EQ(ktlsaccel_flush_due(nullptr), -EINVAL);
	struct timespec ts = {};
	EXPECT_EQ(ktlsaccel_flush_deadline(nullptr, &ts), -EINVAL);
	EXPECT_STRNE(ktlsaccel_last_error(), "no error");
	ktlsaccel_conn_free(nullptr);
}

TEST(CApiArgs, NullOutputPointerIsInvalid)
{
	EXPECT_EQ(ktlsaccel_offload_ssl(nullptr, nullptr), -EINVAL);
	EXPECT_EQ(ktlsaccel_prepare_ssl_ctx(nullptr), -EINVAL);
	struct ktlsaccel_conn *c = reinterpret_cast<struct ktlsaccel_conn *>(1);
	EXPECT_EQ(ktlsaccel_offload_ssl(nullptr, &c), -EINVAL);
	EXPECT_EQ(c, nullptr);
}

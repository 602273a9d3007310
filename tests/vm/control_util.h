/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the control-plane tests in the guest: load ktlsaccel.ko for a
 * test and find the ktlsaccel CLI in the build tree.
 */
#pragma once

#include "module_util.h"
#include "vm.h"

#include <ktlsaccel/control.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>

namespace ktlsaccel::vmtest {

using ktlsaccel::ConfigChange;
using ktlsaccel::ControlClient;
using ktlsaccel::DeviceInfo;

/* The configuration now, to restore after a test that changes it. */
inline std::optional<DeviceInfo> saved_config()
{
	auto c = ControlClient::open();
	if (!c)
		return std::nullopt;
	auto d = c->get_device();
	return d ? std::optional<DeviceInfo>(*d) : std::nullopt;
}

/* Faults off and every setting as in `saved`. */
inline void restore_config(const DeviceInfo &saved)
{
	auto c = ControlClient::open();
	ASSERT_TRUE(c) << c.error().message();
	auto r = c->clear_fault();
	EXPECT_TRUE(r) << r.error().message();
	ConfigChange all;
	all.queues = saved.queues;
	all.depth = saved.depth;
	all.dispatch = saved.dispatch;
	all.latency_us = saved.latency_us;
	all.throughput = saved.throughput;
	all.inline_threshold = saved.inline_threshold;
	all.decrypt = saved.decrypt;
	r = c->set_config(all);
	EXPECT_TRUE(r) << r.error().message();
}

/* build/tools/ktlsaccel/ktlsaccel, quoted for /bin/sh. */
inline std::string cli()
{
	return "'" + (build_dir() / "tools" / "ktlsaccel" / "ktlsaccel").string() + "'";
}

/* Runs the CLI unprivileged: nobody, no capabilities at all. */
inline std::string as_nobody(const std::string &command)
{
	return "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "
	       "--bounding-set=-all " + command;
}

} // namespace ktlsaccel::vmtest

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

/* control::client etc. in tests that only use namespace vmtest. */
namespace control = ktlsaccel::control;

/* The configuration now, to restore after a test that changes it. */
inline std::optional<control::device_info> saved_config()
{
	auto c = control::client::open();
	if (!c)
		return std::nullopt;
	auto d = c->get_device();
	return d ? std::optional<control::device_info>(*d) : std::nullopt;
}

/* Faults off and every setting as in `saved`. */
inline void restore_config(const control::device_info &saved)
{
	auto c = control::client::open();
	ASSERT_TRUE(c) << control::describe(c.error());
	auto r = c->clear_fault();
	EXPECT_TRUE(r) << control::describe(r.error(), c->extack());
	control::config_change all;
	all.queues = saved.queues;
	all.depth = saved.depth;
	all.dispatch = saved.dispatch;
	all.latency_us = saved.latency_us;
	all.throughput = saved.throughput;
	all.inline_threshold = saved.inline_threshold;
	all.decrypt = saved.decrypt;
	r = c->set_config(all);
	EXPECT_TRUE(r) << control::describe(r.error(), c->extack());
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

// SPDX-License-Identifier: MIT
//
// The flow dump (KTLSACCEL_CMD_FLOW_GET) lists every live tfm, also when
// many are created at the same time on several CPUs: the registry must
// stay in id order, because a dump resumes by id. The debugfs flows file,
// read in one go under the registry lock, is the reference.

#include "control_util.h"
#include "module_util.h"

#include <ktlsaccel/control.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

using namespace ktlsaccel::vmtest;

namespace {

std::set<std::uint64_t> debugfs_flow_ids(pid_t pid)
{
	std::set<std::uint64_t> ids;
	for (const auto &f : flow_stats())
		if (f.at("pid") == std::to_string(pid))
			ids.insert(num(f, "flow"));
	return ids;
}

} // namespace

TEST(ControlFlows, DumpListsEveryFlowOfTfmsCreatedConcurrently)
{
	loaded_module module;
	constexpr int threads = 8, per_thread = 24, rounds = 10;
	const pid_t pid = getpid();
	int incomplete = 0;

	for (int round = 0; round < rounds; round++) {
		/* Each AF_ALG handle binds one tfm of the module's gcm(aes). */
		std::vector<std::vector<std::unique_ptr<aead>>> handles(threads);
		std::atomic<int> ready{0};
		std::vector<std::thread> workers;
		for (int t = 0; t < threads; t++) {
			workers.emplace_back([&, t] {
				ready++;
				while (ready < threads)
					std::this_thread::yield();
				for (int i = 0; i < per_thread; i++)
					handles[t].push_back(std::make_unique<aead>("ktlsaccel-gcm-aes"));
			});
		}
		for (auto &w : workers)
			w.join();

		auto reference = debugfs_flow_ids(pid);
		ASSERT_EQ(reference.size(), std::size_t(threads * per_thread));

		auto ctl = ktlsaccel::ControlClient::open();
		ASSERT_TRUE(ctl) << ctl.error().message();
		auto flows = ctl->dump_flows();
		ASSERT_TRUE(flows) << flows.error().message();
		std::set<std::uint64_t> dumped;
		for (const auto &f : *flows)
			if (f.pid == static_cast<std::uint32_t>(pid))
				dumped.insert(f.id);
		if (dumped != reference)
			incomplete++;
		EXPECT_EQ(dumped, reference)
			<< "round " << round << ": the dump lists " << dumped.size() << " of "
			<< reference.size() << " flows";
	}
	std::printf("%d of %d rounds dumped an incomplete flow list\n", incomplete, rounds);
}

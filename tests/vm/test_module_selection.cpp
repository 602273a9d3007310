// SPDX-License-Identifier: MIT
//
// With ktlsaccel.ko loaded, users that ask the crypto API for an algorithm
// by name (kTLS does: "gcm(aes)") get this driver: it has the highest
// priority in /proc/crypto and a request by name lands on its counters.

#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace ktlsaccel::vmtest;

namespace {

/* The driver with the highest priority for @name in /proc/crypto. */
std::string best_driver(const std::string &name)
{
	std::ifstream f("/proc/crypto");
	std::string line, cur_name, cur_driver, best;
	int best_prio = -1;
	bool larval = false;
	auto close = [&](int prio) {
		if (cur_name == name && !larval && prio > best_prio) {
			best_prio = prio;
			best = cur_driver;
		}
	};
	int prio = -1;
	while (std::getline(f, line)) {
		if (line.empty()) {
			close(prio);
			cur_name.clear();
			cur_driver.clear();
			prio = -1;
			larval = false;
			continue;
		}
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		std::string k = line.substr(0, line.find(' ')), v = line.substr(colon + 2);
		if (k == "name")
			cur_name = v;
		else if (k == "driver")
			cur_driver = v;
		else if (k == "priority")
			prio = std::stoi(v);
		else if (k == "type" && v == "larval")
			larval = true;
	}
	close(prio);
	return best;
}

} // namespace

TEST(ModuleSelection, AlgorithmNamesResolveToThisDriver)
{
	loaded_module mod;
	struct {
		const char *name, *driver;
		size_t keylen, ivlen;
	} algs[] = {
		{"gcm(aes)", "ktlsaccel-gcm-aes", 16, 12},
		{"rfc7539(chacha20,poly1305)", "ktlsaccel-rfc7539-chacha20-poly1305", 32, 12},
		{"ccm(aes)", "ktlsaccel-ccm-aes", 16, 16},
	};
	for (auto &alg : algs) {
		EXPECT_EQ(best_driver(alg.name), alg.driver);
		aead a(alg.name);
		ASSERT_EQ(a.setkey(bytes(alg.keylen, 7)), 0);
		bytes iv(alg.ivlen, 0), out;
		iv[0] = 3; /* a valid CCM L' */
		ASSERT_EQ(a.encrypt(iv, bytes(5, 1), bytes(64, 2), 16, out), 0) << alg.name;
		auto flows = flows_of(alg.driver);
		ASSERT_EQ(flows.size(), 1u) << alg.name;
		EXPECT_EQ(num(flows[0], "submitted"), 1u);
		EXPECT_EQ(num(flows[0], "keylen"), alg.keylen);
		EXPECT_NE(flows[0]["comm"], "");
		EXPECT_EQ(std::stoi(flows[0]["pid"]), getpid());
	}
}

TEST(ModuleSelection, PriorityParameterDecidesTheWinner)
{
	loaded_module mod("priority=50");
	EXPECT_NE(best_driver("gcm(aes)"), "ktlsaccel-gcm-aes");
	EXPECT_FALSE(best_driver("gcm(aes)").empty());
}

/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the tests of ktlsaccel.ko (tests/vm/test_module_*.cpp): load
 * and unload it, read its debugfs counters, run AEAD requests through
 * AF_ALG (libkcapi) by driver name, and read public test-vector files.
 */
#pragma once

#include <testsupport/module.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

struct kcapi_handle;

namespace ktlsaccel::vmtest {

using bytes = std::vector<uint8_t>;
using kv = std::map<std::string, std::string>;

/*
 * Loads ktlsaccel.ko with the given parameters, waits until the kernel's
 * self-tests of all its algorithms have finished (6.12 runs them after
 * insmod returns), and unloads it again when destroyed. The self-tests run
 * through the engine: latency and faults are set after loading, or they
 * would slow down or fail the self-tests.
 */
class loaded_module {
public:
	explicit loaded_module(const std::string &params = "");
	~loaded_module();
	loaded_module(const loaded_module &) = delete;
	loaded_module &operator=(const loaded_module &) = delete;
};

/*
 * Loading, load-time parameters and run-time settings (netlink):
 * testsupport/'s, which ktlsaccel-bench uses too.
 */
using testsupport::unload_module;
using testsupport::module_loaded;
using testsupport::wait_for_selftests;
using testsupport::get_param;
using testsupport::set_knob;
using testsupport::get_knob;

/* Parsed debugfs files: /sys/kernel/debug/ktlsaccel/{engine,queues,flows}. */
kv engine_stats();
std::vector<kv> queue_stats();
std::vector<kv> flow_stats();
/* The flows whose driver is @driver. */
std::vector<kv> flows_of(const std::string &driver);
uint64_t num(const kv &m, const std::string &key);

/* "queues=4 depth=16 latency_us=100": one DEV_SET (testsupport::set_knobs). */
void reconfigure(const std::string &config);

/* Hex string to bytes (an empty string gives no bytes). */
bytes from_hex(const std::string &hex);

/* One AF_ALG AEAD handle, addressed by driver or algorithm name. */
class aead {
public:
	explicit aead(const std::string &name);
	~aead();
	aead(const aead &) = delete;
	aead &operator=(const aead &) = delete;

	/* 0 or -errno. */
	int setkey(const bytes &key);
	int settaglen(unsigned int taglen);
	/* Returns 0 and sets @out (CT || tag) or -errno. */
	int encrypt(const bytes &iv, const bytes &aad, const bytes &pt,
		    unsigned int taglen, bytes &out);
	/* @ct_tag is CT || tag; returns 0 and sets @pt, or -errno (-EBADMSG). */
	int decrypt(const bytes &iv, const bytes &aad, const bytes &ct_tag,
		    unsigned int taglen, bytes &pt);
	::kcapi_handle *handle() { return h_; }

private:
	::kcapi_handle *h_ = nullptr;
	unsigned int taglen_ = 0;
};

/* AES-GCM by OpenSSL, an implementation independent of the kernel's. */
bytes openssl_gcm_encrypt(const bytes &key, const bytes &iv, const bytes &aad,
			  const bytes &pt, unsigned int taglen = 16);

/* Microseconds since an arbitrary start. */
uint64_t now_us();

/*
 * NIST CAVP-style files (.rsp) and the similar ChaCha20-Poly1305 files:
 * each record is a block with a COUNT line, merged with the fields of the
 * "[...]" section header and the field-only blocks (CCM's "Key = ...") in
 * front of it. Keys are upper-cased; a bare word line (FAIL) becomes a key
 * with value "1"; quoted values are returned as hex.
 */
std::vector<kv> read_vectors(const std::filesystem::path &file);
std::filesystem::path vectors_dir();

} // namespace ktlsaccel::vmtest

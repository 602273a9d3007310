/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for raw kTLS: a TCP loopback pair whose two ends get the same
 * key material, one as TLS_TX and the other as TLS_RX, with no handshake.
 * Used by the kTLS tests with and without ktlsaccel.ko loaded. The pair and
 * the key material are testsupport/'s, which ktlsaccel-bench uses too.
 */
#pragma once

#include <testsupport/fd.hpp>
#include <testsupport/ktls.hpp>
#include <testsupport/module.hpp>

#include <ktlsaccel/keys.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <linux/tls.h>

namespace ktlsaccel::vmtest {

/* The library's enums; the tests' own names for them (test names). */
using Cipher = ktlsaccel::cipher;
using TlsVersion = ktlsaccel::tls_version;

std::string to_string(Cipher c);
std::string to_string(TlsVersion v);

/* Key material and the loopback pair: shared with ktlsaccel-bench. */
using CryptoInfo = testsupport::raw_crypto_info;
using TcpPair = testsupport::tcp_pair;
using testsupport::unique_fd;
using testsupport::key_bytes;
using testsupport::random_crypto_info;
using testsupport::key_size;
using testsupport::iv_size;
using testsupport::salt_size;
using testsupport::make_crypto_info;
using testsupport::module_driver;
using testsupport::tcp_loopback_pair;
using testsupport::ktls_install;
using testsupport::random_bytes;

/* Writes data on tx in chunks of `chunk` while a thread reads rx until
 * data.size() bytes arrived or an error; returns the bytes read and sets
 * *rx_errno to the errno of a failed recv() (0 when none failed). */
std::vector<std::uint8_t> ktls_transfer(int tx, int rx, const std::vector<std::uint8_t> &data,
					std::size_t chunk, int *rx_errno);

/* /proc/net/tls_stat as name -> value. */
std::map<std::string, long long> tls_stat();

} // namespace ktlsaccel::vmtest

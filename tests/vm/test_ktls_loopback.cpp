// SPDX-License-Identifier: MIT
//
// kTLS with the kernel's own software AEAD (ktlsaccel.ko not loaded): a TCP
// loopback pair, TLS_TX on one end and TLS_RX on the other with the same
// key material, moves random data byte-exact for every cipher the project
// supports, with TLS 1.2 and TLS 1.3. Proves the VM runner gives tests a
// working kTLS, and is the baseline the module's tests compare against.

#include "ktls_util.h"
#include "vm.h"

#include <ktlsaccel/ktlsaccel.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <tuple>

using namespace ktlsaccel::vmtest;

namespace {

constexpr std::size_t kPayload = 4 << 20;

void ensure_module_unloaded()
{
	/* These tests are about the kernel's software path. */
	run("rmmod ktlsaccel 2>/dev/null");
	auto r = run("grep -q '^ktlsaccel ' /proc/modules");
	ASSERT_NE(r.status, 0) << "ktlsaccel.ko is still loaded";
	ASSERT_EQ(run("modprobe tls").status, 0) << "the guest kernel has no tls module";
}

class KtlsSoftwareLoopback : public testing::TestWithParam<std::tuple<Cipher, TlsVersion>> {};

TEST_P(KtlsSoftwareLoopback, Moves4MiBByteExactAndCountsRecords)
{
	ensure_module_unloaded();
	auto [cipher, version] = GetParam();
	auto info = random_crypto_info(cipher, version);
	auto pair = tcp_loopback_pair();

	auto before = tls_stat();
	ASSERT_EQ(ktls_install(pair.a.get(), TLS_TX, info), 0) << std::strerror(errno);
	ASSERT_EQ(ktls_install(pair.b.get(), TLS_RX, info), 0) << std::strerror(errno);

	auto during = tls_stat();
	EXPECT_EQ(during["TlsTxSw"], before["TlsTxSw"] + 1);
	EXPECT_EQ(during["TlsRxSw"], before["TlsRxSw"] + 1);
	EXPECT_GE(during["TlsCurrTxSw"], 1);
	EXPECT_GE(during["TlsCurrRxSw"], 1);

	auto data = random_bytes(kPayload);
	int rx_errno = 0;
	auto got = ktls_transfer(pair.a.get(), pair.b.get(), data, 256 << 10, &rx_errno);
	EXPECT_EQ(rx_errno, 0) << std::strerror(rx_errno);
	ASSERT_EQ(got.size(), data.size());
	EXPECT_TRUE(got == data) << "received plaintext differs from what was sent";
	EXPECT_EQ(tls_stat()["TlsDecryptError"], before["TlsDecryptError"]);

	/* the library's /proc/crypto reading: the driver a new socket gets */
	auto driver = ktlsaccel::kernel_aead_driver(cipher).value_or("");
	RecordProperty("crypto_driver", driver);
	EXPECT_FALSE(driver.empty()) << "no driver for the cipher in /proc/crypto";
	EXPECT_EQ(driver.find("ktlsaccel"), std::string::npos) << driver;
}

TEST_P(KtlsSoftwareLoopback, MismatchedReceiveKeyGivesEBADMSG)
{
	ensure_module_unloaded();
	auto [cipher, version] = GetParam();
	auto tx_info = random_crypto_info(cipher, version);
	auto rx_info = tx_info;
	/* Same IV, salt and sequence number; one key bit differs. */
	std::size_t key_len = 0;
	unsigned char *key = key_bytes(rx_info, &key_len);
	ASSERT_NE(key, nullptr);
	ASSERT_GT(key_len, 0u);
	key[key_len - 1] ^= 0x01;
	auto pair = tcp_loopback_pair();
	ASSERT_EQ(ktls_install(pair.a.get(), TLS_TX, tx_info), 0);
	ASSERT_EQ(ktls_install(pair.b.get(), TLS_RX, rx_info), 0);

	auto before = tls_stat();
	auto data = random_bytes(64 << 10);
	int rx_errno = 0;
	auto got = ktls_transfer(pair.a.get(), pair.b.get(), data, data.size(), &rx_errno);
	EXPECT_EQ(rx_errno, EBADMSG) << "recv() failed with " << std::strerror(rx_errno);
	EXPECT_TRUE(got.empty()) << got.size() << " bytes were accepted with the wrong key";
	EXPECT_GT(tls_stat()["TlsDecryptError"], before["TlsDecryptError"]);
}

std::string param_name(const testing::TestParamInfo<KtlsSoftwareLoopback::ParamType> &p)
{
	return to_string(std::get<0>(p.param)) + "_" + to_string(std::get<1>(p.param));
}

INSTANTIATE_TEST_SUITE_P(AllCiphers, KtlsSoftwareLoopback,
			 testing::Combine(testing::Values(Cipher::aes_128_gcm, Cipher::aes_256_gcm,
							  Cipher::chacha20_poly1305,
							  Cipher::aes_128_ccm),
					  testing::Values(TlsVersion::tls12, TlsVersion::tls13)),
			 param_name);

} // namespace

// SPDX-License-Identifier: MIT
//
// crypto_info is byte-for-byte the struct tls12_crypto_info_* of
// include/uapi/linux/tls.h, and TLS 1.2 key blocks land in the right fields.
#include "hex.hpp"

#include <ktlsaccel/keys.hpp>

#include <linux/tls.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <numeric>
#include <span>
#include <vector>

using namespace ktlsaccel;

namespace {

template <typename S>
void expect_layout(crypto_info &ci, std::uint16_t type, std::uint16_t version)
{
	S s;
	ASSERT_EQ(ci.size(), sizeof(S));
	std::memcpy(&s, ci.data(), sizeof(S));
	EXPECT_EQ(s.info.version, version);
	EXPECT_EQ(s.info.cipher_type, type);
	auto base = static_cast<const std::uint8_t *>(ci.data());
	EXPECT_EQ(ci.iv().data() - base, static_cast<std::ptrdiff_t>(offsetof(S, iv)));
	EXPECT_EQ(ci.iv().size(), sizeof(s.iv));
	EXPECT_EQ(ci.key().data() - base, static_cast<std::ptrdiff_t>(offsetof(S, key)));
	EXPECT_EQ(ci.key().size(), sizeof(s.key));
	EXPECT_EQ(ci.rec_seq().data() - base, static_cast<std::ptrdiff_t>(offsetof(S, rec_seq)));
	EXPECT_EQ(ci.rec_seq().size(), sizeof(s.rec_seq));
}

} // namespace

TEST(CryptoInfo, Aes128GcmMatchesUapiStruct)
{
	crypto_info ci(tls_version::tls12, cipher::aes_128_gcm);
	expect_layout<tls12_crypto_info_aes_gcm_128>(ci, TLS_CIPHER_AES_GCM_128, TLS_1_2_VERSION);
	EXPECT_EQ(ci.salt().size(), size_t{TLS_CIPHER_AES_GCM_128_SALT_SIZE});
	EXPECT_EQ(ci.size(), 40u);
}

TEST(CryptoInfo, Aes256GcmMatchesUapiStruct)
{
	crypto_info ci(tls_version::tls13, cipher::aes_256_gcm);
	expect_layout<tls12_crypto_info_aes_gcm_256>(ci, TLS_CIPHER_AES_GCM_256, TLS_1_3_VERSION);
	EXPECT_EQ(ci.salt().size(), size_t{TLS_CIPHER_AES_GCM_256_SALT_SIZE});
	EXPECT_EQ(ci.size(), 56u);
}

TEST(CryptoInfo, Aes128CcmMatchesUapiStruct)
{
	crypto_info ci(tls_version::tls12, cipher::aes_128_ccm);
	expect_layout<tls12_crypto_info_aes_ccm_128>(ci, TLS_CIPHER_AES_CCM_128, TLS_1_2_VERSION);
	EXPECT_EQ(ci.salt().size(), size_t{TLS_CIPHER_AES_CCM_128_SALT_SIZE});
	EXPECT_EQ(ci.size(), 40u);
}

TEST(CryptoInfo, Chacha20Poly1305MatchesUapiStructWithoutSalt)
{
	crypto_info ci(tls_version::tls13, cipher::chacha20_poly1305);
	expect_layout<tls12_crypto_info_chacha20_poly1305>(ci, TLS_CIPHER_CHACHA20_POLY1305,
							   TLS_1_3_VERSION);
	EXPECT_EQ(ci.salt().size(), 0u);
	EXPECT_EQ(ci.iv().size(), 12u);
	EXPECT_EQ(ci.size(), 56u);
}

TEST(CryptoInfo, RecordSequenceIsBigEndian)
{
	crypto_info ci(tls_version::tls12, cipher::aes_128_gcm);
	ci.set_rec_seq(0x0102030405060708ULL);
	EXPECT_EQ(bytes(ci.rec_seq()), unhex("0102030405060708"));
}

namespace {

// The structure lives inside the object (no heap), so its bytes stay
// readable through the field spans and data() after a wipe.
std::vector<std::uint8_t> zeros(std::span<const std::uint8_t> s)
{
	return std::vector<std::uint8_t>(s.size(), 0);
}

std::vector<std::uint8_t> filled(std::size_t n, std::uint8_t v)
{
	return std::vector<std::uint8_t>(n, v);
}

void fill_secrets(crypto_info &ci)
{
	std::ranges::fill(ci.key(), 0xaa);
	std::ranges::fill(ci.iv(), 0xbb);
	std::ranges::fill(ci.salt(), 0xcc);
	ci.set_rec_seq(0x0102030405060708ULL);
}

void expect_wiped(crypto_info &ci)
{
	EXPECT_EQ(ci.size(), 0u);
	EXPECT_EQ(bytes(ci.key()), zeros(ci.key()));
	EXPECT_EQ(bytes(ci.iv()), zeros(ci.iv()));
	EXPECT_EQ(bytes(ci.salt()), zeros(ci.salt()));
	EXPECT_EQ(bytes(ci.rec_seq()), zeros(ci.rec_seq()));
	/* the header (version, cipher type) too */
	std::span<const std::uint8_t> hdr(static_cast<const std::uint8_t *>(ci.data()), 4);
	EXPECT_EQ(bytes(hdr), zeros(hdr));
}

} // namespace

TEST(CryptoInfo, WipeClearsKeyMaterial)
{
	crypto_info ci(tls_version::tls12, cipher::aes_256_gcm);
	fill_secrets(ci);
	crypto_info moved(std::move(ci));
	expect_wiped(ci);
	EXPECT_EQ(moved.size(), sizeof(tls12_crypto_info_aes_gcm_256));
	EXPECT_EQ(bytes(moved.key()), filled(32, 0xaa));
	EXPECT_EQ(bytes(moved.iv()), filled(8, 0xbb));
	EXPECT_EQ(bytes(moved.salt()), filled(4, 0xcc));
	EXPECT_EQ(bytes(moved.rec_seq()), unhex("0102030405060708"));

	crypto_info assigned;
	assigned = std::move(moved);
	expect_wiped(moved);
	EXPECT_EQ(bytes(assigned.key()), filled(32, 0xaa));

	assigned.wipe();
	expect_wiped(assigned);
}

namespace {

// key block 00 01 02 ... so every field shows where it came from.
std::vector<std::uint8_t> counting_block(cipher c)
{
	std::vector<std::uint8_t> b(tls12_key_block_size(c));
	std::iota(b.begin(), b.end(), std::uint8_t{0});
	return b;
}

std::vector<std::uint8_t> range(std::size_t from, std::size_t n)
{
	std::vector<std::uint8_t> v(n);
	std::iota(v.begin(), v.end(), static_cast<std::uint8_t>(from));
	return v;
}

} // namespace

TEST(CryptoInfo, Tls12GcmKeyBlockOrderIsClientKeyServerKeyClientIvServerIv)
{
	/* RFC 5246 §6.3 with zero-length MAC keys; RFC 5288 4-byte salt */
	auto block = counting_block(cipher::aes_128_gcm);
	ASSERT_EQ(block.size(), 40u);
	auto c = crypto_info_from_key_block(cipher::aes_128_gcm, block, role::client, 1);
	auto s = crypto_info_from_key_block(cipher::aes_128_gcm, block, role::server, 5);
	ASSERT_TRUE(c && s);
	EXPECT_EQ(bytes(c->key()), range(0, 16));
	EXPECT_EQ(bytes(s->key()), range(16, 16));
	EXPECT_EQ(bytes(c->salt()), range(32, 4));
	EXPECT_EQ(bytes(s->salt()), range(36, 4));
	EXPECT_EQ(bytes(c->rec_seq()), unhex("0000000000000001"));
	EXPECT_EQ(bytes(s->rec_seq()), unhex("0000000000000005"));
	/* the explicit nonce starts at the sequence number, as OpenSSL's */
	EXPECT_EQ(bytes(c->iv()), unhex("0000000000000001"));
}

TEST(CryptoInfo, Tls12Aes256GcmAndCcmKeyBlocks)
{
	auto block = counting_block(cipher::aes_256_gcm);
	ASSERT_EQ(block.size(), 72u);
	auto s = crypto_info_from_key_block(cipher::aes_256_gcm, block, role::server, 1);
	ASSERT_TRUE(s);
	EXPECT_EQ(bytes(s->key()), range(32, 32));
	EXPECT_EQ(bytes(s->salt()), range(68, 4));

	block = counting_block(cipher::aes_128_ccm);
	auto c = crypto_info_from_key_block(cipher::aes_128_ccm, block, role::client, 1);
	ASSERT_TRUE(c);
	EXPECT_EQ(bytes(c->key()), range(0, 16));
	EXPECT_EQ(bytes(c->salt()), range(32, 4));
}

TEST(CryptoInfo, Tls12Chacha20KeyBlockHasTwelveByteIvs)
{
	/* RFC 7905: fixed_iv_length 12, no explicit nonce */
	auto block = counting_block(cipher::chacha20_poly1305);
	ASSERT_EQ(block.size(), 88u);
	auto c = crypto_info_from_key_block(cipher::chacha20_poly1305, block, role::client, 1);
	auto s = crypto_info_from_key_block(cipher::chacha20_poly1305, block, role::server, 1);
	ASSERT_TRUE(c && s);
	EXPECT_EQ(bytes(c->key()), range(0, 32));
	EXPECT_EQ(bytes(s->key()), range(32, 32));
	EXPECT_EQ(bytes(c->iv()), range(64, 12));
	EXPECT_EQ(bytes(s->iv()), range(76, 12));
}

TEST(CryptoInfo, ShortKeyBlockIsRejected)
{
	std::vector<std::uint8_t> block(10);
	auto r = crypto_info_from_key_block(cipher::aes_128_gcm, block, role::client, 1);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), std::errc::invalid_argument);
}

// SPDX-License-Identifier: MIT
//
// Known-answer tests of the key derivations, from public documents, and
// where no document has the case, against OpenSSL's TLS1-PRF and TLS13-KDF.
#include "hex.hpp"

#include <ktlsaccel/keys.hpp>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ktlsaccel;

namespace {

/*
 * RFC 8448 §3 "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256):
 * "{client} derive write traffic keys for application data" and the
 * server's, whose PRK is the application traffic secret, and the
 * handshake traffic keys of the same trace.
 */
struct rfc8448_keys {
	const char *what, *secret, *key, *iv;
};

const rfc8448_keys rfc8448[] = {
	{"client application",
	 "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5",
	 "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51",
	 "5b 78 92 3d ee 08 57 90 33 e5 23 d9"},
	{"server application",
	 "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43",
	 "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56",
	 "cf 78 2b 88 dd 83 54 9a ad f1 e9 84"},
	{"client handshake",
	 "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21",
	 "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01",
	 "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f"},
};

} // namespace

TEST(KeySchedule, Rfc8448HkdfExpandLabelGivesTrafficKeyAndIv)
{
	for (const auto &v : rfc8448) {
		SCOPED_TRACE(v.what);
		auto secret = unhex(v.secret);
		std::vector<std::uint8_t> key(16), iv(12);
		ASSERT_TRUE(hkdf_expand_label("SHA256", secret, "key", {}, key));
		ASSERT_TRUE(hkdf_expand_label("SHA256", secret, "iv", {}, iv));
		EXPECT_EQ(key, unhex(v.key));
		EXPECT_EQ(iv, unhex(v.iv));
	}
}

TEST(KeySchedule, Rfc8448TrafficSecretBecomesKernelCryptoInfo)
{
	for (const auto &v : rfc8448) {
		SCOPED_TRACE(v.what);
		auto ci = crypto_info_from_traffic_secret(cipher::aes_128_gcm, unhex(v.secret), 7);
		ASSERT_TRUE(ci);
		auto iv = unhex(v.iv);
		EXPECT_EQ(bytes(ci->key()), unhex(v.key));
		/* kTLS: salt = first 4 bytes of the write IV, iv = the other 8 */
		EXPECT_EQ(bytes(ci->salt()), std::vector(iv.begin(), iv.begin() + 4));
		EXPECT_EQ(bytes(ci->iv()), std::vector(iv.begin() + 4, iv.end()));
		EXPECT_EQ(bytes(ci->rec_seq()), unhex("00 00 00 00 00 00 00 07"));
	}
}

/*
 * TLS 1.2 PRF test vectors posted to the IETF TLS working group list
 * (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html), the
 * ones TLS libraries commonly test against: P_SHA256 and P_SHA384.
 */
TEST(KeySchedule, Tls12PrfSha256MatchesIetfTlsListVector)
{
	std::vector<std::uint8_t> out(100);
	ASSERT_TRUE(tls12_prf("SHA256", unhex("9bbe436ba940f017b17652849a71db35"), "test label",
			      unhex("a0ba9f936cda311827a6f796ffd5198c"), out));
	EXPECT_EQ(out, unhex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
			     "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
			     "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
			     "87347b66"));
}

TEST(KeySchedule, Tls12PrfSha384MatchesIetfTlsListVector)
{
	std::vector<std::uint8_t> out(148);
	ASSERT_TRUE(tls12_prf("SHA384", unhex("b80b733d6ceefcdc71566ea48e5567df"), "test label",
			      unhex("cd665cf6a8447dd6ff8b27555edb7465"), out));
	EXPECT_EQ(out, unhex("7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
			     "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
			     "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259"
			     "b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691"
			     "c8f3a26854308d5eaa3be85e0990703d73e56f"));
}

namespace {

// The oracles below are OpenSSL's own KDFs, which build the PRF seed and
// the HkdfLabel themselves, not ours.

std::vector<std::uint8_t> derive(const char *kdf_name, OSSL_PARAM *params, std::size_t len)
{
	std::vector<std::uint8_t> out(len);
	EVP_KDF *kdf = EVP_KDF_fetch(nullptr, kdf_name, nullptr);
	EXPECT_NE(kdf, nullptr) << kdf_name;
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
	EVP_KDF_free(kdf);
	EXPECT_TRUE(ctx && EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1) << kdf_name;
	EVP_KDF_CTX_free(ctx);
	return out;
}

// OpenSSL "TLS1-PRF": PRF(secret, label, seed) of RFC 5246 §5.
std::vector<std::uint8_t> openssl_tls1_prf(const char *digest, std::vector<std::uint8_t> secret,
					   const std::string &label,
					   const std::vector<std::uint8_t> &seed, std::size_t len)
{
	std::vector<std::uint8_t> label_seed(label.begin(), label.end());
	label_seed.insert(label_seed.end(), seed.begin(), seed.end());
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>(digest), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, secret.data(), secret.size()),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, label_seed.data(),
						  label_seed.size()),
		OSSL_PARAM_construct_end(),
	};
	return derive("TLS1-PRF", params, len);
}

// OpenSSL "TLS13-KDF" in expand-only mode: HKDF-Expand-Label of RFC 8446
// §7.1 with the "tls13 " prefix and an empty context (no "data" parameter;
// OpenSSL refuses one whose data pointer is null).
std::vector<std::uint8_t> openssl_expand_label(const char *digest, std::vector<std::uint8_t> secret,
					       std::string label, std::size_t len)
{
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	char prefix[] = "tls13 ";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>(digest), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret.data(), secret.size()),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, prefix, 6),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, label.data(), label.size()),
		OSSL_PARAM_construct_end(),
	};
	return derive("TLS13-KDF", params, len);
}

} // namespace

TEST(KeySchedule, OpensslOraclesMatchPublishedVectors)
{
	/* The oracles themselves, against the vectors the tests above use. */
	EXPECT_EQ(openssl_tls1_prf("SHA384", unhex("b80b733d6ceefcdc71566ea48e5567df"), "test label",
				   unhex("cd665cf6a8447dd6ff8b27555edb7465"), 16),
		  unhex("7b0c18e9ced410ed1804f2cfa34a336a"));
	EXPECT_EQ(openssl_expand_label("SHA256", unhex(rfc8448[0].secret), "key", 16),
		  unhex(rfc8448[0].key));
	EXPECT_EQ(openssl_expand_label("SHA256", unhex(rfc8448[0].secret), "iv", 12),
		  unhex(rfc8448[0].iv));
}

TEST(KeySchedule, Tls12KeyBlockIsPrfOfMasterSecretWithServerRandomFirst)
{
	/* RFC 5246 §6.3: seed = server_random + client_random */
	std::vector<std::uint8_t> master(48, 0x11), cr(32, 0x22), sr(32, 0x33);
	auto block = tls12_key_block(cipher::aes_256_gcm, master, cr, sr);
	ASSERT_TRUE(block);
	std::vector<std::uint8_t> seed(sr);
	seed.insert(seed.end(), cr.begin(), cr.end());
	auto want = openssl_tls1_prf("SHA384", master, "key expansion", seed,
				     tls12_key_block_size(cipher::aes_256_gcm));
	EXPECT_EQ(bytes(block->span()), want);
}

TEST(KeySchedule, KeyUpdateUsesTrafficUpdLabel)
{
	/* RFC 8446 §7.2: next = HKDF-Expand-Label(secret, "traffic upd", "", Hash.length) */
	auto secret = unhex(rfc8448[0].secret);
	auto next = traffic_secret_update(cipher::aes_128_gcm, secret);
	ASSERT_TRUE(next);
	EXPECT_EQ(bytes(next->span()), openssl_expand_label("SHA256", secret, "traffic upd", 32));
	EXPECT_NE(bytes(next->span()), secret);
	/* SHA-384 for AES-256-GCM */
	std::vector<std::uint8_t> secret48(48, 0x5a);
	auto next384 = traffic_secret_update(cipher::aes_256_gcm, secret48);
	ASSERT_TRUE(next384);
	EXPECT_EQ(bytes(next384->span()), openssl_expand_label("SHA384", secret48, "traffic upd", 48));
}

// secret keeps its bytes in a std::vector and clear() cleanses them before
// emptying it; the cleansed buffer is then no element of the vector, and
// reading it would be undefined, so the zeroing itself is not tested.
// What can be seen: a move hands over the one buffer (no second copy of
// the key is left behind), the moved-from secret holds nothing, and
// clear() leaves nothing readable.
TEST(KeySchedule, SecretIsWipedWhenMovedFrom)
{
	const auto key = unhex("01 02 03");
	secret a(key);
	const std::uint8_t *buffer = a.data();
	secret b(std::move(a));
	EXPECT_TRUE(a.empty());
	EXPECT_EQ(a.size(), 0u);
	EXPECT_EQ(b.data(), buffer) << "the move copied the key";
	EXPECT_EQ(bytes(b.span()), key);

	secret c(unhex("aa bb"));
	c = std::move(b);
	EXPECT_TRUE(b.empty());
	EXPECT_EQ(c.data(), buffer) << "the move assignment copied the key";
	EXPECT_EQ(bytes(c.span()), key);

	c.clear();
	EXPECT_TRUE(c.empty());
	EXPECT_TRUE(c.span().empty());
}

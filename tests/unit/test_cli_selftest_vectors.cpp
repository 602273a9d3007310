// SPDX-License-Identifier: MIT
//
// The known-answer vectors `ktlsaccel selftest` feeds AF_ALG: the CAVP and
// OpenSSL file formats parse into the right records (CCM's "00" placeholders
// for empty data, GCM's FAIL records, headers carried into records), and
// every vector loaded from the real files verifies with OpenSSL's own AEADs,
// so a selftest failure in the guest means the driver, not the vectors.
// On a host without AF_ALG, the selftest names the missing driver and
// exits 1.

#include "cli.hpp"
#include "vectors.hpp"

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>

using namespace ktlsaccel::cli;

namespace ktlsaccel::cli {
// What ctest shows next to each case (instead of its bytes).
void PrintTo(AeadAlg a, std::ostream *os)
{
	*os << crypto_api_name(a);
}
} // namespace ktlsaccel::cli

namespace {

const char kCcm[] = R"(#  CAVS 11.0
Plen = 24
Nlen = 13
Tlen = 16

[Alen = 0]

Key = d24a3d3dde8c84830280cb87abad0bb3
Nonce = f1100035bb24a8d26004e0e24b

Count = 0
Adata = 00
Payload = 7c86135ed9c2a515aaae0e9a208133897269220f30870006
CT = 1faeb0ee2ca2cd52f0aa3966578344f24e69b742c4ab37ab1123301219c70599b7c373ad4b3ad67b

Count = 1
Adata = 00
Payload = 48df73208cdc63d716752df7794807b1b2a80794a2433455
CT = 2bf7d09079bc0b904c711a0b0e4a70ca8ea892d9566f03f8b77a140819f39ef045103e785e1df8c2
)";

const char kGcmDecrypt[] = R"([Keylen = 128]
[IVlen = 96]

Count = 3
Key = d8cd400a0a73d114cd3ecf36537cab3d
IV = 3c162c9f16a49b8fe6c92a81
CT = 
AAD = 
Tag = 4203aec165f9d397cf9009770a088c16
FAIL

Count = 4
Key = a982a7bae2b3eae1b7832f16faf693b4
IV = 78d2d2fa43850483ce933576
CT = 
AAD = 
Tag = ceabb89ee3179e25ed32d5a225006361
PT = 
)";

struct CtxDeleter {
	void operator()(EVP_CIPHER_CTX *c) const { EVP_CIPHER_CTX_free(c); }
};

const EVP_CIPHER *openssl_cipher(AeadAlg alg, std::size_t key_len)
{
	switch (alg) {
	case AeadAlg::gcm:
		return key_len == 16 ? EVP_aes_128_gcm() : key_len == 24 ? EVP_aes_192_gcm()
									 : EVP_aes_256_gcm();
	case AeadAlg::ccm:
		return key_len == 16 ? EVP_aes_128_ccm() : key_len == 24 ? EVP_aes_192_ccm()
									 : EVP_aes_256_ccm();
	case AeadAlg::chacha20_poly1305:
		return EVP_chacha20_poly1305();
	}
	return nullptr;
}

// Decrypts v with OpenSSL; true if it authenticates and gives the plaintext.
bool openssl_opens(AeadAlg alg, const AeadVector &v)
{
	std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx(EVP_CIPHER_CTX_new());
	EVP_CIPHER_CTX *c = ctx.get();
	int len = 0;
	const bool ccm = alg == AeadAlg::ccm;
	if (!EVP_DecryptInit_ex(c, openssl_cipher(alg, v.key.size()), nullptr, nullptr, nullptr))
		return false;
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(v.nonce.size()), nullptr);
	std::vector<std::uint8_t> tag = v.tag;
	if (ccm)
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()), tag.data());
	if (!EVP_DecryptInit_ex(c, nullptr, nullptr, v.key.data(), v.nonce.data()))
		return false;
	if (ccm && !EVP_DecryptUpdate(c, nullptr, &len, nullptr, static_cast<int>(v.ciphertext.size())))
		return false;
	if (!v.aad.empty() &&
	    !EVP_DecryptUpdate(c, nullptr, &len, v.aad.data(), static_cast<int>(v.aad.size())))
		return false;
	std::vector<std::uint8_t> pt(v.ciphertext.size() + 16);
	/* Never a null input: OpenSSL's CCM takes that as "finish" and skips
	 * the tag check of an empty message. */
	static const std::uint8_t none[1] = {};
	const std::uint8_t *in = v.ciphertext.empty() ? none : v.ciphertext.data();
	int ok = EVP_DecryptUpdate(c, pt.data(), &len, in, static_cast<int>(v.ciphertext.size()));
	if (ccm) {
		/* CCM verifies the tag in the update. */
		if (ok <= 0)
			return false;
	} else {
		if (!ok)
			return false;
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()), tag.data());
		int fin = 0;
		if (EVP_DecryptFinal_ex(c, pt.data() + len, &fin) <= 0)
			return false;
		len += fin;
	}
	pt.resize(static_cast<std::size_t>(len));
	return pt == v.plaintext;
}

} // namespace

TEST(CliSelftestVectors, CcmRecordsTakeKeyAndNonceFromAbove)
{
	std::istringstream in(kCcm);
	auto recs = parse_records(in);
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(*recs[1].get("key"), "d24a3d3dde8c84830280cb87abad0bb3");
	EXPECT_EQ(*recs[1].get("nonce"), "f1100035bb24a8d26004e0e24b");
	EXPECT_EQ(*recs[1].get("alen"), "0");
	EXPECT_EQ(*recs[1].get("plen"), "24");
	EXPECT_EQ(*recs[0].get("count"), "0");
	EXPECT_EQ(recs[1].line, 16u);
}

TEST(CliSelftestVectors, GcmFailMarksAForgery)
{
	std::istringstream in(kGcmDecrypt);
	auto recs = parse_records(in);
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_NE(recs[0].get("fail"), nullptr);
	EXPECT_EQ(recs[1].get("fail"), nullptr);
	EXPECT_EQ(*recs[1].get("pt"), "");
	EXPECT_EQ(*recs[1].get("ivlen"), "96");
}

// A vectors tree whose first CCM file (VADT128.rsp) is kCcm with `from`
// replaced by `to`; returns its root.
std::filesystem::path ccm_tree_with(const std::string &name, const std::string &from,
				    const std::string &to)
{
	namespace fs = std::filesystem;
	fs::path root = fs::path(testing::TempDir()) / ("ktlsaccel-vectors-" + name);
	fs::remove_all(root);
	fs::create_directories(root / "ciphers/AES/CCM");
	std::string text = kCcm;
	auto at = text.find(from);
	EXPECT_NE(at, std::string::npos) << from;
	if (at != std::string::npos)
		text.replace(at, from.size(), to);
	std::ofstream(root / "ciphers/AES/CCM/VADT128.rsp") << text;
	return root;
}

struct MalformedCcm {
	const char *name, *from, *to, *error;
};

class CliSelftestMalformedVectors : public testing::TestWithParam<MalformedCcm> {};

TEST_P(CliSelftestMalformedVectors, AreAnErrorNamingFileAndLine)
{
	const auto &m = GetParam();
	auto root = ccm_tree_with(m.name, m.from, m.to);
	auto vectors = load_vectors(AeadAlg::ccm, root);
	ASSERT_FALSE(vectors) << "loaded " << vectors->size() << " vectors";
	EXPECT_NE(vectors.error().find("VADT128.rsp:11: "), std::string::npos) << vectors.error();
	EXPECT_NE(vectors.error().find(m.error), std::string::npos) << vectors.error();

	/* And the selftest says so instead of running (or crashing). */
	std::ostringstream out, err;
	int rc = run_cli({"selftest", "--alg", "ccm", "--vectors-dir", root.string()}, out, err);
	EXPECT_EQ(rc, 1);
	EXPECT_NE(err.str().find("VADT128.rsp:11: "), std::string::npos) << err.str();
	std::filesystem::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(
	Each, CliSelftestMalformedVectors,
	testing::Values(
		MalformedCcm{"NegativePlen", "Plen = 24", "Plen = -1", "plen: '-1' is not a number"},
		MalformedCcm{"HugeTlen", "Tlen = 16", "Tlen = 18446744073709551616",
			     "tlen: '18446744073709551616' is not a number"},
		MalformedCcm{"SignedPlen", "Plen = 24", "Plen = +24", "plen: '+24' is not a number"},
		MalformedCcm{"TrailingJunk", "Tlen = 16", "Tlen = 16x", "tlen: '16x' is not a number"},
		MalformedCcm{"LongTag", "Tlen = 16", "Tlen = 17", "tlen: 17 is more than 16"},
		MalformedCcm{"LongPayload", "Plen = 24", "Plen = 2000000",
			     "plen: 2000000 is more than 1048576"},
		MalformedCcm{"LongAlen", "[Alen = 0]", "[Alen = 99999999]",
			     "alen: 99999999 is more than 1048576"},
		MalformedCcm{"CtShorterThanClaimed", "Plen = 24", "Plen = 25",
			     "ct: 40 bytes, not Plen + Tlen = 41"},
		MalformedCcm{"CtLongerThanClaimed", "Tlen = 16", "Tlen = 4",
			     "ct: 40 bytes, not Plen + Tlen = 28"}),
	[](const testing::TestParamInfo<MalformedCcm> &i) { return std::string(i.param.name); });

class CliSelftestRealVectors : public testing::TestWithParam<AeadAlg> {};

TEST_P(CliSelftestRealVectors, AllVerifyWithOpenSSL)
{
	if (!std::filesystem::exists(default_vectors_dir()))
		GTEST_SKIP() << "python3-cryptography-vectors is not installed";
	auto vectors = load_vectors(GetParam(), default_vectors_dir());
	ASSERT_TRUE(vectors) << vectors.error();
	std::size_t valid = 0, forged = 0;
	for (const auto &v : *vectors) {
		(v.valid ? valid : forged)++;
		EXPECT_EQ(openssl_opens(GetParam(), v), v.valid) << v.source;
	}
	RecordProperty("valid", static_cast<int>(valid));
	RecordProperty("forged", static_cast<int>(forged));
	EXPECT_GT(valid, 50u);
	if (GetParam() != AeadAlg::chacha20_poly1305) {
		EXPECT_GT(forged, 10u);
	}
}

INSTANTIATE_TEST_SUITE_P(Each, CliSelftestRealVectors,
			 testing::Values(AeadAlg::gcm, AeadAlg::chacha20_poly1305, AeadAlg::ccm));

TEST(CliSelftestVectors, MissingVectorsDirIsNamed)
{
	std::ostringstream out, err;
	int rc = run_cli({"selftest", "--vectors-dir", "/nonexistent"}, out, err);
	EXPECT_EQ(rc, 1);
	EXPECT_NE(err.str().find("cannot read /nonexistent/ciphers/AES/GCM/"), std::string::npos)
		<< err.str();
}

TEST(CliSelftestVectors, AbsentDriverFailsTheSelftest)
{
	if (!std::filesystem::exists(default_vectors_dir()))
		GTEST_SKIP() << "python3-cryptography-vectors is not installed";
	std::ostringstream out, err;
	int rc = run_cli({"selftest", "-j", "--driver", "no-such-driver-gcm"}, out, err);
	EXPECT_EQ(rc, 1);
	EXPECT_NE(err.str().find("driver 'no-such-driver-gcm' is not available"),
		  std::string::npos) << err.str();
	auto j = nlohmann::json::parse(out.str());
	ASSERT_EQ(j.size(), 1u);
	EXPECT_EQ(j[0]["alg"], "gcm(aes)");
	EXPECT_EQ(j[0]["result"], "ERROR");
}

TEST(CliSelftestVectors, DriverNameThatIsNotUtf8StillGivesValidJson)
{
	if (!std::filesystem::exists(default_vectors_dir()))
		GTEST_SKIP() << "python3-cryptography-vectors is not installed";
	std::ostringstream out, err;
	int rc = run_cli({"selftest", "-j", "--alg", "gcm", "--driver", "no-such-\xff-gcm"}, out,
			 err);
	EXPECT_EQ(rc, 1);
	nlohmann::json j;
	ASSERT_NO_THROW(j = nlohmann::json::parse(out.str())) << out.str() << err.str();
	ASSERT_EQ(j.size(), 1u);
	EXPECT_EQ(j[0]["driver"], "no-such-\xef\xbf\xbd-gcm");
	EXPECT_EQ(j[0]["result"], "ERROR");
}

// SPDX-License-Identifier: MIT
//
// Known-answer tests of ktlsaccel.ko through AF_ALG, addressed by the
// driver name so that they prove this driver and not the kernel's own
// implementations: NIST CAVP AES-GCM (96-bit IVs), RFC 7539 ChaCha20-
// Poly1305 and NIST CAVP AES-CCM DVPT vectors, from Debian's
// python3-cryptography-vectors. Each runs twice: every request through
// the queues (decrypt=async, inline_mode=never), and with the default
// dispatch, which runs AF_ALG's synchronous requests in the caller.

#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

using namespace ktlsaccel::vmtest;

namespace {

/*
 * A new AF_ALG handle per vector: AF_ALG refuses setkey (EBUSY) once an
 * operation socket exists on a handle.
 */

struct counts {
	unsigned int pass = 0, fail = 0;
};

/* Every vector of gcmEncryptExtIV<bits>.rsp with a 96-bit IV. */
counts gcm_encrypt(const std::string &bits)
{
	counts n;
	for (auto &v : read_vectors(vectors_dir() / "AES/GCM" / ("gcmEncryptExtIV" + bits + ".rsp"))) {
		if (v["IVLEN"] != "96")
			continue;
		unsigned int taglen = std::stoul(v["TAGLEN"]) / 8;
		aead a("ktlsaccel-gcm-aes");
		EXPECT_EQ(a.setkey(from_hex(v["KEY"])), 0);
		bytes out;
		int ret = a.encrypt(from_hex(v["IV"]), from_hex(v["AAD"]), from_hex(v["PT"]), taglen, out);
		bytes want = from_hex(v["CT"]);
		bytes tag = from_hex(v["TAG"]);
		want.insert(want.end(), tag.begin(), tag.end());
		EXPECT_EQ(ret, 0) << bits << " count " << v["COUNT"];
		EXPECT_EQ(out, want) << bits << " count " << v["COUNT"];
		n.pass++;
	}
	return n;
}

/* Every vector of gcmDecrypt<bits>.rsp with a 96-bit IV; FAIL: EBADMSG. */
counts gcm_decrypt(const std::string &bits)
{
	counts n;
	for (auto &v : read_vectors(vectors_dir() / "AES/GCM" / ("gcmDecrypt" + bits + ".rsp"))) {
		if (v["IVLEN"] != "96")
			continue;
		unsigned int taglen = std::stoul(v["TAGLEN"]) / 8;
		aead a("ktlsaccel-gcm-aes");
		EXPECT_EQ(a.setkey(from_hex(v["KEY"])), 0);
		bytes in = from_hex(v["CT"]);
		bytes tag = from_hex(v["TAG"]);
		in.insert(in.end(), tag.begin(), tag.end());
		bytes pt;
		int ret = a.decrypt(from_hex(v["IV"]), from_hex(v["AAD"]), in, taglen, pt);
		if (v.count("FAIL")) {
			EXPECT_EQ(ret, -EBADMSG) << bits << " count " << v["COUNT"];
			n.fail++;
		} else {
			EXPECT_EQ(ret, 0) << bits << " count " << v["COUNT"];
			EXPECT_EQ(pt, from_hex(v["PT"])) << bits << " count " << v["COUNT"];
			n.pass++;
		}
	}
	return n;
}

/* Both ChaCha20-Poly1305 files; all use 96-bit nonces and 128-bit tags. */
counts chacha(const std::string &file)
{
	counts n;
	for (auto &v : read_vectors(vectors_dir() / "ChaCha20Poly1305" / file)) {
		/* boringssl.txt: KEY NONCE IN AD CT TAG; openssl.txt: Key IV AAD ... */
		bytes key = from_hex(v.count("KEY") ? v["KEY"] : "");
		bytes iv = from_hex(v.count("NONCE") ? v["NONCE"] : v["IV"]);
		bytes aad = from_hex(v.count("AD") ? v["AD"] : v["AAD"]);
		bytes pt = from_hex(v.count("IN") ? v["IN"] : v["PLAINTEXT"]);
		bytes ct = from_hex(v.count("CT") ? v["CT"] : v["CIPHERTEXT"]);
		bytes tag = from_hex(v["TAG"]);
		EXPECT_EQ(iv.size(), 12u);
		EXPECT_EQ(tag.size(), 16u);
		aead a("ktlsaccel-rfc7539-chacha20-poly1305");
		EXPECT_EQ(a.setkey(key), 0);
		bytes ct_tag = ct;
		ct_tag.insert(ct_tag.end(), tag.begin(), tag.end());
		bytes out;
		if (v.count("RESULT")) {
			/* openssl.txt: a wrong tag that must not authenticate */
			EXPECT_EQ(a.decrypt(iv, aad, ct_tag, 16, out), -EBADMSG)
				<< file << " count " << v["COUNT"];
			n.fail++;
			continue;
		}
		EXPECT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
		EXPECT_EQ(out, ct_tag) << file << " count " << v["COUNT"];
		EXPECT_EQ(a.decrypt(iv, aad, ct_tag, 16, out), 0);
		EXPECT_EQ(out, pt) << file << " count " << v["COUNT"];
		n.pass++;
	}
	return n;
}

/*
 * DVPT<bits>.rsp: decryption-verification vectors. The kernel's ccm(aes)
 * takes a 16-byte IV: L' = 14 - nonce length, then the nonce, then zeros.
 * Pass vectors are also encrypted back to their CT.
 */
counts ccm(const std::string &bits)
{
	counts n;
	for (auto &v : read_vectors(vectors_dir() / "AES/CCM" / ("DVPT" + bits + ".rsp"))) {
		size_t alen = std::stoul(v["ALEN"]), plen = std::stoul(v["PLEN"]);
		unsigned int tlen = std::stoul(v["TLEN"]);
		bytes nonce = from_hex(v["NONCE"]);
		bytes iv(16, 0);
		iv[0] = static_cast<uint8_t>(14 - nonce.size());
		std::copy(nonce.begin(), nonce.end(), iv.begin() + 1);
		bytes aad = from_hex(v["ADATA"]);
		aad.resize(alen);
		bytes ct_tag = from_hex(v["CT"]);
		aead a("ktlsaccel-ccm-aes");
		EXPECT_EQ(a.setkey(from_hex(v["KEY"])), 0);
		bytes out;
		int ret = a.decrypt(iv, aad, ct_tag, tlen, out);
		if (v["RESULT"] == "Fail") {
			EXPECT_EQ(ret, -EBADMSG) << bits << " count " << v["COUNT"];
			n.fail++;
			continue;
		}
		bytes pt = from_hex(v["PAYLOAD"]);
		pt.resize(plen);
		EXPECT_EQ(ret, 0) << bits << " count " << v["COUNT"];
		EXPECT_EQ(out, pt) << bits << " count " << v["COUNT"];
		EXPECT_EQ(a.encrypt(iv, aad, pt, tlen, out), 0);
		EXPECT_EQ(out, ct_tag) << bits << " count " << v["COUNT"];
		n.pass++;
	}
	return n;
}

class ModuleKnownAnswer : public testing::TestWithParam<std::string> {
protected:
	void SetUp() override
	{
		/*
		 * "async": every request through the queues (the path kTLS's
		 * pipelined records take); "inline": the default dispatch, where
		 * AF_ALG's synchronous callers run in their own context.
		 */
		mod_ = std::make_unique<loaded_module>(
			GetParam() == "async" ? "decrypt=async inline_mode=never"
					      : "decrypt=inline");
		start_ = engine_stats();
	}
	void TearDown() override { mod_.reset(); }

	/*
	 * The engine's counters moved by at least the requests the vectors
	 * made (flows vanish with their tfm, the engine's totals stay), and
	 * the decrypt policy decided where they ran.
	 */
	void expect_engine_ran(uint64_t min_requests, uint64_t min_errors)
	{
		auto e = engine_stats();
		uint64_t submitted = num(e, "submitted") - num(start_, "submitted");
		uint64_t errors = num(e, "errors") - num(start_, "errors");
		uint64_t inlined = num(e, "inlined") - num(start_, "inlined");
		EXPECT_GE(submitted, min_requests);
		EXPECT_GE(errors, min_errors);
		EXPECT_EQ(num(e, "in_flight"), 0u);
		EXPECT_EQ(num(e, "submitted"), num(e, "completed") + num(e, "errors"));
		if (GetParam() == "async")
			EXPECT_EQ(inlined, 0u) << "inline_mode=never must queue every request";
		else
			EXPECT_GT(inlined, 0u) << "the default dispatch must run waiters inline";
	}

	kv start_;
	std::unique_ptr<loaded_module> mod_;
};

} // namespace

TEST_P(ModuleKnownAnswer, GcmCavpVectorsWith96BitIvPassAndForgeriesGiveEbadmsg)
{
	counts enc, dec;
	for (const char *bits : {"128", "192", "256"}) {
		auto e = gcm_encrypt(bits);
		auto d = gcm_decrypt(bits);
		enc.pass += e.pass;
		dec.pass += d.pass;
		dec.fail += d.fail;
	}
	std::printf("GCM: %u encrypt vectors, %u decrypt vectors, %u forged (EBADMSG)\n",
		    enc.pass, dec.pass, dec.fail);
	RecordProperty("gcm_encrypt", std::to_string(enc.pass));
	RecordProperty("gcm_decrypt", std::to_string(dec.pass));
	RecordProperty("gcm_forged", std::to_string(dec.fail));
	EXPECT_GT(enc.pass, 1000u);
	EXPECT_GT(dec.pass, 500u);
	EXPECT_GT(dec.fail, 100u);
	expect_engine_ran(enc.pass + dec.pass + dec.fail, dec.fail);
}

TEST_P(ModuleKnownAnswer, ChaCha20Poly1305Rfc7539VectorsPassBothWays)
{
	auto b = chacha("boringssl.txt");
	auto o = chacha("openssl.txt");
	std::printf("ChaCha20-Poly1305: %u vectors both ways, %u forged (EBADMSG)\n",
		    b.pass + o.pass, b.fail + o.fail);
	RecordProperty("chacha_vectors", std::to_string(b.pass + o.pass));
	EXPECT_GE(b.pass + o.pass, 70u);
	EXPECT_GE(o.fail, 1u);
	expect_engine_ran(2 * (b.pass + o.pass) + o.fail, o.fail);
}

TEST_P(ModuleKnownAnswer, CcmDvptVectorsPassBothWaysAndFailuresGiveEbadmsg)
{
	counts n;
	for (const char *bits : {"128", "192", "256"}) {
		auto c = ccm(bits);
		n.pass += c.pass;
		n.fail += c.fail;
	}
	std::printf("CCM DVPT: %u vectors both ways, %u forged (EBADMSG)\n", n.pass, n.fail);
	RecordProperty("ccm_vectors", std::to_string(n.pass));
	RecordProperty("ccm_forged", std::to_string(n.fail));
	EXPECT_GT(n.pass, 100u);
	EXPECT_GT(n.fail, 100u);
	expect_engine_ran(2 * n.pass + n.fail, n.fail);
}

INSTANTIATE_TEST_SUITE_P(DecryptPolicy, ModuleKnownAnswer, testing::Values("async", "inline"),
			 [](const auto &info) { return info.param; });

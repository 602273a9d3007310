// SPDX-License-Identifier: MIT
//
// ktlsaccel selftest [--driver NAME] [--alg ALG] [--vectors-dir DIR]: runs
// public known-answer vectors (vectors.hpp) through AF_ALG with libkcapi,
// addressing the AEAD by driver name so that exactly that implementation
// answers: encryption must give the expected ciphertext and tag, decryption
// the plaintext, and a forged vector must fail with EBADMSG.

#include "cli.hpp"
#include "output.hpp"
#include "vectors.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <kcapi.h>

#include <cstring>
#include <memory>

namespace ktlsaccel::cli {

namespace {

struct SelftestOptions {
	std::string driver;
	std::string alg;
	std::string vectors_dir = default_vectors_dir().string();
};

struct KcapiDeleter {
	void operator()(kcapi_handle *h) const noexcept { kcapi_aead_destroy(h); }
};
using KcapiAead = std::unique_ptr<kcapi_handle, KcapiDeleter>;

struct AlgResult {
	AeadAlg alg;
	std::string driver;
	std::size_t passed = 0, failed = 0, skipped = 0;
	std::string error;			// the driver could not be used at all
	std::vector<std::string> failures;	// the first few
};

using Bytes = std::vector<std::uint8_t>;

Bytes concat(std::initializer_list<const Bytes *> parts)
{
	Bytes out;
	for (auto *p : parts)
		out.insert(out.end(), p->begin(), p->end());
	return out;
}

// The IV the crypto API takes: the nonce, or for CCM the 16-byte counter
// block whose first byte is L - 1 (RFC 3610; L = 15 - nonce length).
Bytes crypto_iv(AeadAlg alg, const Bytes &nonce)
{
	if (alg != AeadAlg::ccm)
		return nonce;
	Bytes iv(16, 0);
	iv[0] = static_cast<std::uint8_t>(14 - nonce.size());
	std::memcpy(iv.data() + 1, nonce.data(), nonce.size());
	return iv;
}

// "" when the vector passed, else what went wrong.
std::string run_vector(kcapi_handle *h, AeadAlg alg, const AeadVector &v)
{
	Bytes iv = crypto_iv(alg, v.nonce);
	kcapi_aead_setassoclen(h, v.aad.size());
	Bytes sealed = concat({&v.aad, &v.ciphertext, &v.tag});
	if (v.valid) {
		Bytes in = concat({&v.aad, &v.plaintext});
		Bytes out(in.size() + v.tag.size() + 1);
		in.reserve(in.size() + 1);
		ssize_t n = kcapi_aead_encrypt(h, in.data(), in.size(), iv.data(), out.data(),
					       out.size() - 1, KCAPI_ACCESS_HEURISTIC);
		if (n < 0)
			return fmt::format("encrypt: {}", std::strerror(static_cast<int>(-n)));
		out.resize(out.size() - 1);
		if (!std::equal(out.begin() + static_cast<std::ptrdiff_t>(v.aad.size()), out.end(),
				sealed.begin() + static_cast<std::ptrdiff_t>(v.aad.size()),
				sealed.end()))
			return "encrypt: ciphertext or tag differs";
	}
	Bytes out(v.aad.size() + v.ciphertext.size() + 1);
	ssize_t n = kcapi_aead_decrypt(h, sealed.data(), sealed.size(), iv.data(), out.data(),
				       out.size() - 1, KCAPI_ACCESS_HEURISTIC);
	if (!v.valid)
		return n == -EBADMSG ? "" : fmt::format("decrypt of a forged message returned {}", n);
	if (n < 0)
		return fmt::format("decrypt: {}", std::strerror(static_cast<int>(-n)));
	if (!std::equal(v.plaintext.begin(), v.plaintext.end(),
			out.begin() + static_cast<std::ptrdiff_t>(v.aad.size())))
		return "decrypt: plaintext differs";
	return {};
}

AlgResult run_alg(AeadAlg alg, const std::string &driver, const std::vector<AeadVector> &vectors)
{
	AlgResult res;
	res.alg = alg;
	res.driver = driver;
	kcapi_handle *raw = nullptr;
	if (int rc = kcapi_aead_init(&raw, driver.c_str(), 0); rc < 0) {
		res.error = fmt::format("driver '{}' is not available: {}", driver,
					std::strerror(-rc));
		return res;
	}
	KcapiAead h(raw);
	const Bytes *key = nullptr;
	bool key_ok = false;
	for (const auto &v : vectors) {
		if (!key || *key != v.key) {
			key = &v.key;
			key_ok = kcapi_aead_setkey(h.get(), v.key.data(),
						   static_cast<std::uint32_t>(v.key.size())) == 0;
		}
		/* Key or tag sizes the driver does not offer are not failures. */
		if (!key_ok ||
		    kcapi_aead_settaglen(h.get(), static_cast<std::uint32_t>(v.tag.size())) < 0) {
			res.skipped++;
			continue;
		}
		std::string why = run_vector(h.get(), alg, v);
		if (why.empty()) {
			res.passed++;
			continue;
		}
		res.failed++;
		if (res.failures.size() < 10)
			res.failures.push_back(v.source + ": " + why);
	}
	return res;
}

std::optional<AeadAlg> alg_of(std::string_view name)
{
	if (name == "gcm" || name.find("gcm") != name.npos)
		return AeadAlg::gcm;
	if (name == "ccm" || name.find("ccm") != name.npos)
		return AeadAlg::ccm;
	if (name.find("chacha") != name.npos)
		return AeadAlg::chacha20_poly1305;
	return std::nullopt;
}

} // namespace

Runner setup_selftest(CLI::App &app)
{
	auto o = std::make_shared<SelftestOptions>();
	app.add_option("--driver", o->driver,
		       "test this crypto driver instead of the module's (e.g. generic-gcm-aesni)");
	app.add_option("--alg", o->alg,
		       "the algorithm: gcm, ccm or chacha20-poly1305 (default: all, or what "
		       "the --driver name says)");
	app.add_option("--vectors-dir", o->vectors_dir,
		       "root of the vector files (default: python3-cryptography-vectors)");
	return [o](Context &ctx) {
		std::vector<std::pair<AeadAlg, std::string>> plan;
		std::optional<AeadAlg> only;
		if (!o->alg.empty()) {
			only = alg_of(o->alg);
			if (!only || (o->alg != "gcm" && o->alg != "ccm" &&
				      o->alg != "chacha20-poly1305"))
				return ctx.fail(fmt::format(
					"invalid value '{}' for '--alg': expected gcm, ccm or "
					"chacha20-poly1305", o->alg));
		}
		if (!o->driver.empty()) {
			if (!only)
				only = alg_of(o->driver);
			if (!only)
				return ctx.fail(fmt::format(
					"cannot tell the algorithm of driver '{}': add --alg", o->driver));
			plan.emplace_back(*only, o->driver);
		} else {
			for (auto a : {AeadAlg::gcm, AeadAlg::chacha20_poly1305, AeadAlg::ccm})
				if (!only || *only == a)
					plan.emplace_back(a, ktlsaccel_driver(a));
		}

		/* Failures are reported here, not by libkcapi on stderr. */
		kcapi_set_verbosity(KCAPI_LOG_NONE);
		Printer p(ctx.out, ctx.format);
		p.open_array();
		bool ok = true;
		for (const auto &[alg, driver] : plan) {
			auto vectors = load_vectors(alg, o->vectors_dir);
			if (!vectors)
				return ctx.fail(vectors.error());
			auto r = run_alg(alg, driver, *vectors);
			/* A driver that ran nothing (everything skipped) passed nothing. */
			if (r.error.empty() && r.passed == 0)
				r.error = fmt::format("driver '{}' ran none of {} vectors", driver,
						      vectors->size());
			ok = ok && r.error.empty() && r.failed == 0;
			p.open_object();
			p.print_string("alg", "{:<28}", crypto_api_name(alg));
			p.print_string("driver", " {:<38}", driver);
			p.print_uint("passed", " passed {:>5}", r.passed);
			p.print_uint("failed", " failed {:>3}", r.failed);
			p.print_uint("skipped", " skipped {:>3}", r.skipped);
			p.print_string("result", "  {}",
				       !r.error.empty() ? "ERROR" : r.failed ? "FAIL" : "ok");
			p.print_nl();
			p.close_object();
			if (!r.error.empty())
				ctx.fail(r.error);
			for (const auto &f : r.failures)
				ctx.err << "  " << f << '\n';
		}
		p.close_array();
		p.end_document();
		return ok ? 0 : 1;
	};
}

} // namespace ktlsaccel::cli

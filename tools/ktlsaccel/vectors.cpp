// SPDX-License-Identifier: MIT

#include "vectors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <istream>
#include <optional>

namespace ktlsaccel::cli {

namespace fs = std::filesystem;

std::string crypto_api_name(AeadAlg a)
{
	switch (a) {
	case AeadAlg::gcm: return "gcm(aes)";
	case AeadAlg::chacha20_poly1305: return "rfc7539(chacha20,poly1305)";
	case AeadAlg::ccm: return "ccm(aes)";
	}
	return {};
}

std::string ktlsaccel_driver(AeadAlg a)
{
	switch (a) {
	case AeadAlg::gcm: return "ktlsaccel-gcm-aes";
	case AeadAlg::chacha20_poly1305: return "ktlsaccel-rfc7539-chacha20-poly1305";
	case AeadAlg::ccm: return "ktlsaccel-ccm-aes";
	}
	return {};
}

fs::path default_vectors_dir()
{
	return "/usr/lib/python3/dist-packages/cryptography_vectors";
}

const std::string *RawRecord::get(std::string_view name) const
{
	for (const auto &[k, v] : fields)
		if (k == name)
			return &v;
	return nullptr;
}

namespace {

std::string trim(std::string_view s)
{
	auto b = s.find_first_not_of(" \t\r");
	if (b == s.npos)
		return {};
	auto e = s.find_last_not_of(" \t\r");
	return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string s)
{
	std::ranges::transform(s, s.begin(), [](unsigned char c) { return std::tolower(c); });
	return s;
}

void set_field(std::vector<std::pair<std::string, std::string>> &fields, std::string key,
	       std::string value)
{
	for (auto &[k, v] : fields) {
		if (k == key) {
			v = std::move(value);
			return;
		}
	}
	fields.emplace_back(std::move(key), std::move(value));
}

// "Name = value" (or "Name= value") into fields; false if no '='.
bool put_assignment(std::vector<std::pair<std::string, std::string>> &fields, std::string_view line)
{
	auto eq = line.find('=');
	if (eq == line.npos)
		return false;
	set_field(fields, lower(trim(line.substr(0, eq))), trim(line.substr(eq + 1)));
	return true;
}

} // namespace

std::vector<RawRecord> parse_records(std::istream &in)
{
	std::vector<RawRecord> out;
	std::vector<std::pair<std::string, std::string>> scope;
	RawRecord rec;
	bool open = false;
	auto finish = [&] {
		if (!open)
			return;
		RawRecord r;
		r.line = rec.line;
		r.fields = scope;
		for (auto &[k, v] : rec.fields)
			set_field(r.fields, k, v);
		out.push_back(std::move(r));
		rec = RawRecord{};
		open = false;
	};

	std::string raw;
	std::size_t lineno = 0;
	while (std::getline(in, raw)) {
		lineno++;
		std::string line = trim(raw);
		if (line.empty()) {
			finish();
			continue;
		}
		if (line[0] == '#')
			continue;
		if (line.front() == '[' && line.back() == ']') {
			finish();
			std::string_view body(line);
			body = body.substr(1, body.size() - 2);
			while (!body.empty()) {
				auto comma = body.find(',');
				put_assignment(scope, body.substr(0, comma));
				if (comma == body.npos)
					break;
				body.remove_prefix(comma + 1);
			}
			continue;
		}
		auto eq = line.find('=');
		std::string name = lower(trim(std::string_view(line).substr(0, eq)));
		if (name == "count") {
			finish();
			open = true;
			rec.line = lineno;
		}
		if (eq == line.npos) {
			/* A bare word: "FAIL" in gcmDecrypt*.rsp. */
			set_field(open ? rec.fields : scope, name, "1");
			continue;
		}
		put_assignment(open ? rec.fields : scope, line);
	}
	finish();
	return out;
}

namespace {

std::expected<std::vector<std::uint8_t>, std::string> unhex(std::string_view s)
{
	if (s.size() % 2)
		return std::unexpected("odd number of hex digits");
	std::vector<std::uint8_t> out(s.size() / 2);
	auto nib = [](char c) -> int {
		if (c >= '0' && c <= '9')
			return c - '0';
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
		if (c >= 'a' && c <= 'f')
			return c - 'a' + 10;
		return -1;
	};
	for (std::size_t i = 0; i < out.size(); i++) {
		int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return std::unexpected("not hex");
		out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
	}
	return out;
}

// Builds vectors from the records of one file with `convert`, which returns
// nullopt for a record that is not a vector this algorithm can run.
template <class Convert>
std::expected<void, std::string> load_file(const fs::path &file, std::vector<AeadVector> &out,
					   Convert convert)
{
	std::ifstream in(file);
	if (!in)
		return std::unexpected("cannot read " + file.string());
	for (const auto &r : parse_records(in)) {
		auto v = convert(r);
		if (!v)
			return std::unexpected(file.string() + ":" + std::to_string(r.line) + ": " +
					       v.error());
		if (!*v)
			continue;
		(*v)->source = file.filename().string() + ":" + std::to_string(r.line);
		out.push_back(std::move(**v));
	}
	return {};
}

using Converted = std::expected<std::optional<AeadVector>, std::string>;

/* Far above any vector in the files; what a file may claim is bounded. */
constexpr std::size_t kMaxDataLen = 1 << 20;
constexpr std::size_t kMaxTagLen = 16;

// Reads the hex field `name` of r into dst (missing: empty), keeping only
// the first `len` bytes when len is given (CAVP writes "00" for no data).
std::expected<void, std::string> hex_field(const RawRecord &r, std::string_view name,
					   std::vector<std::uint8_t> &dst,
					   std::optional<std::size_t> len = {})
{
	const std::string *s = r.get(name);
	if (!s) {
		dst.clear();
		return {};
	}
	if (s->size() >= 2 && s->front() == '"' && s->back() == '"') {
		/* BoringSSL's vectors write some texts as quoted strings. */
		dst.assign(s->begin() + 1, s->end() - 1);
		return {};
	}
	auto b = unhex(*s);
	if (!b)
		return std::unexpected(std::string(name) + ": " + b.error());
	dst = std::move(*b);
	if (len) {
		if (dst.size() < *len)
			return std::unexpected(std::string(name) + ": shorter than its length");
		dst.resize(*len);
	}
	return {};
}

// The decimal field `name` of r: nullopt if missing; an error unless it is
// digits only and at most `max`.
std::expected<std::optional<std::size_t>, std::string> number(const RawRecord &r,
							      std::string_view name,
							      std::size_t max)
{
	const std::string *s = r.get(name);
	if (!s)
		return std::nullopt;
	std::size_t v = 0;
	const char *end = s->data() + s->size();
	auto [p, ec] = std::from_chars(s->data(), end, v);
	if (s->empty() || !std::isdigit(static_cast<unsigned char>(s->front())) ||
	    ec != std::errc{} || p != end)
		return std::unexpected(fmt::format("{}: '{}' is not a number", name, *s));
	if (v > max)
		return std::unexpected(fmt::format("{}: {} is more than {}", name, v, max));
	return v;
}

#define TRY(expr)                                                       \
	do {                                                            \
		if (auto _r = (expr); !_r)                              \
			return std::unexpected(_r.error());             \
	} while (0)

Converted convert_gcm(const RawRecord &r)
{
	if (!r.get("tag") || !r.get("key"))
		return std::nullopt;
	AeadVector v;
	TRY(hex_field(r, "key", v.key));
	TRY(hex_field(r, "iv", v.nonce));
	TRY(hex_field(r, "aad", v.aad));
	TRY(hex_field(r, "pt", v.plaintext));
	TRY(hex_field(r, "ct", v.ciphertext));
	TRY(hex_field(r, "tag", v.tag));
	v.valid = !r.get("fail");
	if (v.nonce.size() != 12)
		return std::nullopt;
	return v;
}

Converted convert_ccm(const RawRecord &r)
{
	auto alen = number(r, "alen", kMaxDataLen), plen = number(r, "plen", kMaxDataLen),
	     tlen = number(r, "tlen", kMaxTagLen);
	for (const auto *n : {&alen, &plen, &tlen})
		if (!*n)
			return std::unexpected(n->error());
	if (!r.get("ct") || !*alen || !*plen || !*tlen)
		return std::nullopt;
	const std::size_t al = **alen, pl = **plen, tl = **tlen;
	AeadVector v;
	std::vector<std::uint8_t> ct;
	TRY(hex_field(r, "key", v.key));
	TRY(hex_field(r, "nonce", v.nonce));
	TRY(hex_field(r, "adata", v.aad, al));
	TRY(hex_field(r, "ct", ct));
	/* CT is the ciphertext and then the tag: exactly Plen + Tlen bytes. */
	if (ct.size() != pl + tl)
		return std::unexpected(fmt::format("ct: {} bytes, not Plen + Tlen = {}", ct.size(),
						   pl + tl));
	v.ciphertext.assign(ct.begin(), ct.begin() + static_cast<std::ptrdiff_t>(pl));
	v.tag.assign(ct.begin() + static_cast<std::ptrdiff_t>(pl), ct.end());
	if (const std::string *res = r.get("result"))
		v.valid = lower(*res) == "pass";
	if (v.valid)
		TRY(hex_field(r, "payload", v.plaintext, pl));
	if (v.nonce.size() < 7 || v.nonce.size() > 13)
		return std::nullopt;
	return v;
}

// OpenSSL's evpciph.txt names (IV, AAD, Plaintext, Ciphertext) or
// BoringSSL's (NONCE, AD, IN, CT).
Converted convert_chacha(const RawRecord &r)
{
	bool boring = r.get("in") != nullptr;
	if (!r.get("tag") || !r.get("key") || !r.get(boring ? "ct" : "ciphertext"))
		return std::nullopt;
	AeadVector v;
	TRY(hex_field(r, "key", v.key));
	TRY(hex_field(r, boring ? "nonce" : "iv", v.nonce));
	TRY(hex_field(r, boring ? "ad" : "aad", v.aad));
	TRY(hex_field(r, boring ? "in" : "plaintext", v.plaintext));
	TRY(hex_field(r, boring ? "ct" : "ciphertext", v.ciphertext));
	TRY(hex_field(r, "tag", v.tag));
	v.valid = !r.get("result");
	if (v.nonce.size() != 12 || v.tag.size() != 16)
		return std::nullopt;
	return v;
}

#undef TRY

} // namespace

std::expected<std::vector<AeadVector>, std::string> load_vectors(AeadAlg alg, const fs::path &dir)
{
	std::vector<AeadVector> out;
	std::vector<fs::path> files;
	Converted (*convert)(const RawRecord &) = nullptr;
	fs::path ciphers = dir / "ciphers";
	switch (alg) {
	case AeadAlg::gcm:
		for (auto bits : {"128", "192", "256"}) {
			files.push_back(ciphers / "AES/GCM" / (std::string("gcmEncryptExtIV") + bits + ".rsp"));
			files.push_back(ciphers / "AES/GCM" / (std::string("gcmDecrypt") + bits + ".rsp"));
		}
		convert = convert_gcm;
		break;
	case AeadAlg::ccm:
		for (auto kind : {"VADT", "VNT", "VPT", "VTT", "DVPT"})
			for (auto bits : {"128", "192", "256"})
				files.push_back(ciphers / "AES/CCM" / (std::string(kind) + bits + ".rsp"));
		convert = convert_ccm;
		break;
	case AeadAlg::chacha20_poly1305:
		files.push_back(ciphers / "ChaCha20Poly1305/openssl.txt");
		files.push_back(ciphers / "ChaCha20Poly1305/boringssl.txt");
		convert = convert_chacha;
		break;
	}
	for (const auto &f : files)
		if (auto r = load_file(f, out, convert); !r)
			return std::unexpected(r.error());
	return out;
}

} // namespace ktlsaccel::cli

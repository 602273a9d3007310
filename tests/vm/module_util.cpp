// SPDX-License-Identifier: MIT
#include "module_util.h"
#include "vm.h"

#include <kcapi.h>
#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace ktlsaccel::vmtest {

static const char *const debugfs = "/sys/kernel/debug/ktlsaccel";

loaded_module::loaded_module(const std::string &params)
{
	if (module_loaded())
		throw std::runtime_error("ktlsaccel is already loaded");
	check_output("mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug");
	testsupport::load_module(module_path(), params);
}

loaded_module::~loaded_module()
{
	if (!unload_module())
		ADD_FAILURE() << "could not unload ktlsaccel";
}

static kv parse_kv(const std::string &line)
{
	kv m;
	std::istringstream in(line);
	std::string tok;
	while (in >> tok) {
		auto eq = tok.find('=');
		if (eq != std::string::npos)
			m[tok.substr(0, eq)] = tok.substr(eq + 1);
	}
	return m;
}

static std::vector<kv> parse_lines(const fs::path &p)
{
	std::vector<kv> v;
	std::istringstream in(testsupport::read_file(p));
	for (std::string line; std::getline(in, line);)
		if (!line.empty())
			v.push_back(parse_kv(line));
	return v;
}

kv engine_stats()
{
	auto v = parse_lines(fs::path(debugfs) / "engine");
	if (v.size() != 1)
		throw std::runtime_error("unexpected debugfs engine file");
	return v[0];
}

std::vector<kv> queue_stats() { return parse_lines(fs::path(debugfs) / "queues"); }
std::vector<kv> flow_stats() { return parse_lines(fs::path(debugfs) / "flows"); }

std::vector<kv> flows_of(const std::string &driver)
{
	std::vector<kv> v;
	for (auto &f : flow_stats())
		if (f["driver"] == driver)
			v.push_back(f);
	return v;
}

uint64_t num(const kv &m, const std::string &key)
{
	auto it = m.find(key);
	if (it == m.end())
		throw std::runtime_error("no counter " + key);
	return std::stoull(it->second);
}

void reconfigure(const std::string &config)
{
	testsupport::set_knobs(config);
}

bytes from_hex(const std::string &hex)
{
	bytes b;
	if (hex.size() % 2)
		throw std::runtime_error("odd hex string: " + hex);
	for (size_t i = 0; i < hex.size(); i += 2)
		b.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
	return b;
}

aead::aead(const std::string &name)
{
	int ret = kcapi_aead_init(&h_, name.c_str(), 0);
	if (ret)
		throw std::runtime_error("kcapi_aead_init(" + name + "): " + std::to_string(ret));
}

aead::~aead()
{
	kcapi_aead_destroy(h_);
}

int aead::setkey(const bytes &key)
{
	return kcapi_aead_setkey(h_, key.data(), key.size());
}

/* Only when it changes: AF_ALG refuses it once an operation ran. */
int aead::settaglen(unsigned int taglen)
{
	if (taglen == taglen_)
		return 0;
	int ret = kcapi_aead_settaglen(h_, taglen);
	if (!ret)
		taglen_ = taglen;
	return ret;
}

/* AF_ALG buffers: input AAD || data, output AAD || result. */
int aead::encrypt(const bytes &iv, const bytes &aad, const bytes &pt,
		  unsigned int taglen, bytes &out)
{
	int ret = settaglen(taglen);
	if (ret)
		return ret;
	kcapi_aead_setassoclen(h_, aad.size());
	bytes in(aad);
	in.insert(in.end(), pt.begin(), pt.end());
	bytes o(aad.size() + pt.size() + taglen + 1);
	ssize_t n = kcapi_aead_encrypt(h_, in.data(), in.size(), iv.data(), o.data(),
				       aad.size() + pt.size() + taglen, KCAPI_ACCESS_HEURISTIC);
	if (n < 0)
		return static_cast<int>(n);
	if (static_cast<size_t>(n) != aad.size() + pt.size() + taglen)
		return -ERANGE;
	out.assign(o.begin() + aad.size(), o.begin() + n);
	return 0;
}

int aead::decrypt(const bytes &iv, const bytes &aad, const bytes &ct_tag,
		  unsigned int taglen, bytes &pt)
{
	int ret = settaglen(taglen);
	if (ret)
		return ret;
	if (ct_tag.size() < taglen)
		return -EINVAL;
	kcapi_aead_setassoclen(h_, aad.size());
	bytes in(aad);
	in.insert(in.end(), ct_tag.begin(), ct_tag.end());
	size_t outlen = aad.size() + ct_tag.size() - taglen;
	bytes o(outlen + 1);
	/*
	 * AF_ALG's recvmsg does nothing for an empty read, so a message with
	 * no AAD and no payload is only verified when the buffer offered is
	 * one byte longer; the kernel then still returns the exact length.
	 */
	ssize_t n = kcapi_aead_decrypt(h_, in.data(), in.size(), iv.data(), o.data(),
				       outlen ? outlen : 1, KCAPI_ACCESS_HEURISTIC);
	if (n < 0)
		return static_cast<int>(n);
	if (static_cast<size_t>(n) != outlen)
		return -ERANGE;
	pt.assign(o.begin() + aad.size(), o.begin() + n);
	return 0;
}

static std::string trim(std::string s)
{
	auto ws = [](unsigned char c) { return std::isspace(c); };
	s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), ws));
	s.erase(std::find_if_not(s.rbegin(), s.rend(), ws).base(), s.end());
	return s;
}

static std::string upper(std::string s)
{
	for (auto &c : s)
		c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	return s;
}

static std::string value_to_hex(const std::string &v)
{
	if (v.size() < 2 || v.front() != '"' || v.back() != '"')
		return v;
	static const char digits[] = "0123456789abcdef";
	std::string hex;
	for (unsigned char c : v.substr(1, v.size() - 2)) {
		hex += digits[c >> 4];
		hex += digits[c & 15];
	}
	return hex;
}

static void add_field(kv &m, const std::string &text)
{
	auto eq = text.find('=');
	if (eq == std::string::npos) {
		if (!trim(text).empty())
			m[upper(trim(text))] = "1";
		return;
	}
	m[upper(trim(text.substr(0, eq)))] = value_to_hex(trim(text.substr(eq + 1)));
}

std::vector<kv> read_vectors(const fs::path &file)
{
	std::ifstream f(file);
	if (!f)
		throw std::runtime_error("cannot read " + file.string());
	std::vector<kv> out;
	kv section, block;
	bool last_was_header = false;
	auto flush = [&] {
		if (block.empty())
			return;
		if (block.count("COUNT")) {
			kv rec = section;
			for (auto &[k, v] : block)
				rec[k] = v;
			out.push_back(rec);
		} else {
			for (auto &[k, v] : block)
				section[k] = v;
		}
		block.clear();
	};
	for (std::string line; std::getline(f, line);) {
		line = trim(line);
		if (!line.empty() && line[0] == '#')
			continue;
		if (line.empty()) {
			flush();
			last_was_header = false;
			continue;
		}
		if (line.front() == '[' && line.back() == ']') {
			flush();
			if (!last_was_header)
				section.clear();
			last_was_header = true;
			std::istringstream fields(line.substr(1, line.size() - 2));
			for (std::string field; std::getline(fields, field, ',');)
				add_field(section, field);
			continue;
		}
		last_was_header = false;
		add_field(block, line);
	}
	flush();
	return out;
}

bytes openssl_gcm_encrypt(const bytes &key, const bytes &iv, const bytes &aad,
			  const bytes &pt, unsigned int taglen)
{
	const EVP_CIPHER *c = key.size() == 16 ? EVP_aes_128_gcm() :
			      key.size() == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bytes out(pt.size() + taglen);
	int len = 0;
	bool ok = ctx && EVP_EncryptInit_ex(ctx, c, nullptr, nullptr, nullptr) &&
		  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, iv.size(), nullptr) &&
		  EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), iv.data()) &&
		  (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), aad.size())) &&
		  (pt.empty() || EVP_EncryptUpdate(ctx, out.data(), &len, pt.data(), pt.size())) &&
		  EVP_EncryptFinal_ex(ctx, out.data() + pt.size(), &len) &&
		  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, taglen, out.data() + pt.size());
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		throw std::runtime_error("OpenSSL AES-GCM failed");
	return out;
}

uint64_t now_us()
{
	return std::chrono::duration_cast<std::chrono::microseconds>(
		std::chrono::steady_clock::now().time_since_epoch()).count();
}

fs::path vectors_dir()
{
	return "/usr/lib/python3/dist-packages/cryptography_vectors/ciphers";
}

} // namespace ktlsaccel::vmtest

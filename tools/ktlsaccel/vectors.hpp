// SPDX-License-Identifier: MIT
//
// Known-answer AEAD vectors from public files, read at run time: NIST CAVP
// (AES-GCM gcmEncryptExtIV*.rsp and gcmDecrypt*.rsp, AES-CCM VADT, VNT, VPT,
// VTT and DVPT *.rsp) and the ChaCha20-Poly1305 vectors of OpenSSL's
// evpciph.txt and BoringSSL (RFC 7539 among them), as Debian's
// python3-cryptography-vectors ships them.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace ktlsaccel::cli {

enum class AeadAlg { gcm, chacha20_poly1305, ccm };

struct AeadVector {
	std::vector<std::uint8_t> key, nonce, aad, plaintext, ciphertext, tag;
	bool valid = true;	// false: decryption must fail with EBADMSG
	std::string source;	// "gcmDecrypt128.rsp:1234"
};

// "gcm(aes)", "rfc7539(chacha20,poly1305)", "ccm(aes)"
std::string crypto_api_name(AeadAlg a);
// The module's driver: "ktlsaccel-gcm-aes", ...
std::string ktlsaccel_driver(AeadAlg a);

// The default vectors directory (the root of cryptography_vectors).
std::filesystem::path default_vectors_dir();

// Every vector of `alg` under `dir` that an AEAD of the crypto API can run:
// 12-byte nonces for GCM and ChaCha20-Poly1305, 7..13 for CCM. The error is
// a message naming the missing or unreadable file.
std::expected<std::vector<AeadVector>, std::string> load_vectors(AeadAlg alg,
								 const std::filesystem::path &dir);

// The records of one CAVP-style file (lines "Name = value", "[Name = v, ...]",
// bare words such as FAIL), each a map from lower-cased name to value, with
// what the file set earlier (headers, a Key for several records) filled in.
// Exposed for the unit tests.
struct RawRecord {
	std::vector<std::pair<std::string, std::string>> fields;
	std::size_t line = 0;
	const std::string *get(std::string_view name) const;
};
std::vector<RawRecord> parse_records(std::istream &in);

} // namespace ktlsaccel::cli

// SPDX-License-Identifier: MIT
//
// The Mbed TLS backend's keys, without a kernel: a real Mbed TLS client
// and server handshake in-process over a socketpair (PSK suites), and
//  - the key block Mbed TLS exported equals OpenSSL's TLS1-PRF
//    (EVP_KDF "TLS1-PRF", SHA-256 or SHA-384) over the same master secret
//    and randoms: an independent derivation;
//  - the tls12_crypto_info export_keys() produced holds the RFC 5246 §6.3
//    slices of that block (RFC 5288 salt, RFC 7905 IV) and sequence number
//    1, the first after Finished (RFC 5246 §6.1);
//  - records Mbed TLS then writes open with OpenSSL's AEAD under those
//    crypto_info fields, and records sealed with them are accepted by
//    Mbed TLS: the mapping and the sequence numbers are what kTLS needs.
// Those need Mbed TLS 2.x; with 3.x, or without the backend, a skipped test
// says why. With any version: a cert_file or ca_file holding certificates
// that do not parse is reported as such.
#ifdef KTLSACCEL_HAVE_MBEDTLS

#include <ktlsaccel/mbedtls.hpp>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

using namespace ktlsaccel;

#if MBEDTLS_VERSION_NUMBER < 0x03000000
using bytes = std::vector<std::uint8_t>;

namespace {

const unsigned char psk[32] = {
	0x6b, 0x74, 0x6c, 0x73, 0x61, 0x63, 0x63, 0x65, 0x6c, 0x20, 0x75, 0x6e, 0x69, 0x74, 0x20, 0x74,
	0x65, 0x73, 0x74, 0x20, 0x70, 0x73, 0x6b, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
const char psk_identity[] = "ktlsaccel-unit";
/* the same identity with another key: the handshake fails at Finished */
const unsigned char wrong_psk[32] = {1};

// What the application's own export callback saw (chained by prepare()).
struct exported {
	bool called = false;
	bytes ms, kb;
	std::size_t maclen = 0, keylen = 0, ivlen = 0;
	bytes client_random, server_random;
	mbedtls_tls_prf_types prf = MBEDTLS_SSL_TLS_PRF_NONE;
};

int app_export(void *p, const unsigned char *ms, const unsigned char *kb, size_t maclen,
	       size_t keylen, size_t ivlen, const unsigned char cr[32], const unsigned char sr[32],
	       mbedtls_tls_prf_types prf)
{
	auto *e = static_cast<exported *>(p);
	e->called = true;
	e->ms.assign(ms, ms + 48);
	e->kb.assign(kb, kb + 2 * (maclen + keylen + ivlen));
	e->maclen = maclen;
	e->keylen = keylen;
	e->ivlen = ivlen;
	e->client_random.assign(cr, cr + 32);
	e->server_random.assign(sr, sr + 32);
	e->prf = prf;
	return 0;
}

int fd_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = ::send(*static_cast<int *>(ctx), buf, len, MSG_NOSIGNAL);
	return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : static_cast<int>(n);
}

int fd_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = ::recv(*static_cast<int *>(ctx), buf, len, 0);
	if (n < 0)
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
	return static_cast<int>(n);
}

struct peer {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	int suites[2] = {0, 0};
	int fd = -1;
	exported seen;

	peer(bool server, const char *suite, int sock, bool do_prepare = true,
	     const unsigned char *key = psk)
		: fd(sock)
	{
		mbedtls_entropy_init(&entropy);
		mbedtls_ctr_drbg_init(&drbg);
		mbedtls_ssl_config_init(&conf);
		mbedtls_ssl_init(&ssl);
		EXPECT_EQ(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0), 0);
		EXPECT_EQ(mbedtls_ssl_config_defaults(&conf, server ? MBEDTLS_SSL_IS_SERVER
								    : MBEDTLS_SSL_IS_CLIENT,
						      MBEDTLS_SSL_TRANSPORT_STREAM,
						      MBEDTLS_SSL_PRESET_DEFAULT),
			  0);
		mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
		suites[0] = mbedtls_ssl_get_ciphersuite_id(suite);
		EXPECT_NE(suites[0], 0) << suite;
		mbedtls_ssl_conf_ciphersuites(&conf, suites);
		mbedtls_ssl_conf_min_version(&conf, 3, MBEDTLS_SSL_MINOR_VERSION_3);
		EXPECT_EQ(mbedtls_ssl_conf_psk(&conf, key, sizeof(psk),
					       reinterpret_cast<const unsigned char *>(psk_identity),
					       std::strlen(psk_identity)),
			  0);
		/* the application's own callback, set first: prepare() must chain it */
		mbedtls_ssl_conf_export_keys_ext_cb(&conf, app_export, &seen);
		if (do_prepare) {
			EXPECT_TRUE(mbedtls::prepare(&conf));
		}
		EXPECT_EQ(mbedtls_ssl_setup(&ssl, &conf), 0);
		if (do_prepare) {
			EXPECT_TRUE(mbedtls::prepare(&ssl));
		}
		mbedtls_ssl_set_bio(&ssl, &fd, fd_send, fd_recv, nullptr);
	}
	~peer()
	{
		mbedtls_ssl_free(&ssl);
		mbedtls_ssl_config_free(&conf);
		mbedtls_ctr_drbg_free(&drbg);
		mbedtls_entropy_free(&entropy);
		close(fd);
	}
};

struct pair {
	std::unique_ptr<peer> client, server;

	explicit pair(const char *suite, bool do_prepare = true,
		      const unsigned char *server_key = psk)
	{
		int sv[2];
		EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		client = std::make_unique<peer>(false, suite, sv[0], do_prepare);
		server = std::make_unique<peer>(true, suite, sv[1], do_prepare, server_key);
	}

	/* both sides' results; shut down on failure so that neither waits */
	std::pair<int, int> run_handshake()
	{
		int rs = 0;
		std::thread t([&] {
			rs = mbedtls_ssl_handshake(&server->ssl);
			if (rs)
				shutdown(server->fd, SHUT_RDWR);
		});
		int rc = mbedtls_ssl_handshake(&client->ssl);
		if (rc)
			shutdown(client->fd, SHUT_RDWR);
		t.join();
		return {rc, rs};
	}

	bool handshake()
	{
		auto [rc, rs] = run_handshake();
		EXPECT_EQ(rc, 0) << "client handshake";
		EXPECT_EQ(rs, 0) << "server handshake";
		return rc == 0 && rs == 0;
	}
};

/* OpenSSL's TLS 1.2 PRF: PRF(ms, "key expansion", server_random + client_random). */
bytes openssl_key_block(const char *digest, const bytes &ms, const bytes &cr, const bytes &sr,
			std::size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr);
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	const std::string label = "key expansion";
	bytes seed(label.begin(), label.end());
	seed.reserve(label.size() + sr.size() + cr.size());
	seed.insert(seed.end(), sr.begin(), sr.end());
	seed.insert(seed.end(), cr.begin(), cr.end());
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>(digest), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<std::uint8_t *>(ms.data()),
						  ms.size()),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed.data(), seed.size()),
		OSSL_PARAM_construct_end(),
	};
	bytes out(len);
	EXPECT_EQ(EVP_KDF_derive(ctx, out.data(), out.size(), params), 1);
	EVP_KDF_CTX_free(ctx);
	return out;
}

bytes to_bytes(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

bytes be64(std::uint64_t v)
{
	bytes b(8);
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = static_cast<std::uint8_t>(v);
	return b;
}

const EVP_CIPHER *evp_of(cipher c)
{
	switch (c) {
	case cipher::aes_128_gcm: return EVP_aes_128_gcm();
	case cipher::aes_256_gcm: return EVP_aes_256_gcm();
	case cipher::chacha20_poly1305: return EVP_chacha20_poly1305();
	case cipher::aes_128_ccm: return EVP_aes_128_ccm();
	}
	return nullptr;
}

/* The 12-byte nonce of a TLS 1.2 record: salt || explicit, or IV ^ seq. */
bytes record_nonce(crypto_info &ci, std::uint64_t seq, const bytes &explicit_nonce)
{
	if (ci.cipher_type() == cipher::chacha20_poly1305) {
		bytes n = to_bytes(ci.iv());
		auto s = be64(seq);
		for (int i = 0; i < 8; i++)
			n[4 + i] ^= s[i];
		return n;
	}
	bytes n = to_bytes(ci.salt());
	n.insert(n.end(), explicit_nonce.begin(), explicit_nonce.end());
	return n;
}

/* AEAD with OpenSSL; open returns false on a bad tag. */
bool aead(bool seal, cipher c, const bytes &key, const bytes &nonce, const bytes &aad,
	  const bytes &in, bytes &out, bytes &tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bool ccm = c == cipher::aes_128_ccm;
	int len = 0;
	bool ok = EVP_CipherInit_ex(ctx, evp_of(c), nullptr, nullptr, nullptr, seal) == 1 &&
		  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1;
	if (ok && ccm)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, seal ? nullptr : tag.data()) == 1;
	ok = ok && EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data(), seal) == 1;
	if (ok && ccm)
		ok = EVP_CipherUpdate(ctx, nullptr, &len, nullptr, static_cast<int>(in.size())) == 1;
	ok = ok && EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
	out.resize(in.size());
	ok = ok && EVP_CipherUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())) == 1;
	if (ok && !seal && !ccm)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag.data()) == 1;
	if (ok && !ccm)
		ok = EVP_CipherFinal_ex(ctx, out.data() + len, &len) == 1;
	if (ok && seal) {
		tag.resize(16);
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag.data()) == 1;
	}
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

bytes aad_of(std::uint64_t seq, std::uint8_t type, std::size_t len)
{
	bytes a = be64(seq);
	a.push_back(type);
	a.push_back(3);
	a.push_back(3);
	a.push_back(static_cast<std::uint8_t>(len >> 8));
	a.push_back(static_cast<std::uint8_t>(len));
	return a;
}

bool recv_all(int fd, std::uint8_t *p, std::size_t n)
{
	while (n) {
		ssize_t r = ::recv(fd, p, n, 0);
		if (r <= 0)
			return false;
		p += r;
		n -= static_cast<std::size_t>(r);
	}
	return true;
}

/* Reads the next raw record from fd and opens it with the writer's crypto_info. */
void expect_record_opens(int fd, crypto_info &writer, const std::string &plain)
{
	std::uint8_t hdr[5];
	ASSERT_TRUE(recv_all(fd, hdr, 5));
	ASSERT_EQ(hdr[0], 23) << "application_data";
	std::size_t len = std::size_t(hdr[3]) << 8 | hdr[4];
	bytes body(len);
	ASSERT_TRUE(recv_all(fd, body.data(), len));
	std::size_t explicit_len = writer.cipher_type() == cipher::chacha20_poly1305 ? 0 : 8;
	ASSERT_GE(len, explicit_len + 16);
	bytes explicit_nonce(body.begin(), body.begin() + static_cast<long>(explicit_len));
	bytes ct(body.begin() + static_cast<long>(explicit_len), body.end() - 16);
	bytes tag(body.end() - 16, body.end());
	std::uint64_t seq = 0;
	for (auto b : writer.rec_seq())
		seq = seq << 8 | b;
	bytes out;
	ASSERT_TRUE(aead(false, writer.cipher_type(), to_bytes(writer.key()),
			 record_nonce(writer, seq, explicit_nonce), aad_of(seq, 23, ct.size()), ct,
			 out, tag))
		<< "OpenSSL could not open the record Mbed TLS wrote with the exported keys";
	EXPECT_EQ(std::string(out.begin(), out.end()), plain);
}

/* Seals a record with crypto_info (as kTLS would) and writes it raw to fd. */
void send_sealed_record(int fd, crypto_info &ci, const std::string &plain)
{
	std::uint64_t seq = 0;
	for (auto b : ci.rec_seq())
		seq = seq << 8 | b;
	bytes explicit_nonce = ci.cipher_type() == cipher::chacha20_poly1305 ? bytes{} : be64(seq);
	bytes out, tag;
	bytes in(plain.begin(), plain.end());
	ASSERT_TRUE(aead(true, ci.cipher_type(), to_bytes(ci.key()), record_nonce(ci, seq, explicit_nonce),
			 aad_of(seq, 23, in.size()), in, out, tag));
	std::size_t len = explicit_nonce.size() + out.size() + tag.size();
	bytes rec = {23, 3, 3, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
	rec.insert(rec.end(), explicit_nonce.begin(), explicit_nonce.end());
	rec.insert(rec.end(), out.begin(), out.end());
	rec.insert(rec.end(), tag.begin(), tag.end());
	ASSERT_EQ(::send(fd, rec.data(), rec.size(), 0), static_cast<ssize_t>(rec.size()));
}

std::string mbedtls_read(mbedtls_ssl_context *ssl, std::size_t max)
{
	std::string s(max, '\0');
	int n = mbedtls_ssl_read(ssl, reinterpret_cast<unsigned char *>(s.data()), max);
	EXPECT_GT(n, 0) << "mbedtls_ssl_read: " << n;
	s.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
	return s;
}

void mbedtls_write(mbedtls_ssl_context *ssl, const std::string &s)
{
	ASSERT_EQ(mbedtls_ssl_write(ssl, reinterpret_cast<const unsigned char *>(s.data()), s.size()),
		  static_cast<int>(s.size()));
}

struct suite_case {
	const char *suite;
	cipher c;
	const char *digest;
	mbedtls_tls_prf_types prf;
};

// What ctest shows next to each case (instead of its bytes).
void PrintTo(const suite_case &c, std::ostream *os)
{
	*os << c.suite;
}

class MbedtlsKeys : public testing::TestWithParam<suite_case> {};

} // namespace

TEST_P(MbedtlsKeys, KeyBlockMatchesOpensslPrfAndRecordsOpen)
{
	const auto &p = GetParam();
	pair conn(p.suite);
	ASSERT_TRUE(conn.handshake());
	auto &cs = conn.client->seen, &ss = conn.server->seen;
	ASSERT_TRUE(cs.called && ss.called) << "the application's export callback was not chained";

	/* Mbed TLS's key block against OpenSSL's PRF on the same inputs */
	EXPECT_EQ(cs.prf, p.prf);
	std::size_t kl = cs.keylen, il = cs.ivlen;
	EXPECT_EQ(cs.maclen, 0u);
	auto expect_kb = openssl_key_block(p.digest, cs.ms, cs.client_random, cs.server_random,
					   2 * (kl + il));
	EXPECT_EQ(cs.kb, expect_kb) << "Mbed TLS's key block differs from OpenSSL's TLS1-PRF";
	EXPECT_EQ(ss.kb, expect_kb) << "the server's key block differs";
	EXPECT_EQ(kl, p.c == cipher::aes_128_gcm || p.c == cipher::aes_128_ccm ? 16u : 32u);
	EXPECT_EQ(il, p.c == cipher::chacha20_poly1305 ? 12u : 4u);

	auto ck = mbedtls::export_keys(&conn.client->ssl);
	auto sk = mbedtls::export_keys(&conn.server->ssl);
	ASSERT_TRUE(ck) << ck.error().message();
	ASSERT_TRUE(sk) << sk.error().message();
	EXPECT_EQ(ck->version, tls_version::tls12);
	EXPECT_EQ(ck->local_role, role::client);
	EXPECT_EQ(sk->local_role, role::server);
	EXPECT_EQ(ck->cipher_type, p.c);
	EXPECT_EQ(ck->cipher_suite, p.suite);
	EXPECT_TRUE(ck->pending.empty());

	/* RFC 5246 §6.3: client key, server key, client IV, server IV */
	bytes client_key(expect_kb.begin(), expect_kb.begin() + kl);
	bytes server_key(expect_kb.begin() + kl, expect_kb.begin() + 2 * kl);
	bytes client_iv(expect_kb.begin() + 2 * kl, expect_kb.begin() + 2 * kl + il);
	bytes server_iv(expect_kb.begin() + 2 * kl + il, expect_kb.end());
	EXPECT_EQ(to_bytes(ck->tx.key()), client_key);
	EXPECT_EQ(to_bytes(ck->rx.key()), server_key);
	EXPECT_EQ(to_bytes(sk->tx.key()), server_key);
	EXPECT_EQ(to_bytes(sk->rx.key()), client_key);
	if (p.c == cipher::chacha20_poly1305) {
		EXPECT_EQ(to_bytes(ck->tx.iv()), client_iv);	/* RFC 7905: 12-byte IV */
		EXPECT_EQ(to_bytes(sk->tx.iv()), server_iv);
	} else {
		EXPECT_EQ(to_bytes(ck->tx.salt()), client_iv);	/* RFC 5288: 4-byte salt */
		EXPECT_EQ(to_bytes(ck->rx.salt()), server_iv);
		EXPECT_EQ(to_bytes(sk->tx.salt()), server_iv);
		EXPECT_EQ(to_bytes(sk->rx.salt()), client_iv);
	}
	/* Finished was record 0 under the new keys: application data starts at 1 */
	for (auto *ci : {&ck->tx, &ck->rx, &sk->tx, &sk->rx})
		EXPECT_EQ(to_bytes(ci->rec_seq()), be64(1));

	/* what Mbed TLS writes next opens with the exported keys... */
	mbedtls_write(&conn.client->ssl, "client to server");
	expect_record_opens(conn.server->fd, ck->tx, "client to server");
	mbedtls_write(&conn.server->ssl, "server to client");
	expect_record_opens(conn.client->fd, sk->tx, "server to client");
	/* ...and what is sealed with them, as kTLS would, Mbed TLS accepts */
	send_sealed_record(conn.server->fd, ck->rx, "sealed for the client");
	EXPECT_EQ(mbedtls_read(&conn.client->ssl, 100), "sealed for the client");
	send_sealed_record(conn.client->fd, sk->rx, "sealed for the server");
	EXPECT_EQ(mbedtls_read(&conn.server->ssl, 100), "sealed for the server");
}

INSTANTIATE_TEST_SUITE_P(
	Psk, MbedtlsKeys,
	testing::Values(
		suite_case{"TLS-PSK-WITH-AES-128-GCM-SHA256", cipher::aes_128_gcm, "SHA256",
			   MBEDTLS_SSL_TLS_PRF_SHA256},
		suite_case{"TLS-PSK-WITH-AES-256-GCM-SHA384", cipher::aes_256_gcm, "SHA384",
			   MBEDTLS_SSL_TLS_PRF_SHA384},
		suite_case{"TLS-PSK-WITH-CHACHA20-POLY1305-SHA256", cipher::chacha20_poly1305, "SHA256",
			   MBEDTLS_SSL_TLS_PRF_SHA256},
		suite_case{"TLS-PSK-WITH-AES-128-CCM", cipher::aes_128_ccm, "SHA256",
			   MBEDTLS_SSL_TLS_PRF_SHA256}),
	[](const auto &i) {
		switch (i.param.c) {
		case cipher::aes_128_gcm: return std::string("Aes128Gcm");
		case cipher::aes_256_gcm: return std::string("Aes256Gcm");
		case cipher::chacha20_poly1305: return std::string("Chacha20Poly1305");
		case cipher::aes_128_ccm: return std::string("Aes128Ccm");
		}
		return std::string();
	});

TEST(MbedtlsKeysHandOver, DecryptedBytesAreHandedOverAndCounted)
{
	pair conn("TLS-PSK-WITH-AES-128-GCM-SHA256");
	ASSERT_TRUE(conn.handshake());
	mbedtls_write(&conn.server->ssl, "hello world");
	/* the application read part of the record before handing over */
	EXPECT_EQ(mbedtls_read(&conn.client->ssl, 5), "hello");
	auto k = mbedtls::export_keys(&conn.client->ssl);
	ASSERT_TRUE(k) << k.error().message();
	EXPECT_EQ(std::string(k->pending.begin(), k->pending.end()), " world");
	EXPECT_EQ(to_bytes(k->rx.rec_seq()), be64(2)) << "one record was consumed";
	EXPECT_EQ(to_bytes(k->tx.rec_seq()), be64(1));
}

TEST(MbedtlsKeysHandOver, HalfReadRecordIsRefusedAndContextStaysUsable)
{
	pair conn("TLS-PSK-WITH-AES-128-GCM-SHA256");
	ASSERT_TRUE(conn.handshake());
	/* a record whose first 3 bytes reached Mbed TLS through a non-blocking read */
	std::string plain = "late";
	mbedtls_write(&conn.server->ssl, plain);
	bytes rec(64);
	ssize_t n = ::recv(conn.client->fd, rec.data(), rec.size(), MSG_PEEK);
	ASSERT_GT(n, 5);
	int fl = fcntl(conn.client->fd, F_GETFL);
	std::uint8_t drop[256];
	/* take it off the socket and let only its first 3 bytes through */
	ASSERT_EQ(::recv(conn.client->fd, drop, static_cast<size_t>(n), 0), n);
	ASSERT_EQ(::send(conn.server->fd, drop, 3, 0), 3);
	fcntl(conn.client->fd, F_SETFL, fl | O_NONBLOCK);
	unsigned char buf[16];
	EXPECT_EQ(mbedtls_ssl_read(&conn.client->ssl, buf, sizeof(buf)), MBEDTLS_ERR_SSL_WANT_READ);
	auto k = mbedtls::export_keys(&conn.client->ssl);
	ASSERT_FALSE(k);
	EXPECT_EQ(k.error(), errc::pending_input) << k.error().message();
	/* the rest arrives: Mbed TLS still has the whole record */
	fcntl(conn.client->fd, F_SETFL, fl);
	ASSERT_EQ(::send(conn.server->fd, drop + 3, static_cast<size_t>(n) - 3, 0), n - 3);
	EXPECT_EQ(mbedtls_read(&conn.client->ssl, 16), plain);
}

/*
 * 2.x reads the keys from the context itself: a config prepare() never saw
 * (its renegotiation off by Mbed TLS's default) hands over all the same,
 * and an application's export callback on it is its own business.
 */
TEST(MbedtlsKeysHandOver, UnpreparedConfigHandsOverFromTheContext)
{
	pair conn("TLS-PSK-WITH-AES-128-GCM-SHA256", false);
	ASSERT_TRUE(conn.handshake());
	EXPECT_TRUE(conn.client->seen.called);
	auto k = mbedtls::export_keys(&conn.client->ssl);
	ASSERT_TRUE(k) << k.error().message();
	mbedtls_write(&conn.client->ssl, "unprepared");
	expect_record_opens(conn.server->fd, k->tx, "unprepared");
	/* prepare(ssl) after the handshake started says it is too late */
	auto prepared = mbedtls::prepare(&conn.client->ssl);
	ASSERT_FALSE(prepared);
	EXPECT_EQ(prepared.error(), errc::ssl_not_ready);
}

TEST(MbedtlsKeysHandOver, SuiteWithoutKernelEquivalentIsRefused)
{
	pair conn("TLS-PSK-WITH-AES-128-CBC-SHA256");
	ASSERT_TRUE(conn.handshake());
	auto k = mbedtls::export_keys(&conn.client->ssl);
	ASSERT_FALSE(k);
	EXPECT_EQ(k.error(), errc::cipher_unsupported);
	EXPECT_NE(k.error().message().find("no kernel TLS equivalent"), std::string::npos);
}

TEST(MbedtlsKeysHandOver, HandshakeNotFinishedIsRefused)
{
	pair conn("TLS-PSK-WITH-AES-128-GCM-SHA256");
	auto k = mbedtls::export_keys(&conn.client->ssl);
	ASSERT_FALSE(k);
	EXPECT_EQ(k.error(), errc::ssl_not_ready);
}

/*
 * A busy server: many handshakes that failed (or whose contexts were freed
 * without a hand-over) between a live one's handshake and its offload. The
 * live one's keys must still be there, and be its own.
 */
TEST(MbedtlsKeysPerContext, LiveHandshakeOutlastsManyFailedOnes)
{
	pair live("TLS-PSK-WITH-AES-128-GCM-SHA256");
	ASSERT_TRUE(live.handshake());
	/* each failed one has derived keys on both sides: more than any small table holds */
	for (int i = 0; i < 160; i++) {
		pair failed("TLS-PSK-WITH-AES-128-GCM-SHA256", true, wrong_psk);
		auto [rc, rs] = failed.run_handshake();
		ASSERT_TRUE(rc != 0 && rs != 0) << "a wrong PSK must fail the handshake";
	}
	auto ck = mbedtls::export_keys(&live.client->ssl);
	auto sk = mbedtls::export_keys(&live.server->ssl);
	ASSERT_TRUE(ck) << ck.error().message();
	ASSERT_TRUE(sk) << sk.error().message();
	EXPECT_EQ(to_bytes(ck->tx.key()), to_bytes(sk->rx.key()));
	EXPECT_EQ(to_bytes(sk->tx.key()), to_bytes(ck->rx.key()));
	mbedtls_write(&live.client->ssl, "after the flood");
	expect_record_opens(live.server->fd, ck->tx, "after the flood");
}

/*
 * Another context's keys are never handed out: two handshakes of one
 * config, offloaded in the other order, each get their own.
 */
TEST(MbedtlsKeysPerContext, TwoContextsOfOneConfigGetTheirOwnKeys)
{
	pair a("TLS-PSK-WITH-AES-128-GCM-SHA256"), b("TLS-PSK-WITH-AES-128-GCM-SHA256");
	ASSERT_TRUE(a.handshake());
	ASSERT_TRUE(b.handshake());
	auto bk = mbedtls::export_keys(&b.client->ssl);
	auto ak = mbedtls::export_keys(&a.client->ssl);
	ASSERT_TRUE(ak && bk);
	EXPECT_NE(to_bytes(ak->tx.key()), to_bytes(bk->tx.key()));
	mbedtls_write(&a.client->ssl, "from a");
	expect_record_opens(a.server->fd, ak->tx, "from a");
	mbedtls_write(&b.client->ssl, "from b");
	expect_record_opens(b.server->fd, bk->tx, "from b");
}

/*
 * Two resumptions of one session: the same master secret, other randoms.
 * Each context hands over its own keys, whichever is offloaded first.
 */
TEST(MbedtlsKeysPerContext, TwoResumptionsOfOneSessionGetTheirOwnKeys)
{
	mbedtls_ssl_cache_context cache;
	mbedtls_ssl_cache_init(&cache);
	mbedtls_ssl_session saved;
	mbedtls_ssl_session_init(&saved);
	{
		pair first("TLS-PSK-WITH-AES-128-GCM-SHA256");
		mbedtls_ssl_conf_session_cache(&first.server->conf, &cache, mbedtls_ssl_cache_get,
					       mbedtls_ssl_cache_set);
		ASSERT_TRUE(first.handshake());
		ASSERT_EQ(mbedtls_ssl_get_session(&first.client->ssl, &saved), 0);
	}
	pair b("TLS-PSK-WITH-AES-128-GCM-SHA256"), c("TLS-PSK-WITH-AES-128-GCM-SHA256");
	for (pair *p : {&b, &c}) {
		mbedtls_ssl_conf_session_cache(&p->server->conf, &cache, mbedtls_ssl_cache_get,
					       mbedtls_ssl_cache_set);
		ASSERT_EQ(mbedtls_ssl_set_session(&p->client->ssl, &saved), 0);
		ASSERT_TRUE(p->handshake());
	}
	ASSERT_EQ(std::memcmp(b.client->ssl.session->master, saved.master, 48), 0)
		<< "the first handshake was not resumed";
	ASSERT_EQ(std::memcmp(c.client->ssl.session->master, saved.master, 48), 0);
	auto ck = mbedtls::export_keys(&c.client->ssl);
	auto bk = mbedtls::export_keys(&b.client->ssl);
	auto cs = mbedtls::export_keys(&c.server->ssl);
	ASSERT_TRUE(ck && bk && cs);
	EXPECT_NE(to_bytes(bk->tx.key()), to_bytes(ck->tx.key()));
	mbedtls_write(&b.client->ssl, "resumed b");
	expect_record_opens(b.server->fd, bk->tx, "resumed b");
	mbedtls_write(&c.server->ssl, "resumed c");
	expect_record_opens(c.client->fd, cs->tx, "resumed c");
	mbedtls_ssl_session_free(&saved);
	mbedtls_ssl_cache_free(&cache);
}

/*
 * The application's export callbacks, set after prepare(): each is called
 * with the application's own context and the right signature, and the
 * hand-over still works. `hook_lookalike` sits where a library that took
 * the application's context for its own would look for a callback.
 */
struct late_app {
	mbedtls_ssl_export_keys_ext_t *hook_lookalike;
	void *unused[2] = {};
	int old_style_calls = 0;
	bytes ms;
};

bool misread_as_hook = false;

int trap(void *, const unsigned char *, const unsigned char *, size_t, size_t, size_t,
	 const unsigned char[32], const unsigned char[32], mbedtls_tls_prf_types)
{
	misread_as_hook = true;
	return 0;
}

int late_old_style(void *p, const unsigned char *ms, const unsigned char *, size_t, size_t, size_t)
{
	auto *a = static_cast<late_app *>(p);
	a->old_style_calls++;
	a->ms.assign(ms, ms + 48);
	return 0;
}

TEST(MbedtlsKeysPerContext, ApplicationCallbacksSetAfterPrepare)
{
	misread_as_hook = false;
	pair conn("TLS-PSK-WITH-AES-128-GCM-SHA256", false);
	late_app app;
	app.hook_lookalike = trap;
	exported seen;
	/*
	 * Client: only the old-style callback, set after prepare(). Server:
	 * the extended one, set after prepare(). (Both kinds share one
	 * context pointer per config.)
	 */
	mbedtls_ssl_conf_export_keys_ext_cb(&conn.client->conf, nullptr, nullptr);
	for (auto *p : {conn.client.get(), conn.server.get()}) {
		ASSERT_TRUE(mbedtls::prepare(&p->conf));
		ASSERT_TRUE(mbedtls::prepare(&p->ssl));
	}
	mbedtls_ssl_conf_export_keys_cb(&conn.client->conf, late_old_style, &app);
	mbedtls_ssl_conf_export_keys_ext_cb(&conn.server->conf, app_export, &seen);
	ASSERT_TRUE(conn.handshake());
	EXPECT_FALSE(misread_as_hook) << "the application's context was used as the library's";
	EXPECT_EQ(app.old_style_calls, 1);
	EXPECT_TRUE(seen.called);
	EXPECT_EQ(app.ms, seen.ms) << "both sides' callbacks saw the same master secret";

	auto ck = mbedtls::export_keys(&conn.client->ssl);
	auto sk = mbedtls::export_keys(&conn.server->ssl);
	ASSERT_TRUE(ck) << ck.error().message();
	ASSERT_TRUE(sk) << sk.error().message();
	auto kb = openssl_key_block("SHA256", seen.ms, seen.client_random, seen.server_random, 40);
	EXPECT_EQ(to_bytes(ck->tx.key()), bytes(kb.begin(), kb.begin() + 16));
	EXPECT_EQ(to_bytes(sk->tx.key()), bytes(kb.begin() + 16, kb.begin() + 32));
}

#else /* MBEDTLS_VERSION_NUMBER >= 0x03000000 */

// The tests above drive Mbed TLS 2.x's key-export callback
// (mbedtls_ssl_conf_export_keys_ext_cb) and its key block, which 3.x
// replaced; say so instead of compiling to nothing.
TEST(MbedtlsKeys, KeyBlockMatchesOpensslPrfAndRecordsOpen)
{
	GTEST_SKIP() << "Mbed TLS " MBEDTLS_VERSION_STRING
			" has no TLS 1.2 key-block export; these tests cover Mbed TLS 2.x";
}

#endif /* MBEDTLS_VERSION_NUMBER < 0x03000000 */

namespace {

// A directory with a self-signed certificate and its key (openssl CLI), and
// a PEM file of that certificate followed by one that does not parse.
std::filesystem::path pki_with_bad_certificate()
{
	namespace fs = std::filesystem;
	std::string tmpl = (fs::temp_directory_path() / "ktlsaccel-mbedtls.XXXXXX").string();
	if (!mkdtemp(tmpl.data()))
		return {};
	fs::path d = tmpl;
	std::string cmd = "cd '" + d.string() + "' && exec >/dev/null 2>&1 && "
			  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			  "-keyout leaf.key -out leaf.pem -days 1 -subj /CN=localhost";
	if (std::system(cmd.c_str()) != 0)
		return {};
	fs::copy_file(d / "leaf.pem", d / "bad.pem");
	/* Good base64, but no DER certificate inside. */
	std::ofstream(d / "bad.pem", std::ios::app)
		<< "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQoLDA0ODw==\n-----END CERTIFICATE-----\n";
	return d;
}

// A socket whose peer is gone: a handshake that gets past its options
// fails at once instead of waiting.
struct dead_socket {
	int fd[2] = {-1, -1};
	dead_socket()
	{
		EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
		shutdown(fd[1], SHUT_RDWR);
	}
	~dead_socket()
	{
		close(fd[0]);
		close(fd[1]);
	}
};

} // namespace

// mbedtls_x509_crt_parse_file() returns how many certificates it could not
// parse when it parsed others; that count is no verification flag.
TEST(MbedtlsHandshakeOptions, UnparsedCertificatesAreNamedAsSuch)
{
	auto dir = pki_with_bad_certificate();
	ASSERT_FALSE(dir.empty()) << "openssl CLI failed";

	options server;
	server.role = role::server;
	server.cert_file = dir / "bad.pem";
	server.key_file = dir / "leaf.key";
	server.verify_peer = false;
	dead_socket s1;
	auto s = mbedtls::handshake(s1.fd[0], server);
	ASSERT_FALSE(s);
	EXPECT_EQ(s.error().category(), mbedtls::category());
	EXPECT_EQ(s.error().message(),
		  "Mbed TLS: 1 certificate in the certificate file (cert_file) could not be parsed");
	EXPECT_EQ(s.error(), std::errc::invalid_argument);

	options client;
	client.role = role::client;
	client.ca_file = dir / "bad.pem";
	client.server_name = "localhost";
	dead_socket s2;
	auto c = mbedtls::handshake(s2.fd[0], client);
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error().message(),
		  "Mbed TLS: 1 certificate in the CA file (ca_file) could not be parsed");

	/* The good file alone gets past the certificates, to the handshake. */
	server.cert_file = dir / "leaf.pem";
	dead_socket s3;
	auto ok = mbedtls::handshake(s3.fd[0], server);
	ASSERT_FALSE(ok);
	EXPECT_EQ(ok.error().message().find("could not be parsed"), std::string::npos)
		<< ok.error().message();
	std::filesystem::remove_all(dir);
}

#else /* !KTLSACCEL_HAVE_MBEDTLS */

#include <gtest/gtest.h>

TEST(MbedtlsKeys, KeyBlockMatchesOpensslPrfAndRecordsOpen)
{
	GTEST_SKIP() << "libktlsaccel was built without the Mbed TLS backend "
			"(KTLSACCEL_WITH_MBEDTLS off, or libmbedtls-dev missing)";
}

#endif /* KTLSACCEL_HAVE_MBEDTLS */

// SPDX-License-Identifier: MIT
//
// The OpenSSL backend's keys, without a kernel: a real OpenSSL client
// (prepared with ssl_prepare()) and server handshake in-process over a
// socketpair, exchange application data both ways (and, in TLS 1.3, the
// server's NewSessionTickets), then ssl_export_keys() on the client. The
// oracle is the server's own record layer, which the library does not see:
//  - the next record the server writes opens with OpenSSL's AEAD under
//    the exported rx crypto_info at its rec_seq (RFC 5246 §6.2.3.3 /
//    RFC 5288, RFC 7905, RFC 8446 §5.2-5.3 nonces and additional data);
//  - a record sealed under the exported tx crypto_info is accepted by the
//    server's SSL_read(), which needs the right key, IV and sequence number;
//  - the TLS 1.2 sequence numbers are those RFC 5246 §6.1 gives: Finished
//    is 0, so after n records written the next is n + 1.
// Plaintext the client's OpenSSL already decrypted moves to keys.pending.
#include <ktlsaccel/ktlsaccel.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fs = std::filesystem;
using namespace ktlsaccel;

namespace {

using bytes = std::vector<std::uint8_t>;

const fs::path &pki_dir()
{
	static const fs::path dir = [] {
		std::string tmpl = (fs::temp_directory_path() / "ktlsaccel-osslkeys.XXXXXX").string();
		if (!mkdtemp(tmpl.data()))
			throw std::runtime_error("mkdtemp");
		fs::path d = tmpl;
		std::string cmd = "cd '" + d.string() + "' && exec >/dev/null 2>&1 && "
				  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
				  "-keyout leaf.key -out leaf.pem -days 1 -subj /CN=localhost";
		if (std::system(cmd.c_str()) != 0)
			throw std::runtime_error("openssl CLI failed");
		return d;
	}();
	return dir;
}

struct ctx_del {
	void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct ssl_del {
	void operator()(SSL *s) const { SSL_free(s); }
};

bytes to_bytes(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

bytes be64(std::uint64_t v)
{
	bytes b(8);
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
	return b;
}

std::uint64_t seq_of(crypto_info &ci)
{
	std::uint64_t seq = 0;
	for (auto b : ci.rec_seq())
		seq = seq << 8 | b;
	return seq;
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

/*
 * The 12-byte nonce of a record: TLS 1.2 AES salt || explicit; otherwise
 * the 12-byte IV (salt || iv in crypto_info) XOR the sequence number.
 */
bytes record_nonce(crypto_info &ci, std::uint64_t seq, const bytes &explicit_nonce)
{
	bytes n = to_bytes(ci.salt());
	if (ci.version() == tls_version::tls12 && ci.cipher_type() != cipher::chacha20_poly1305) {
		n.insert(n.end(), explicit_nonce.begin(), explicit_nonce.end());
		return n;
	}
	auto iv = ci.iv();
	n.insert(n.end(), iv.begin(), iv.end());
	auto s = be64(seq);
	for (std::size_t i = 0; i < 8; i++)
		n[4 + i] ^= s[i];
	return n;
}

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

/* RFC 5246 §6.2.3.3: seq || type || version || length of the plaintext */
bytes aad12(std::uint64_t seq, std::size_t len)
{
	bytes a = be64(seq);
	a.insert(a.end(), {23, 3, 3, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
	return a;
}

/* RFC 8446 §5.2: the record header, length of the ciphertext with tag */
bytes aad13(std::size_t len)
{
	return {23, 3, 3, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
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

/* Reads the next raw record from fd and opens it with the reader's crypto_info. */
void expect_record_opens(int fd, crypto_info &ci, const std::string &plain)
{
	std::uint8_t hdr[5];
	ASSERT_TRUE(recv_all(fd, hdr, 5));
	ASSERT_EQ(hdr[0], 23) << "application_data (outer type)";
	std::size_t len = std::size_t(hdr[3]) << 8 | hdr[4];
	bytes body(len);
	ASSERT_TRUE(recv_all(fd, body.data(), len));
	bool tls13 = ci.version() == tls_version::tls13;
	std::size_t explicit_len =
		tls13 || ci.cipher_type() == cipher::chacha20_poly1305 ? 0 : 8;
	ASSERT_GE(len, explicit_len + 16);
	bytes explicit_nonce(body.begin(), body.begin() + static_cast<long>(explicit_len));
	bytes ct(body.begin() + static_cast<long>(explicit_len), body.end() - 16);
	bytes tag(body.end() - 16, body.end());
	std::uint64_t seq = seq_of(ci);
	bytes out;
	ASSERT_TRUE(aead(false, ci.cipher_type(), to_bytes(ci.key()), record_nonce(ci, seq, explicit_nonce),
			 tls13 ? aad13(len) : aad12(seq, ct.size()), ct, out, tag))
		<< "the record OpenSSL wrote does not open with the exported keys at seq " << seq;
	if (tls13) {
		/* TLSInnerPlaintext: content, type, zero padding */
		while (!out.empty() && out.back() == 0)
			out.pop_back();
		ASSERT_FALSE(out.empty());
		EXPECT_EQ(out.back(), 23) << "inner type";
		out.pop_back();
	}
	EXPECT_EQ(std::string(out.begin(), out.end()), plain);
}

/* Seals a record as kTLS would with crypto_info and writes it raw to fd. */
void send_sealed_record(int fd, crypto_info &ci, const std::string &plain)
{
	bool tls13 = ci.version() == tls_version::tls13;
	std::uint64_t seq = seq_of(ci);
	bytes explicit_nonce =
		tls13 || ci.cipher_type() == cipher::chacha20_poly1305 ? bytes{} : be64(seq);
	bytes in(plain.begin(), plain.end());
	if (tls13)
		in.push_back(23);
	std::size_t len = explicit_nonce.size() + in.size() + 16;
	bytes out, tag;
	ASSERT_TRUE(aead(true, ci.cipher_type(), to_bytes(ci.key()), record_nonce(ci, seq, explicit_nonce),
			 tls13 ? aad13(len) : aad12(seq, in.size()), in, out, tag));
	bytes rec = {23, 3, 3, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
	rec.insert(rec.end(), explicit_nonce.begin(), explicit_nonce.end());
	rec.insert(rec.end(), out.begin(), out.end());
	rec.insert(rec.end(), tag.begin(), tag.end());
	ASSERT_EQ(::send(fd, rec.data(), rec.size(), MSG_NOSIGNAL), static_cast<ssize_t>(rec.size()));
}

std::string ssl_read_n(SSL *ssl, std::size_t n)
{
	std::string s(n, '\0');
	std::size_t have = 0;
	while (have < n) {
		int r = SSL_read(ssl, s.data() + have, static_cast<int>(n - have));
		if (r <= 0)
			break;
		have += static_cast<std::size_t>(r);
	}
	s.resize(have);
	return s;
}

struct key_case {
	tls_version version;
	cipher cipher_type;
	const char *name;	/* OpenSSL's, for TLS 1.2 (ECDSA) or TLS 1.3 */
};

class OpensslKeys : public testing::TestWithParam<key_case> {};

} // namespace

TEST_P(OpensslKeys, ExportedKeysAndSequenceNumbersMatchTheServersRecordLayer)
{
	const auto &kc = GetParam();
	bool tls13 = kc.version == tls_version::tls13;
	int v = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	std::unique_ptr<SSL_CTX, ctx_del> sctx(SSL_CTX_new(TLS_server_method()));
	std::unique_ptr<SSL_CTX, ctx_del> cctx(SSL_CTX_new(TLS_client_method()));
	for (SSL_CTX *c : {sctx.get(), cctx.get()}) {
		SSL_CTX_set_min_proto_version(c, v);
		SSL_CTX_set_max_proto_version(c, v);
		ASSERT_EQ(tls13 ? SSL_CTX_set_ciphersuites(c, kc.name) : SSL_CTX_set_cipher_list(c, kc.name),
			  1);
	}
	/* tickets travel under the server's application keys: they count */
	SSL_CTX_set_num_tickets(sctx.get(), 2);
	ASSERT_EQ(SSL_CTX_use_certificate_chain_file(sctx.get(), (pki_dir() / "leaf.pem").c_str()), 1);
	ASSERT_EQ(SSL_CTX_use_PrivateKey_file(sctx.get(), (pki_dir() / "leaf.key").c_str(),
					      SSL_FILETYPE_PEM), 1);
	std::unique_ptr<SSL, ssl_del> srv(SSL_new(sctx.get())), cli(SSL_new(cctx.get()));
	SSL_set_fd(srv.get(), sv[0]);
	SSL_set_fd(cli.get(), sv[1]);
	ASSERT_TRUE(ssl_prepare(cli.get()));
	auto accepted = std::async(std::launch::async, [&] { return SSL_accept(srv.get()); });
	ASSERT_EQ(SSL_connect(cli.get()), 1);
	ASSERT_EQ(accepted.get(), 1);

	/* three records up, two down, the last one read in part */
	for (const char *m : {"up one", "up two", "up three"})
		ASSERT_EQ(SSL_write(cli.get(), m, static_cast<int>(std::strlen(m))),
			  static_cast<int>(std::strlen(m)));
	EXPECT_EQ(ssl_read_n(srv.get(), 20), "up oneup twoup three");
	for (const char *m : {"down one", "down two"})
		ASSERT_EQ(SSL_write(srv.get(), m, static_cast<int>(std::strlen(m))),
			  static_cast<int>(std::strlen(m)));
	EXPECT_EQ(ssl_read_n(cli.get(), 12), "down onedown");

	auto keys = ssl_export_keys(cli.get());
	ASSERT_TRUE(keys) << keys.error().message();
	EXPECT_EQ(keys->version, kc.version);
	EXPECT_EQ(keys->cipher_type, kc.cipher_type);
	EXPECT_EQ(keys->local_role, role::client);
	EXPECT_EQ(std::string(keys->pending.begin(), keys->pending.end()), " two");
	if (!tls13) {
		EXPECT_EQ(seq_of(keys->tx), 4u) << "Finished, then three records";
		EXPECT_EQ(seq_of(keys->rx), 3u) << "Finished, then two records";
	} else {
		EXPECT_EQ(seq_of(keys->tx), 3u) << "three records after Finished";
	}

	ASSERT_EQ(SSL_write(srv.get(), "after export", 12), 12);
	ASSERT_NO_FATAL_FAILURE(expect_record_opens(sv[1], keys->rx, "after export"));
	ASSERT_NO_FATAL_FAILURE(send_sealed_record(sv[1], keys->tx, "sealed by the oracle"));
	EXPECT_EQ(ssl_read_n(srv.get(), 20), "sealed by the oracle");
	ERR_clear_error();
	close(sv[0]);
	close(sv[1]);
}

INSTANTIATE_TEST_SUITE_P(
	Suites, OpensslKeys,
	testing::Values(
		key_case{tls_version::tls12, cipher::aes_128_gcm, "ECDHE-ECDSA-AES128-GCM-SHA256"},
		key_case{tls_version::tls12, cipher::aes_256_gcm, "ECDHE-ECDSA-AES256-GCM-SHA384"},
		key_case{tls_version::tls12, cipher::chacha20_poly1305, "ECDHE-ECDSA-CHACHA20-POLY1305"},
		key_case{tls_version::tls12, cipher::aes_128_ccm, "ECDHE-ECDSA-AES128-CCM"},
		key_case{tls_version::tls13, cipher::aes_128_gcm, "TLS_AES_128_GCM_SHA256"},
		key_case{tls_version::tls13, cipher::aes_256_gcm, "TLS_AES_256_GCM_SHA384"},
		key_case{tls_version::tls13, cipher::chacha20_poly1305, "TLS_CHACHA20_POLY1305_SHA256"},
		key_case{tls_version::tls13, cipher::aes_128_ccm, "TLS_AES_128_CCM_SHA256"}),
	[](const testing::TestParamInfo<key_case> &i) {
		std::string n = i.param.name;
		for (auto &ch : n)
			if (!std::isalnum(static_cast<unsigned char>(ch)))
				ch = '_';
		return std::string(i.param.version == tls_version::tls13 ? "Tls13_" : "Tls12_") + n;
	});

// ---- an SNI callback that switches SSL_CTX (issue 20) -------------------

namespace {

struct vhost_case {
	bool ctx_prepared;	/* ssl_ctx_prepare() on both SSL_CTXs at start-up */
	const char *name;
};

class OpensslKeysSni : public testing::TestWithParam<vhost_case> {};

std::vector<std::string> vhost_keylog;

void vhost_app_keylog(const SSL *, const char *line)
{
	vhost_keylog.emplace_back(line);
}

int switch_to_vhost(SSL *ssl, int *, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name && std::string_view(name) == "vhost.example")
		SSL_set_SSL_CTX(ssl, static_cast<SSL_CTX *>(arg));
	return SSL_TLSEXT_ERR_OK;
}

std::unique_ptr<SSL_CTX, ctx_del> tls13_server_ctx()
{
	std::unique_ptr<SSL_CTX, ctx_del> c(SSL_CTX_new(TLS_server_method()));
	SSL_CTX_set_min_proto_version(c.get(), TLS1_3_VERSION);
	SSL_CTX_use_certificate_chain_file(c.get(), (pki_dir() / "leaf.pem").c_str());
	SSL_CTX_use_PrivateKey_file(c.get(), (pki_dir() / "leaf.key").c_str(), SSL_FILETYPE_PEM);
	return c;
}

} // namespace

// nginx's virtual hosts: the SSL is made from the default server's
// SSL_CTX and prepared, then its SNI callback switches it to the virtual
// host's, whose keylog callback OpenSSL calls from then on. The server's
// exported TLS 1.3 keys must still be right - the oracle is the client's
// record layer - and the virtual host's own keylog callback still called.
TEST_P(OpensslKeysSni, HandOverAfterTheSniCallbackSwitchedSslCtx)
{
	vhost_keylog.clear();
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	auto default_ctx = tls13_server_ctx();
	auto vhost_ctx = tls13_server_ctx();
	SSL_CTX_set_keylog_callback(vhost_ctx.get(), vhost_app_keylog);
	SSL_CTX_set_tlsext_servername_callback(default_ctx.get(), switch_to_vhost);
	SSL_CTX_set_tlsext_servername_arg(default_ctx.get(), vhost_ctx.get());
	if (GetParam().ctx_prepared) {
		ASSERT_TRUE(ssl_ctx_prepare(default_ctx.get()));
		ASSERT_TRUE(ssl_ctx_prepare(vhost_ctx.get()));
	}
	std::unique_ptr<SSL_CTX, ctx_del> cctx(SSL_CTX_new(TLS_client_method()));
	SSL_CTX_set_min_proto_version(cctx.get(), TLS1_3_VERSION);

	std::unique_ptr<SSL, ssl_del> srv(SSL_new(default_ctx.get())), cli(SSL_new(cctx.get()));
	SSL_set_fd(srv.get(), sv[0]);
	SSL_set_fd(cli.get(), sv[1]);
	SSL_set_tlsext_host_name(cli.get(), "vhost.example");
	ASSERT_TRUE(ssl_prepare(srv.get()));
	auto connected = std::async(std::launch::async, [&] { return SSL_connect(cli.get()); });
	ASSERT_EQ(SSL_accept(srv.get()), 1);
	ASSERT_EQ(connected.get(), 1);
	ASSERT_EQ(SSL_get_SSL_CTX(srv.get()), vhost_ctx.get()) << "the SNI callback did not switch";

	auto keys = ssl_export_keys(srv.get());
	ASSERT_TRUE(keys) << keys.error().message();
	EXPECT_EQ(keys->version, tls_version::tls13);
	EXPECT_EQ(keys->local_role, role::server);
	EXPECT_FALSE(vhost_keylog.empty()) << "the virtual host's own keylog callback was lost";

	/* the client reads (and with it the server's tickets) once the server's keys are out */
	ASSERT_EQ(SSL_write(cli.get(), "to the vhost", 12), 12);
	ASSERT_NO_FATAL_FAILURE(expect_record_opens(sv[0], keys->rx, "to the vhost"));
	ASSERT_NO_FATAL_FAILURE(send_sealed_record(sv[0], keys->tx, "from the vhost"));
	EXPECT_EQ(ssl_read_n(cli.get(), 14), "from the vhost");
	ERR_clear_error();
	close(sv[0]);
	close(sv[1]);
}

INSTANTIATE_TEST_SUITE_P(Sni, OpensslKeysSni,
			 testing::Values(vhost_case{false, "FollowedFromTheSsl"},
					 vhost_case{true, "EverySslCtxPrepared"}),
			 [](const testing::TestParamInfo<vhost_case> &i) {
				 return std::string(i.param.name);
			 });

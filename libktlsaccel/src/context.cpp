// SPDX-License-Identifier: MIT
//
// ktlsaccel::context: one SSL_CTX built from options, shared by the
// handshakes of a server or a client, and the sessions that let them
// resume. A server's sessions are OpenSSL's (its cache and stateless
// tickets); a client's are kept here, per server name, because a client
// SSL_CTX has no lookup of its own.
#include "internal.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <cstring>

namespace ktlsaccel {

namespace {

template <typename T>
std::unexpected<std::error_code> fail(T e)
{
	return std::unexpected(std::error_code(e));
}

/* a client's cache: bounded, since server names come from the application's peers */
constexpr std::size_t max_cached_sessions = 4096;

/* SSL_CTX -> its context_state (which the context owns) */
using state_slot = detail::ssl_ctx_slot<detail::context_state, false>;
/* SSL -> the server name its sessions are cached under */
struct cache_key {
	std::string name;
};
using key_slot = detail::ssl_slot<cache_key>;

bool init_indexes()
{
	return state_slot::index() >= 0 && key_slot::index() >= 0;
}

/*
 * OpenSSL calls this for every session a client SSL gets: TLS 1.2 at the
 * end of its handshake, TLS 1.3 for each NewSessionTicket. 1: we keep it.
 */
int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	auto *st = static_cast<detail::context_state *>(
		SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), state_slot::index()));
	auto *key = static_cast<cache_key *>(SSL_get_ex_data(ssl, key_slot::index()));
	if (!st || !key || !SSL_SESSION_is_resumable(sess))
		return 0;
	try {
		std::lock_guard lock(st->m);
		auto it = st->sessions.find(key->name);
		if (it == st->sessions.end() && st->sessions.size() >= max_cached_sessions)
			st->sessions.erase(st->sessions.begin());
		st->sessions[key->name].reset(sess);
		return 1;
	} catch (...) {
		return 0;	/* no exception crosses OpenSSL's C code */
	}
}

int select_alpn(SSL *, const unsigned char **out, unsigned char *outlen,
		const unsigned char *in, unsigned int inlen, void *arg)
{
	auto *wire = static_cast<std::vector<unsigned char> *>(arg);
	unsigned char *sel = nullptr;
	if (SSL_select_next_proto(&sel, outlen, wire->data(), static_cast<unsigned>(wire->size()),
				  in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/*
 * OpenSSL stores the SNI name in a TLS 1.2 session only when a callback
 * accepted it, and a resumed TLS 1.2 handshake knows no other: without
 * this, info().server_name of a resumed connection would be empty.
 */
int accept_server_name(SSL *, int *, void *)
{
	return SSL_TLSEXT_ERR_OK;
}

/* The suites kTLS implements, strongest first; PFS only. */
constexpr const char *default_cipher_list =
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:"
	"ECDHE-ECDSA-AES128-CCM:DHE-RSA-AES128-CCM:!aNULL:!PSK:!SRP";

/* any constant: it only has to be the same for every SSL of this context */
constexpr unsigned char session_id_context[] = "ktlsaccel";

} // namespace

namespace detail {

result<std::shared_ptr<context_state>> make_context(const options &o, bool keep_sessions)
{
	bool server = o.role == role::server;
	if (server && (o.cert_file.empty() || o.key_file.empty()))
		return fail(errc::invalid_argument);
	if (o.handshake_timeout.count() < 0)
		return fail(errc::invalid_argument);
	if (!init_indexes())
		return fail(openssl_error(errc::invalid_argument));

	auto st = std::make_shared<context_state>();
	st->opts = o;
	st->keep_sessions = keep_sessions && !server;
	st->ctx.reset(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
	if (!st->ctx)
		return fail(openssl_error(errc::handshake_failed));
	SSL_CTX *c = st->ctx.get();
	int minv = o.version ? static_cast<int>(*o.version) : TLS1_2_VERSION;
	int maxv = o.version ? static_cast<int>(*o.version) : TLS1_3_VERSION;
	SSL_CTX_set_min_proto_version(c, minv);
	SSL_CTX_set_max_proto_version(c, maxv);
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);

	const char *list = o.cipher_list.empty() ? default_cipher_list : o.cipher_list.c_str();
	if (SSL_CTX_set_cipher_list(c, list) != 1)
		return fail(openssl_error(errc::invalid_argument));
	if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(c, o.ciphersuites.c_str()) != 1)
		return fail(openssl_error(errc::invalid_argument));
	/* the caller's own lists stay as given only where userspace can take over */
	bool own_lists = !o.cipher_list.empty() || !o.ciphersuites.empty();
	if (!own_lists || !o.allow_userspace_fallback) {
		if (auto r = ssl_ctx_keep_ktls_suites(c); !r)
			return std::unexpected(r.error());
	}

	if (o.verify_peer) {
		int mode = SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
		SSL_CTX_set_verify(c, mode, nullptr);
		int ok = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(c)
					   : SSL_CTX_load_verify_locations(c, o.ca_file.c_str(), nullptr);
		if (ok != 1)
			return fail(openssl_error(errc::invalid_argument));
	}
	if (!o.cert_file.empty()) {
		if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1 ||
		    SSL_CTX_use_PrivateKey_file(c, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(c) != 1)
			return fail(openssl_error(errc::invalid_argument));
	}
	if (o.num_tickets)
		SSL_CTX_set_num_tickets(c, *o.num_tickets);

	for (const auto &p : o.alpn) {
		if (p.empty() || p.size() > 255)
			return fail(errc::invalid_argument);
		st->alpn_wire.push_back(static_cast<unsigned char>(p.size()));
		st->alpn_wire.insert(st->alpn_wire.end(), p.begin(), p.end());
	}
	if (!st->alpn_wire.empty()) {
		if (server)
			SSL_CTX_set_alpn_select_cb(c, select_alpn, &st->alpn_wire);
		else if (SSL_CTX_set_alpn_protos(c, st->alpn_wire.data(),
						 static_cast<unsigned>(st->alpn_wire.size())) != 0)
			return fail(openssl_error(errc::invalid_argument));
	}

	if (server) {
		/*
		 * Without one, a server that verifies its clients fails every
		 * resumption attempt (OpenSSL cannot tell whose session it is).
		 */
		if (SSL_CTX_set_session_id_context(c, session_id_context,
						   sizeof(session_id_context) - 1) != 1)
			return fail(openssl_error(errc::invalid_argument));
		SSL_CTX_set_tlsext_servername_callback(c, accept_server_name);
	} else if (st->keep_sessions) {
		SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
							  SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(c, on_new_session);
	} else {
		SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	}
	/* a raw pointer: the state owns the SSL_CTX, and whoever uses it holds the state */
	if (!SSL_CTX_set_ex_data(c, state_slot::index(), st.get()))
		return fail(openssl_error(errc::invalid_argument));
	if (auto r = ssl_ctx_prepare(c); !r)
		return std::unexpected(r.error());
	return st;
}

ssl_session_ptr context_state::session_for(const std::string &server_name)
{
	if (!keep_sessions)
		return {};
	std::lock_guard lock(m);
	auto it = sessions.find(server_name);
	if (it == sessions.end())
		return {};
	/* one that expired since is dropped, not offered */
	SSL_SESSION *s = it->second.get();
	if (SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) < time(nullptr)) {
		sessions.erase(it);
		return {};
	}
	/*
	 * A copy for each handshake: OpenSSL's client writes into the session
	 * it offers (the PSK identity it used, the new session when the
	 * server declines it), and other threads may be offering the same one.
	 */
	return ssl_session_ptr(SSL_SESSION_dup(s));
}

bool context_state::cache_under(SSL *ssl, const std::string &server_name)
{
	if (!keep_sessions)
		return true;
	auto key = std::make_unique<cache_key>(server_name);
	if (!SSL_set_ex_data(ssl, key_slot::index(), key.get()))
		return false;
	key.release();
	return true;
}

std::size_t context_state::cached() const
{
	std::lock_guard lock(m);
	return sessions.size();
}

/* ---- TLS 1.3 tickets read by the kernel --------------------------------- */

namespace {

struct cipher_ctx_free_t {
	void operator()(EVP_CIPHER_CTX *c) const { EVP_CIPHER_CTX_free(c); }
};

constexpr std::size_t tls13_iv_len = 12;
constexpr std::size_t tls13_tag_len = 16;

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
 * RFC 8446 §5.2: one record of inner type 22 holding message, sealed with
 * key/iv at sequence number seq.
 */
bool seal_record(cipher c, std::span<const std::uint8_t> key, std::span<const std::uint8_t> iv,
		 std::uint64_t seq, std::span<const std::uint8_t> message,
		 std::vector<std::uint8_t> &out)
{
	std::vector<std::uint8_t> inner(message.begin(), message.end());
	inner.push_back(22);
	std::size_t len = inner.size() + tls13_tag_len;
	if (len > 16384 + 256)
		return false;
	std::uint8_t header[5] = {23, 3, 3, std::uint8_t(len >> 8), std::uint8_t(len)};
	std::uint8_t nonce[tls13_iv_len];
	std::memcpy(nonce, iv.data(), tls13_iv_len);
	for (int i = 0; i < 8; i++)
		nonce[tls13_iv_len - 1 - i] ^= std::uint8_t(seq >> (8 * i));

	std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free_t> cx(EVP_CIPHER_CTX_new());
	bool ccm = c == cipher::aes_128_ccm;
	int n = 0;
	out.assign(header, header + sizeof(header));
	out.resize(sizeof(header) + len);
	std::uint8_t *ct = out.data() + sizeof(header);
	bool ok = cx && EVP_EncryptInit_ex(cx.get(), evp_of(c), nullptr, nullptr, nullptr) == 1 &&
		  EVP_CIPHER_CTX_ctrl(cx.get(), EVP_CTRL_AEAD_SET_IVLEN, int(tls13_iv_len),
				      nullptr) == 1 &&
		  (!ccm || EVP_CIPHER_CTX_ctrl(cx.get(), EVP_CTRL_AEAD_SET_TAG, int(tls13_tag_len),
					       nullptr) == 1) &&
		  EVP_EncryptInit_ex(cx.get(), nullptr, nullptr, key.data(), nonce) == 1 &&
		  /* CCM wants the plaintext's length before the AAD */
		  (!ccm || EVP_EncryptUpdate(cx.get(), nullptr, &n, nullptr, int(inner.size())) == 1) &&
		  EVP_EncryptUpdate(cx.get(), nullptr, &n, header, sizeof(header)) == 1 &&
		  EVP_EncryptUpdate(cx.get(), ct, &n, inner.data(), int(inner.size())) == 1 &&
		  EVP_EncryptFinal_ex(cx.get(), ct + n, &n) == 1 &&
		  EVP_CIPHER_CTX_ctrl(cx.get(), EVP_CTRL_AEAD_GET_TAG, int(tls13_tag_len),
				      ct + inner.size()) == 1;
	OPENSSL_cleanse(inner.data(), inner.size());
	return ok;
}

} // namespace

std::unique_ptr<ticket_sink> ticket_sink::make(std::shared_ptr<context_state> ctx, ssl_ptr ssl,
					       cipher c, std::span<const std::uint8_t> rx_secret,
					       std::uint64_t seq)
{
	auto t = std::unique_ptr<ticket_sink>(new ticket_sink);
	t->key_ = secret(key_len(c));
	t->iv_ = secret(tls13_iv_len);
	auto digest = cipher_digest(c);
	if (!hkdf_expand_label(digest, rx_secret, "key", {}, t->key_.span()) ||
	    !hkdf_expand_label(digest, rx_secret, "iv", {}, t->iv_.span()))
		return nullptr;
	/*
	 * From now on the SSL reads only what feed() writes, and what it
	 * writes goes nowhere: it has nothing to say to a ticket.
	 */
	BIO *rb = BIO_new(BIO_s_mem());
	BIO *wb = BIO_new(BIO_s_mem());
	if (!rb || !wb) {
		BIO_free(rb);
		BIO_free(wb);
		return nullptr;
	}
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(ssl.get(), rb, wb);
	t->ctx_ = std::move(ctx);
	t->ssl_ = std::move(ssl);
	t->cipher_ = c;
	t->seq_ = seq;
	return t;
}

ticket_sink::~ticket_sink()
{
	ssl_keep_session(ssl_.get());
}

bool ticket_sink::feed(std::span<const std::uint8_t> message)
{
	std::vector<std::uint8_t> record;
	if (!seal_record(cipher_, key_.span(), iv_.span(), seq_, message, record))
		return false;
	seq_++;
	SSL *ssl = ssl_.get();
	(void)BIO_reset(SSL_get_wbio(ssl));
	if (BIO_write(SSL_get_rbio(ssl), record.data(), int(record.size())) != int(record.size()))
		return false;
	ERR_clear_error();
	std::uint8_t none;
	std::size_t got = 0;
	/* OpenSSL processes the ticket (on_new_session), then finds no more input */
	int r = SSL_read_ex(ssl, &none, sizeof(none), &got);
	bool ok = r != 1 && SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ;
	ERR_clear_error();
	return ok;
}

void ssl_keep_session(SSL *ssl)
{
	if (ssl)
		SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

} // namespace detail

context::context(std::shared_ptr<detail::context_state> s) noexcept : s_(std::move(s)) {}

result<context> context::create(const options &opts)
{
	auto s = detail::make_context(opts, true);
	if (!s)
		return std::unexpected(s.error());
	return context(std::move(*s));
}

SSL_CTX *context::native_handle() const noexcept
{
	return s_->ctx.get();
}

const options &context::settings() const noexcept
{
	return s_->opts;
}

std::size_t context::cached_sessions() const
{
	return s_->cached();
}

} // namespace ktlsaccel

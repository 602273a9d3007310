// SPDX-License-Identifier: MIT
//
// The OpenSSL 3 handshake backend: watch a handshake closely enough to
// hand its record layer to the kernel.
//
// OpenSSL 3.0 has no public getter for record sequence numbers or TLS 1.3
// traffic secrets, so ssl_prepare() installs two observers before the
// handshake:
//
//  - the message callback sees every record header OpenSSL reads or writes
//    (SSL3_RT_HEADER) and every handshake message. A direction's sequence
//    number restarts at 0 where its keys change - after the
//    ChangeCipherSpec record in TLS 1.2 (so Finished is 0 and application data
//    starts at 1), after Finished in TLS 1.3 - and each later record
//    header advances it. This counts what OpenSSL sent after the handshake
//    too: a TLS 1.3 server's NewSessionTickets, alerts, early SSL_write()s.
//  - the keylog callback (the documented way to learn TLS 1.3 secrets)
//    delivers CLIENT/SERVER_TRAFFIC_SECRET_0.
//
// TLS 1.2 keys come from the session's master secret and the randoms
// through the PRF. Renegotiation or a KeyUpdate before the hand-over would
// change keys behind our back: they are refused.
#include "internal.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>

#include <sys/socket.h>

#include <cerrno>

#include <cstring>
#include <mutex>
#include <string>
#include <string_view>

namespace ktlsaccel {
namespace {

struct direction {
	bool active = false;	// counting under the application keys
	std::uint64_t seq = 0;	// next record's sequence number
	int key_changes = 0;
};

/*
 * OpenSSL 3.0 has no getter for a record padding callback or block
 * padding: the TLS 1.3 records we wrote show it. The encrypted records
 * that carried our handshake messages hold those messages, the inner
 * content type and the tag; any more is padding.
 */
/* every suite cipher_of() takes: GCM, CCM (not CCM_8), ChaCha20-Poly1305 */
constexpr std::size_t aead_tag_len = 16;

struct padding_watch {
	std::uint64_t records = 0, record_bytes = 0, message_bytes = 0;
	std::size_t last_len = 0;	// the last record header we wrote
	bool last_handshake = false;	// ... was an encrypted handshake record

	bool padded(std::size_t tag_len) const
	{
		return record_bytes != message_bytes + records * (1 + tag_len);
	}
};

struct tracker {
	/* the SSL_CTX whose keylog callback we checked: an SNI callback may switch it */
	const SSL_CTX *ctx = nullptr;
	direction rd, wr;
	secret client_secret, server_secret;	// TLS 1.3 traffic secrets 0
	bool rekeyed = false;	// renegotiation or KeyUpdate seen
	padding_watch padding;
};

struct ctx_hook {
	SSL_CTX_keylog_cb_func previous = nullptr;
};

using tracker_slot = detail::ssl_slot<tracker>;
using hook_slot = detail::ssl_ctx_slot<ctx_hook>;

bool init_indexes()
{
	return tracker_slot::index() >= 0 && hook_slot::index() >= 0;
}

tracker *tracker_of(const SSL *ssl)
{
	int i = tracker_slot::index();
	return i < 0 ? nullptr : static_cast<tracker *>(SSL_get_ex_data(ssl, i));
}

void on_keylog(const SSL *ssl, const char *line);

/*
 * SSLs of one SSL_CTX may be prepared on several threads: unlocked, a
 * second thread could read on_keylog as the "previous" callback, and
 * on_keylog would then call itself forever.
 */
std::mutex keylog_mutex;

// Makes ctx's keylog callback ours, chained to the one it had (once).
result<void> hook_keylog(SSL_CTX *ctx)
{
	std::lock_guard lock(keylog_mutex);
	if (SSL_CTX_get_keylog_callback(ctx) == on_keylog)
		return {};
	auto hook = std::make_unique<ctx_hook>();
	hook->previous = SSL_CTX_get_keylog_callback(ctx);
	if (!SSL_CTX_set_ex_data(ctx, hook_slot::index(), hook.get()))
		return std::unexpected(detail::openssl_error(errc::invalid_argument));
	hook.release();
	SSL_CTX_set_keylog_callback(ctx, on_keylog);
	return {};
}

/*
 * OpenSSL asks the SSL's current SSL_CTX for the keylog callback, and an
 * SNI callback may have switched it (SSL_set_SSL_CTX(), nginx's virtual
 * hosts) to one ssl_prepare() never saw. The message callback belongs to
 * the SSL and sees the ServerHello go out before any secret is derived:
 * hook the new SSL_CTX there, and take back what the switch may have
 * copied into the SSL's options. ssl_ctx_prepare() at start-up does the
 * same without writing to an SSL_CTX that other threads use.
 */
void follow_ctx(SSL *ssl, tracker *t)
{
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	if (ctx == t->ctx)
		return;
	try {
		if (!hook_keylog(ctx))
			return;	/* secrets stay missing: the hand-over says ssl_not_prepared */
	} catch (...) {
		return;	/* no exception crosses OpenSSL's C code */
	}
	t->ctx = ctx;
	SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_ENABLE_KTLS
	SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
#endif
}

void on_message(int write_p, int, int content_type, const void *buf, size_t len, SSL *ssl, void *)
{
	tracker *t = tracker_of(ssl);
	if (!t)
		return;
	follow_ctx(ssl, t);
	direction &d = write_p ? t->wr : t->rd;
	bool tls13 = SSL_version(ssl) == TLS1_3_VERSION;
	auto restart = [&] {
		if (d.key_changes++)
			t->rekeyed = true;
		d.active = true;
		d.seq = 0;
	};

	const auto *bytes = static_cast<const unsigned char *>(buf);
	padding_watch &pw = t->padding;
	switch (content_type) {
	case SSL3_RT_HEADER:
		if (write_p && len >= SSL3_RT_HEADER_LENGTH) {
			pw.last_len = std::size_t(bytes[3]) << 8 | bytes[4];
			pw.last_handshake = false;
		}
		if (d.active)
			d.seq++;
		/*
		 * TLS 1.2: the record after ChangeCipherSpec is the first under
		 * the new keys. Watch the record header: OpenSSL 3.0 reports a
		 * received CCS only there, not as a message. (TLS 1.3 has
		 * middlebox-compatibility CCS records that change nothing.)
		 */
		if (!tls13 && len >= 1 &&
		    static_cast<const unsigned char *>(buf)[0] == SSL3_RT_CHANGE_CIPHER_SPEC)
			restart();
		break;
	case SSL3_RT_INNER_CONTENT_TYPE:
		/* after the header of each TLS 1.3 record we encrypted */
		if (write_p && len >= 1 && bytes[0] == SSL3_RT_HANDSHAKE) {
			pw.records++;
			pw.record_bytes += pw.last_len;
			pw.last_handshake = true;
		}
		break;
	case SSL3_RT_HANDSHAKE:
		/* reported once all its records are written */
		if (write_p && pw.last_handshake)
			pw.message_bytes += len;
		if (!tls13 || len < 1)
			break;
		switch (static_cast<const unsigned char *>(buf)[0]) {
		case SSL3_MT_FINISHED:
			restart();
			break;
		case SSL3_MT_KEY_UPDATE:
			t->rekeyed = true;
			break;
		}
		break;
	}
}

bool hex_decode(std::string_view hex, secret &out)
{
	if (hex.size() % 2)
		return false;
	secret s(hex.size() / 2);
	for (size_t i = 0; i < s.size(); i++) {
		auto nib = [](char c) -> int {
			if (c >= '0' && c <= '9') return c - '0';
			if (c >= 'a' && c <= 'f') return c - 'a' + 10;
			if (c >= 'A' && c <= 'F') return c - 'A' + 10;
			return -1;
		};
		int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		s.data()[i] = static_cast<std::uint8_t>(hi << 4 | lo);
	}
	out = std::move(s);
	return true;
}

void on_keylog(const SSL *ssl, const char *line)
{
	/*
	 * Called from OpenSSL's C code: no exception may cross it. A secret
	 * lost to bad_alloc stays empty, and ssl_export_keys() refuses the
	 * hand-over (ssl_not_prepared) instead of installing wrong keys.
	 */
	try {
		if (tracker *t = tracker_of(ssl)) {
			/* "LABEL <client_random hex> <secret hex>" */
			std::string_view l(line);
			auto sp1 = l.find(' ');
			auto sp2 = sp1 == l.npos ? l.npos : l.find(' ', sp1 + 1);
			if (sp2 != l.npos) {
				auto label = l.substr(0, sp1);
				auto hex = l.substr(sp2 + 1);
				if (label == "CLIENT_TRAFFIC_SECRET_0")
					hex_decode(hex, t->client_secret);
				else if (label == "SERVER_TRAFFIC_SECRET_0")
					hex_decode(hex, t->server_secret);
			}
		}
	} catch (...) {
	}
	auto *hook = static_cast<ctx_hook *>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), hook_slot::index()));
	/* never ourselves: that would recurse until the stack runs out */
	if (hook && hook->previous && hook->previous != on_keylog)
		hook->previous(ssl, line);
}

std::optional<cipher> cipher_of(const SSL_CIPHER *c, bool tls13)
{
	if (!c)
		return std::nullopt;
	if (tls13) {
		switch (SSL_CIPHER_get_protocol_id(c)) {
		case 0x1301: return cipher::aes_128_gcm;
		case 0x1302: return cipher::aes_256_gcm;
		case 0x1303: return cipher::chacha20_poly1305;
		case 0x1304: return cipher::aes_128_ccm;
		}
		return std::nullopt;
	}
	switch (SSL_CIPHER_get_cipher_nid(c)) {
	case NID_aes_128_gcm: return cipher::aes_128_gcm;
	case NID_aes_256_gcm: return cipher::aes_256_gcm;
	case NID_chacha20_poly1305: return cipher::chacha20_poly1305;
	case NID_aes_128_ccm:
		/* the CCM_8 suites share the NID; kTLS only has the 16-byte tag */
		if (std::strstr(SSL_CIPHER_get_name(c), "CCM8"))
			return std::nullopt;
		return cipher::aes_128_ccm;
	}
	return std::nullopt;
}

} // namespace

namespace detail {

result<void> ssl_ctx_keep_ktls_suites(SSL_CTX *ctx)
{
	/*
	 * OpenSSL's names are families ("ECDHE+AESCCM" holds AES-256-CCM, which
	 * kTLS lacks): a suite the kernel cannot take would be negotiated and
	 * only the hand-over would fail. Keep what cipher_of() maps, by name.
	 */
	std::string tls12, tls13;
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		/* TLS 1.3 suites leave the key exchange open */
		bool is13 = SSL_CIPHER_get_kx_nid(c) == NID_kx_any;
		if (!cipher_of(c, is13))
			continue;
		std::string &l = is13 ? tls13 : tls12;
		if (!l.empty())
			l += ':';
		l += SSL_CIPHER_get_name(c);
	}
	auto minv = SSL_CTX_get_min_proto_version(ctx), maxv = SSL_CTX_get_max_proto_version(ctx);
	bool want12 = minv <= TLS1_2_VERSION, want13 = maxv == 0 || maxv >= TLS1_3_VERSION;
	/* a version left without suites is turned off rather than left to its old list */
	if (want12 && tls12.empty()) {
		want12 = false;
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	}
	if (want13 && tls13.empty()) {
		want13 = false;
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	}
	if (!want12 && !want13)
		return std::unexpected(make_error_code(errc::cipher_unsupported));
	if (want12 && SSL_CTX_set_cipher_list(ctx, tls12.c_str()) != 1)
		return std::unexpected(openssl_error(errc::invalid_argument));
	if (SSL_CTX_set_ciphersuites(ctx, tls13.c_str()) != 1)
		return std::unexpected(openssl_error(errc::invalid_argument));
	return {};
}

} // namespace detail

result<void> ssl_prepare(SSL *ssl)
{
	if (!ssl)
		return std::unexpected(make_error_code(errc::invalid_argument));
	if (!init_indexes())
		return std::unexpected(detail::openssl_error(errc::invalid_argument));
	if (!SSL_in_before(ssl))
		return std::unexpected(make_error_code(errc::ssl_not_ready));

	if (!tracker_of(ssl)) {
		auto t = std::make_unique<tracker>();
		if (!SSL_set_ex_data(ssl, tracker_slot::index(), t.get()))
			return std::unexpected(detail::openssl_error(errc::invalid_argument));
		t.release();
	}
	SSL_set_msg_callback(ssl, on_message);
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	if (auto r = hook_keylog(ctx); !r)
		return r;
	tracker_of(ssl)->ctx = ctx;

	/*
	 * Bytes read ahead would be stranded in OpenSSL when the kernel takes
	 * the socket; renegotiation cannot happen under kTLS; OpenSSL's own
	 * kTLS would install keys itself.
	 */
	SSL_set_read_ahead(ssl, 0);
	SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_ENABLE_KTLS
	SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
#endif
	return {};
}

result<void> ssl_ctx_prepare(SSL_CTX *ctx)
{
	if (!ctx)
		return std::unexpected(make_error_code(errc::invalid_argument));
	if (!init_indexes())
		return std::unexpected(detail::openssl_error(errc::invalid_argument));
	if (auto r = hook_keylog(ctx); !r)
		return r;
	/* for SSLs made from it later, and for code that copies its options into an SSL (nginx) */
	SSL_CTX_set_read_ahead(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_ENABLE_KTLS
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
#endif
	return {};
}

namespace detail {

namespace {

/* write(2) on a socket the peer reset raises SIGPIPE; send() need not */
int socket_write(BIO *b, const char *in, int len)
{
	BIO_clear_retry_flags(b);
	ssize_t n = ::send(static_cast<int>(BIO_get_fd(b, nullptr)), in, static_cast<size_t>(len),
			   MSG_NOSIGNAL);
	if (n <= 0 && BIO_sock_should_retry(static_cast<int>(n)))
		BIO_set_retry_write(b);
	return static_cast<int>(n);
}

int socket_puts(BIO *b, const char *str)
{
	return socket_write(b, str, static_cast<int>(std::strlen(str)));
}

/*
 * The userspace fallback's socket: never blocks, so that the SSL can be
 * used under a lock that a sender and a receiver share, each waiting for
 * the socket outside it. errno is cleared first: BIO_sock_should_retry()
 * reads it even for a 0 (EOF) that set none.
 */
int socket_write_nb(BIO *b, const char *in, int len)
{
	BIO_clear_retry_flags(b);
	errno = 0;
	ssize_t n = ::send(static_cast<int>(BIO_get_fd(b, nullptr)), in, static_cast<size_t>(len),
			   MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n <= 0 && BIO_sock_should_retry(static_cast<int>(n)))
		BIO_set_retry_write(b);
	return static_cast<int>(n);
}

int socket_puts_nb(BIO *b, const char *str)
{
	return socket_write_nb(b, str, static_cast<int>(std::strlen(str)));
}

int socket_read_nb(BIO *b, char *out, int len)
{
	BIO_clear_retry_flags(b);
	errno = 0;
	ssize_t n = ::recv(static_cast<int>(BIO_get_fd(b, nullptr)), out, static_cast<size_t>(len),
			   MSG_DONTWAIT);
	if (n <= 0 && BIO_sock_should_retry(static_cast<int>(n)))
		BIO_set_retry_read(b);
	return static_cast<int>(n);
}

BIO_METHOD *make_socket_method(bool nonblocking)
{
	const BIO_METHOD *sock = BIO_s_socket();
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
				     nonblocking ? "ktlsaccel socket (non-blocking)" : "ktlsaccel socket");
	if (!m)
		return m;
	BIO_meth_set_write(m, nonblocking ? socket_write_nb : socket_write);
	BIO_meth_set_puts(m, nonblocking ? socket_puts_nb : socket_puts);
	BIO_meth_set_read(m, nonblocking ? socket_read_nb : BIO_meth_get_read(sock));
	BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock));
	BIO_meth_set_create(m, BIO_meth_get_create(sock));
	BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock));
	return m;
}

const BIO_METHOD *socket_method(bool nonblocking)
{
	static BIO_METHOD *blocking_method = make_socket_method(false);
	static BIO_METHOD *nonblocking_method = make_socket_method(true);
	return nonblocking ? nonblocking_method : blocking_method;
}

} // namespace

namespace {

struct x509_free_t {
	void operator()(X509 *x) const { X509_free(x); }
};
struct bio_free_t {
	void operator()(BIO *b) const { BIO_free(b); }
};

/* RFC 2253 ("CN=example.org,O=Example"), as info().peer_subject has it for every backend */
std::string subject_of(X509 *cert)
{
	std::string subject;
	std::unique_ptr<BIO, bio_free_t> mem(BIO_new(BIO_s_mem()));
	if (mem && X509_NAME_print_ex(mem.get(), X509_get_subject_name(cert), 0,
				      XN_FLAG_RFC2253) >= 0) {
		char *text = nullptr;
		long n = BIO_get_mem_data(mem.get(), &text);
		if (n > 0)
			subject.assign(text, static_cast<std::size_t>(n));
	}
	ERR_clear_error();
	return subject;
}

void describe_peer(SSL *ssl, connection_info &info)
{
	std::unique_ptr<X509, x509_free_t> cert(SSL_get1_peer_certificate(ssl));
	info.peer_certificate.clear();
	info.peer_subject.clear();
	if (!cert)
		return;
	int len = i2d_X509(cert.get(), nullptr);
	if (len > 0) {
		info.peer_certificate.resize(static_cast<std::size_t>(len));
		unsigned char *p = info.peer_certificate.data();
		if (i2d_X509(cert.get(), &p) != len)
			info.peer_certificate.clear();
	}
	info.peer_subject = subject_of(cert.get());
	ERR_clear_error();
}

} // namespace

void describe_peer_der(std::span<const std::uint8_t> der, connection_info &info)
{
	info.peer_certificate.assign(der.begin(), der.end());
	info.peer_subject.clear();
	const unsigned char *p = der.data();
	std::unique_ptr<X509, x509_free_t> cert(
		d2i_X509(nullptr, &p, static_cast<long>(der.size())));
	if (cert)
		info.peer_subject = subject_of(cert.get());
	ERR_clear_error();
}

bool ssl_set_socket(SSL *ssl, int fd, bool nonblocking)
{
	const BIO_METHOD *m = socket_method(nonblocking);
	BIO *bio = m ? BIO_new(m) : nullptr;
	if (!bio)
		return false;
	BIO_set_fd(bio, fd, BIO_NOCLOSE);
	SSL_set_bio(ssl, bio, bio);
	return true;
}

void ssl_describe(SSL *ssl, connection_info &info)
{
	if (const SSL_CIPHER *c = SSL_get_current_cipher(ssl)) {
		const char *std_name = SSL_CIPHER_standard_name(c);
		info.cipher_suite = std_name ? std_name : SSL_CIPHER_get_name(c);
	}
	const unsigned char *alpn = nullptr;
	unsigned int alpn_len = 0;
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	info.alpn.assign(reinterpret_cast<const char *>(alpn), alpn ? alpn_len : 0);
	info.version = SSL_version(ssl) == TLS1_3_VERSION ? tls_version::tls13 : tls_version::tls12;
	if (auto c = cipher_of(SSL_get_current_cipher(ssl), SSL_version(ssl) == TLS1_3_VERSION))
		info.cipher_type = *c;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	info.server_name = sni ? sni : "";
	info.resumed = SSL_session_reused(ssl) == 1;
	describe_peer(ssl, info);
}

result<session_keys> ssl_export_keys(SSL *ssl)
{
	tracker *t = tracker_of(ssl);
	if (!t)
		return std::unexpected(make_error_code(errc::ssl_not_prepared));
	if (!SSL_is_init_finished(ssl) || t->rekeyed || !t->rd.active || !t->wr.active)
		return std::unexpected(make_error_code(errc::ssl_not_ready));
	/*
	 * Records OpenSSL wrote but could not send yet (a non-blocking socket
	 * was full) would be lost, and the sequence numbers counted them:
	 * the caller finishes the write first, as with Mbed TLS's out_left.
	 */
	if (SSL_want_write(ssl))
		return std::unexpected(make_error_code(errc::ssl_not_ready));

	int v = SSL_version(ssl);
	if (v != TLS1_2_VERSION && v != TLS1_3_VERSION)
		return std::unexpected(make_error_code(errc::cipher_unsupported));
	bool tls13 = v == TLS1_3_VERSION;
	auto c = cipher_of(SSL_get_current_cipher(ssl), tls13);
	if (!c)
		return std::unexpected(make_error_code(errc::cipher_unsupported));
	/*
	 * A server's OpenSSL grants a client's max_fragment_length by itself;
	 * kTLS would go on writing 16 KiB records the peer then rejects.
	 */
	if (SSL_SESSION *sess = SSL_get_session(ssl);
	    sess && SSL_SESSION_get_max_fragment_length(sess) != TLSEXT_max_fragment_length_DISABLED)
		return std::unexpected(make_error_code(errc::record_size_limited));
	/*
	 * Nor can kTLS pad TLS 1.3 records (RFC 8446 §5.4): an SSL that pads
	 * would lose it silently. Seen in the handshake records it wrote, or
	 * as a padding callback's argument (a callback that pads application
	 * data only, and takes no argument, leaves no trace: OpenSSL 3.0 has
	 * no getter). OpenSSL pads no TLS 1.2 record.
	 */
	if (tls13 && (SSL_get_record_padding_callback_arg(ssl) ||
		      t->padding.padded(aead_tag_len)))
		return std::unexpected(make_error_code(errc::record_padding));

	/*
	 * Plaintext OpenSSL already decrypted goes to the application first,
	 * but only once the kernel holds the keys (ssl_take_pending()): a
	 * hand-over refused later would have taken it from an SSL promised
	 * usable. With read-ahead off (ssl_prepare) OpenSSL holds at most the
	 * rest of the record it read; bytes it has not decrypted would be
	 * stranded: refuse, leaving the SSL usable.
	 */
	session_keys keys;
	if (SSL_pending(ssl) == 0 && SSL_has_pending(ssl))
		return std::unexpected(make_error_code(errc::pending_input));

	keys.version = tls13 ? tls_version::tls13 : tls_version::tls12;
	keys.cipher_type = *c;
	bool server = SSL_is_server(ssl);
	keys.local_role = server ? role::server : role::client;

	if (tls13) {
		if (t->client_secret.empty() || t->server_secret.empty())
			return std::unexpected(make_error_code(errc::ssl_not_prepared));
		secret &tx = server ? t->server_secret : t->client_secret;
		secret &rx = server ? t->client_secret : t->server_secret;
		auto txi = crypto_info_from_traffic_secret(*c, tx.span(), t->wr.seq);
		if (!txi)
			return std::unexpected(txi.error());
		auto rxi = crypto_info_from_traffic_secret(*c, rx.span(), t->rd.seq);
		if (!rxi)
			return std::unexpected(rxi.error());
		keys.tx = std::move(*txi);
		keys.rx = std::move(*rxi);
		/* for KeyUpdate: install() keeps them where the socket can rekey */
		keys.tx_secret = std::move(tx);
		keys.rx_secret = std::move(rx);
		t->client_secret.clear();
		t->server_secret.clear();
		return keys;
	}

	std::uint8_t client_random[SSL3_RANDOM_SIZE], server_random[SSL3_RANDOM_SIZE];
	secret master(static_cast<size_t>(SSL_MAX_MASTER_KEY_LENGTH));
	SSL_SESSION *sess = SSL_get_session(ssl);
	size_t mlen = sess ? SSL_SESSION_get_master_key(sess, master.data(), master.size()) : 0;
	if (mlen == 0 ||
	    SSL_get_client_random(ssl, client_random, sizeof(client_random)) != sizeof(client_random) ||
	    SSL_get_server_random(ssl, server_random, sizeof(server_random)) != sizeof(server_random))
		return std::unexpected(make_error_code(errc::ssl_not_ready));
	auto block = tls12_key_block(*c, master.span().first(mlen), client_random, server_random);
	if (!block)
		return std::unexpected(block.error());
	role me = server ? role::server : role::client;
	role peer = server ? role::client : role::server;
	auto txi = crypto_info_from_key_block(*c, block->span(), me, t->wr.seq);
	auto rxi = crypto_info_from_key_block(*c, block->span(), peer, t->rd.seq);
	if (!txi || !rxi)
		return std::unexpected(!txi ? txi.error() : rxi.error());
	keys.tx = std::move(*txi);
	keys.rx = std::move(*rxi);
	return keys;
}

result<void> ssl_take_pending(SSL *ssl, std::vector<std::uint8_t> &out);

std::uint64_t ssl_read_seq(const SSL *ssl)
{
	const tracker *t = tracker_of(ssl);
	return t ? t->rd.seq : 0;
}

} // namespace detail

result<session_keys> ssl_export_keys(SSL *ssl)
{
	if (!ssl)
		return std::unexpected(make_error_code(errc::invalid_argument));
	auto keys = detail::ssl_export_keys(ssl);
	if (!keys)
		return keys;
	if (auto r = detail::ssl_take_pending(ssl, keys->pending); !r)
		return std::unexpected(r.error());
	return keys;
}

namespace detail {

result<void> ssl_take_pending(SSL *ssl, std::vector<std::uint8_t> &out)
{
	while (SSL_pending(ssl) > 0) {
		size_t old = out.size(), got = 0;
		out.resize(old + static_cast<size_t>(SSL_pending(ssl)));
		/* openssl_error() reports the queue's oldest error: not a stale one */
		ERR_clear_error();
		if (SSL_read_ex(ssl, out.data() + old, out.size() - old, &got) != 1) {
			out.resize(old);
			return std::unexpected(openssl_error(errc::ssl_not_ready));
		}
		out.resize(old + got);
	}
	if (SSL_has_pending(ssl))
		return std::unexpected(make_error_code(errc::pending_input));
	return {};
}

} // namespace detail
} // namespace ktlsaccel

// SPDX-License-Identifier: MIT
//
// The Mbed TLS handshake backend: Mbed TLS runs the handshake, the kernel
// takes the records.
//
// Mbed TLS 2.28 has no getter for traffic keys, and its key-export
// callback (mbedtls_ssl_conf_export_keys_ext_cb) is per configuration, not
// told which of the config's contexts it serves: captures kept for a
// later offload() would need a process-wide table that outlives failed
// handshakes and that a busy server fills. Instead the keys are derived
// from the context itself after the handshake, as Mbed TLS's own context
// serialization does (MBEDTLS_SSL_CONTEXT_SERIALIZATION, on by default):
// the session's master secret (ssl->session->master) and the randoms the
// transform keeps (transform->randbytes, server random first), through
// the suite's PRF (RFC 5246 §6.3), checked against the fixed IVs the
// transform uses. Nothing is copied before offload(), and the
// application's own export callbacks are left alone. Mbed TLS 3.x calls a
// per-context callback with the TLS 1.2 master secret and randoms, or the
// TLS 1.3 traffic secrets: captures are then kept per context.
//
// Sequence numbers are Mbed TLS's own record counters, read after the
// handshake: ssl->in_ctr (next record expected; 0 after ChangeCipherSpec,
// so 1 after Finished) and ssl->cur_out_ctr (next record to send). These
// are public members of mbedtls_ssl_context in 2.28 and private
// (MBEDTLS_PRIVATE) in 3.x, where no getter exists.
//
// Mbed TLS reads a stream socket record by record (header, then exactly
// the body), so after the handshake it holds no bytes of the next record
// unless a non-blocking read stopped half-way: that, and unsent output,
// refuse the hand-over and leave the context usable. Plaintext it already
// decrypted becomes session_keys::pending.
#include "internal.hpp"

#include <ktlsaccel/ktlsaccel_mbedtls.h>
#include <ktlsaccel/mbedtls.hpp>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_NUMBER < 0x03000000
#if !defined(MBEDTLS_SSL_CONTEXT_SERIALIZATION)
/* the transform keeps the randoms the keys are derived from only with it */
#error "libktlsaccel's Mbed TLS 2.x backend needs MBEDTLS_SSL_CONTEXT_SERIALIZATION"
#endif
/* mbedtls_ssl_transform: the randoms and fixed IVs the keys come from */
#include <mbedtls/ssl_internal.h>
#define KTLSACCEL_MBEDTLS_FIELD(x) x
#else
#include <psa/crypto.h>
#define KTLSACCEL_MBEDTLS_FIELD(x) MBEDTLS_PRIVATE(x)
#endif

#include <openssl/crypto.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace ktlsaccel::mbedtls {
namespace {

template <typename T>
std::unexpected<std::error_code> fail(T e)
{
	return std::unexpected(std::error_code(e));
}

/*
 * Codes of our own in the category, below Mbed TLS's -0x7fff..-1 (the
 * verification flags are positive). mbedtls_x509_crt_parse_file() parsed
 * some certificates of a file but returned how many others it could not:
 * the base minus that count. A file Mbed TLS could not read or parse at
 * all: the file's base plus Mbed TLS's (negative) code, so that the
 * message names the file and keeps Mbed TLS's reason.
 */
constexpr int unparsed_cert_file = -0x10000;	// options::cert_file
constexpr int unparsed_ca_file = -0x20000;	// options::ca_file
constexpr int unparsed_max = 0xffff;
constexpr int bad_cert_file = -0x40000;
constexpr int bad_key_file = -0x50000;
constexpr int bad_ca_file = -0x60000;
constexpr int key_mismatch = -0x70000;		// key_file is not cert_file's key
constexpr int unknown_suite = -0x70001;		// a cipher_list name Mbed TLS lacks
constexpr int own_codes_end = -0x7ffff;

std::error_code unparsed_certificates(int base, int count)
{
	return {base - std::clamp(count, 1, unparsed_max), category()};
}

std::error_code file_error(int base, int ret)
{
	return {base + std::clamp(ret, -unparsed_max, -1), category()};
}

class category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "mbedtls"; }
	std::string message(int v) const override
	{
		char buf[512];
		for (auto [base, file] : {std::pair{unparsed_cert_file, "certificate file (cert_file)"},
					  std::pair{unparsed_ca_file, "CA file (ca_file)"}}) {
			if (v < base && v >= base - unparsed_max) {
				int n = base - v;
				return "Mbed TLS: " + std::to_string(n) +
				       (n == 1 ? " certificate" : " certificates") + " in the " + file +
				       " could not be parsed";
			}
		}
		for (auto [base, file] : {std::pair{bad_cert_file, "certificate file (cert_file)"},
					  std::pair{bad_key_file, "key file (key_file)"},
					  std::pair{bad_ca_file, "CA file (ca_file)"}}) {
			if (v < base && v >= base - unparsed_max) {
				mbedtls_strerror(v - base, buf, sizeof(buf));
				return std::string("Mbed TLS: the ") + file + ": " + buf;
			}
		}
		if (v == key_mismatch)
			return "Mbed TLS: the private key (key_file) does not match the certificate "
			       "(cert_file)";
		if (v == unknown_suite)
			return "Mbed TLS: a cipher suite in cipher_list is unknown to Mbed TLS "
			       "(names look like TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256)";
		if (v > 0) {
			/* verification flags (MBEDTLS_X509_BADCERT_*) */
			int n = mbedtls_x509_crt_verify_info(buf, sizeof(buf), "",
							     static_cast<std::uint32_t>(v));
			std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
			while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
				s.pop_back();
			for (auto &c : s)
				if (c == '\n')
					c = ';';
			return "certificate verification failed: " + s;
		}
		mbedtls_strerror(v, buf, sizeof(buf));
		return std::string("Mbed TLS: ") + buf;
	}
	std::error_condition default_error_condition(int v) const noexcept override
	{
		if (v < unparsed_cert_file && v >= own_codes_end)
			return std::errc::invalid_argument;
		if (v == MBEDTLS_ERR_SSL_ALLOC_FAILED)
			return std::errc::not_enough_memory;
		if (v == MBEDTLS_ERR_SSL_BAD_INPUT_DATA)
			return std::errc::invalid_argument;
		if (v == MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE)
			return std::errc::not_supported;
		return std::errc::protocol_error;
	}
};

std::error_code mbedtls_error(int ret)
{
	return {ret, category()};
}

std::uint64_t be64(const unsigned char *p)
{
	std::uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

#if MBEDTLS_VERSION_NUMBER >= 0x03000000

/* ---- what the 3.x key-export callback captures -------------------------- */

struct capture {
	// TLS 1.2
	secret master;
	std::array<std::uint8_t, 32> client_random{}, server_random{};
	int prf = 0;
	// TLS 1.3
	secret client_secret, server_secret;
};

constexpr std::size_t max_captures = 256;

struct registry {
	std::mutex mu;
	std::map<const mbedtls_ssl_context *, capture> captures;
};

registry &reg()
{
	static registry r;
	return r;
}

void on_export(void *p, mbedtls_ssl_key_export_type type, const unsigned char *s, size_t len,
	       const unsigned char client_random[32], const unsigned char server_random[32],
	       mbedtls_tls_prf_types prf)
{
	auto *ssl = static_cast<const mbedtls_ssl_context *>(p);
	try {
		std::lock_guard lock(reg().mu);
		capture &c = reg().captures[ssl];
		switch (type) {
		case MBEDTLS_SSL_KEY_EXPORT_TLS12_MASTER_SECRET:
			c.master = secret(std::span(s, len));
			std::memcpy(c.client_random.data(), client_random, 32);
			std::memcpy(c.server_random.data(), server_random, 32);
			c.prf = prf;
			break;
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
		case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_APPLICATION_TRAFFIC_SECRET:
			c.client_secret = secret(std::span(s, len));
			break;
		case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_SERVER_APPLICATION_TRAFFIC_SECRET:
			c.server_secret = secret(std::span(s, len));
			break;
#endif
		default:
			break;
		}
	} catch (...) {
	}
}

#endif

/* ---- suites ------------------------------------------------------------- */

std::optional<cipher> cipher_of_suite(int id)
{
	const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(id);
	if (!cs)
		return std::nullopt;
	auto type = static_cast<mbedtls_cipher_type_t>(cs->KTLSACCEL_MBEDTLS_FIELD(cipher));
	std::optional<cipher> c;
	switch (type) {
	case MBEDTLS_CIPHER_AES_128_GCM:
		c = cipher::aes_128_gcm;
		break;
	case MBEDTLS_CIPHER_AES_256_GCM:
		c = cipher::aes_256_gcm;
		break;
	case MBEDTLS_CIPHER_CHACHA20_POLY1305:
		c = cipher::chacha20_poly1305;
		break;
	case MBEDTLS_CIPHER_AES_128_CCM:
		/* CCM_8 suites: kTLS only has the 16-byte tag */
		if (cs->KTLSACCEL_MBEDTLS_FIELD(flags) & MBEDTLS_CIPHERSUITE_SHORT_TAG)
			return std::nullopt;
		c = cipher::aes_128_ccm;
		break;
	default:
		return std::nullopt;
	}
	/* the TLS 1.2 key block is derived here with the suite's PRF hash */
	bool sha384 = cs->KTLSACCEL_MBEDTLS_FIELD(mac) == MBEDTLS_MD_SHA384;
	if (sha384 != (cipher_digest(*c) == "SHA384"))
		return std::nullopt;
	return c;
}

/* Forward-secret suites kTLS can take, in Mbed TLS's order of preference. */
std::vector<int> default_suites()
{
	std::vector<int> out;
	for (const int *id = mbedtls_ssl_list_ciphersuites(); *id; id++) {
		const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(*id);
		if (!cs || !cipher_of_suite(*id))
			continue;
		switch (cs->KTLSACCEL_MBEDTLS_FIELD(key_exchange)) {
		case MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA:
		case MBEDTLS_KEY_EXCHANGE_ECDHE_RSA:
		case MBEDTLS_KEY_EXCHANGE_DHE_RSA:
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
		case MBEDTLS_KEY_EXCHANGE_NONE:	/* the TLS 1.3 suites */
#endif
			out.push_back(*id);
			break;
		default:
			break;
		}
	}
	return out;
}

result<std::vector<int>> parse_suites(const std::string &list)
{
	if (list.empty())
		return default_suites();
	std::vector<int> out;
	std::size_t pos = 0;
	while (pos <= list.size()) {
		std::size_t end = list.find_first_of(":,", pos);
		if (end == std::string::npos)
			end = list.size();
		std::string name = list.substr(pos, end - pos);
		if (!name.empty()) {
			int id = mbedtls_ssl_get_ciphersuite_id(name.c_str());
			if (id == 0)
				return fail(std::error_code(unknown_suite, category()));
			out.push_back(id);
		}
		pos = end + 1;
	}
	if (out.empty())
		return fail(errc::invalid_argument);
	return out;
}

/* ---- the socket: without SIGPIPE, waited for in poll() ----------------- */

using steady = std::chrono::steady_clock;

struct bio {
	int fd = -1;
	int last_errno = 0;
	/* the handshake's end: options::handshake_timeout; none: no limit */
	std::optional<steady::time_point> deadline;
	bool timed_out = false;
};

/*
 * Waits in poll() until the socket is ready for events or the deadline
 * passes: 0, or the error Mbed TLS is to return. A blocking socket is
 * never read or written without it (MSG_DONTWAIT), so that a silent or
 * trickling peer cannot hold the thread past the deadline, and Mbed TLS
 * never sees WANT_READ/WANT_WRITE: nothing loops around it.
 */
int bio_wait(bio *b, short events, int failed)
{
	for (;;) {
		int ms = -1;
		if (b->deadline) {
			auto left = std::chrono::ceil<std::chrono::milliseconds>(*b->deadline -
										 steady::now());
			if (left.count() <= 0) {
				b->timed_out = true;
				return MBEDTLS_ERR_SSL_TIMEOUT;
			}
			ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
		}
		pollfd p{b->fd, events, 0};
		int n = ::poll(&p, 1, ms);
		/* POLLERR/POLLHUP too: the next send()/recv() says what happened */
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			b->last_errno = errno;
			return failed;
		}
	}
}

/*
 * One send() or recv() on the socket, retried on EINTR and, after waiting,
 * on EAGAIN: bytes moved, or CONN_RESET, or the direction's `failed`
 * error, or MBEDTLS_ERR_SSL_TIMEOUT. recv() never reports EPIPE, so
 * mapping it for both costs nothing.
 */
template <typename Io> int bio_io(bio *b, Io io, short events, int failed)
{
	for (;;) {
		ssize_t n = io(b->fd);
		if (n >= 0)
			return static_cast<int>(n);
		b->last_errno = errno;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (int r = bio_wait(b, events, failed))
				return r;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return MBEDTLS_ERR_NET_CONN_RESET;
		return failed;
	}
}

int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	return bio_io(static_cast<bio *>(ctx),
		      [&](int fd) { return ::send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT); },
		      POLLOUT, MBEDTLS_ERR_NET_SEND_FAILED);
}

int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	return bio_io(static_cast<bio *>(ctx),
		      [&](int fd) { return ::recv(fd, buf, len, MSG_DONTWAIT); }, POLLIN,
		      MBEDTLS_ERR_NET_RECV_FAILED);
}

/* One handshake's context, freed (and wiped by Mbed TLS) at the end of handshake(). */
struct session {
	mbedtls_ssl_context ssl;
	bio io;

	session() { mbedtls_ssl_init(&ssl); }
	~session()
	{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		{
			std::lock_guard lock(reg().mu);
			reg().captures.erase(&ssl);
		}
#endif
		mbedtls_ssl_free(&ssl);
	}
	session(const session &) = delete;
	session &operator=(const session &) = delete;
};

std::error_code handshake_error(session &s, int ret)
{
	if (s.io.timed_out)
		return make_error_code(errc::timeout);
	switch (ret) {
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: {
		std::uint32_t flags = mbedtls_ssl_get_verify_result(&s.ssl);
		if (flags != 0 && flags != static_cast<std::uint32_t>(-1) && flags <= INT32_MAX)
			return {static_cast<int>(flags), category()};
		break;
	}
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
		const unsigned char *msg = s.ssl.KTLSACCEL_MBEDTLS_FIELD(in_msg);
		if (msg)
			return {msg[1], alert_category()};
		break;
	}
	case MBEDTLS_ERR_SSL_CONN_EOF:
		return make_error_code(errc::unexpected_eof);
	case MBEDTLS_ERR_NET_CONN_RESET:
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		if (s.io.last_errno)
			return detail::errno_error(s.io.last_errno);
		break;
	}
	return mbedtls_error(ret);
}

bool handshake_over(const mbedtls_ssl_context *ssl)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
	return mbedtls_ssl_is_handshake_over(const_cast<mbedtls_ssl_context *>(ssl));
#else
	return ssl->KTLSACCEL_MBEDTLS_FIELD(state) == MBEDTLS_SSL_HANDSHAKE_OVER;
#endif
}

bool is_server(const mbedtls_ssl_context *ssl)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_ssl_conf_get_endpoint(mbedtls_ssl_context_get_config(ssl)) ==
	       MBEDTLS_SSL_IS_SERVER;
#else
	return ssl->conf->endpoint == MBEDTLS_SSL_IS_SERVER;
#endif
}

} // namespace

const std::error_category &category() noexcept
{
	static const category_impl c;
	return c;
}

/* ---- prepare ------------------------------------------------------------ */

result<void> prepare(mbedtls_ssl_config *conf)
{
	if (!conf)
		return fail(errc::invalid_argument);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
	/* kTLS cannot renegotiate; HelloRequests are declined after the hand-over */
	mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
	/* the keys: 2.x reads them from the context after its handshake, 3.x hooks prepare(ssl) */
	return {};
}

result<void> prepare(mbedtls_ssl_context *ssl)
{
	if (!ssl)
		return fail(errc::invalid_argument);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	if (!mbedtls_ssl_context_get_config(ssl))
		return fail(errc::invalid_argument);
	if (handshake_over(ssl))
		return fail(errc::ssl_not_ready);
	{
		std::lock_guard lock(reg().mu);
		/* contexts freed without offload() never claim theirs */
		if (reg().captures.size() >= max_captures && !reg().captures.contains(ssl))
			reg().captures.erase(reg().captures.begin());
		reg().captures[ssl] = capture{};
	}
	mbedtls_ssl_set_export_keys_cb(ssl, on_export, ssl);
#else
	if (!ssl->conf)
		return fail(errc::invalid_argument);
	if (ssl->state != MBEDTLS_SSL_HELLO_REQUEST)
		return fail(errc::ssl_not_ready);
#endif
	return {};
}

/* ---- export ------------------------------------------------------------- */

namespace {

/*
 * Plaintext Mbed TLS already decrypted; reading it touches no socket.
 * Anything else it holds - a record half read, more handshake messages -
 * cannot be handed over.
 */
result<void> take_pending(mbedtls_ssl_context *ssl, std::vector<std::uint8_t> &out)
{
	for (std::size_t avail; (avail = mbedtls_ssl_get_bytes_avail(ssl)) > 0;) {
		std::size_t old = out.size();
		out.resize(old + avail);
		int n = mbedtls_ssl_read(ssl, out.data() + old, avail);
		if (n <= 0) {
			out.resize(old);
			return fail(n == 0 ? make_error_code(errc::ssl_not_ready) : mbedtls_error(n));
		}
		out.resize(old + static_cast<std::size_t>(n));
	}
	if (mbedtls_ssl_check_pending(ssl) || ssl->KTLSACCEL_MBEDTLS_FIELD(in_left) != 0)
		return fail(errc::pending_input);
	return {};
}

/*
 * take: move the plaintext into keys.pending. Without, it stays in Mbed
 * TLS for take_pending() once the kernel holds the keys, so that a
 * refused hand-over loses nothing; only what else may be pending is
 * checked here.
 */
result<session_keys> export_keys(mbedtls_ssl_context *ssl, bool take)
{
	if (!ssl)
		return fail(errc::invalid_argument);
	if (!handshake_over(ssl))
		return fail(errc::ssl_not_ready);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	auto version = mbedtls_ssl_get_version_number(ssl);
	bool tls13 = version == MBEDTLS_SSL_VERSION_TLS1_3;
	if (version != MBEDTLS_SSL_VERSION_TLS1_2 && !tls13)
		return fail(errc::cipher_unsupported);
	int suite = mbedtls_ssl_get_ciphersuite_id_from_ssl(ssl);
	if (ssl->MBEDTLS_PRIVATE(out_left) != 0)
		return fail(errc::ssl_not_ready);
#else
	if (ssl->conf->transport != MBEDTLS_SSL_TRANSPORT_STREAM ||
	    ssl->major_ver != MBEDTLS_SSL_MAJOR_VERSION_3 ||
	    ssl->minor_ver != MBEDTLS_SSL_MINOR_VERSION_3)
		return fail(errc::cipher_unsupported);
	constexpr bool tls13 = false;
	int suite = ssl->session ? ssl->session->ciphersuite : 0;
	/* output a non-blocking write left unsent would be lost */
	if (ssl->out_left != 0)
		return fail(errc::ssl_not_ready);
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
	/* kTLS writes records of up to 16 KiB: a smaller agreed limit breaks */
	if (ssl->session && ssl->session->mfl_code != MBEDTLS_SSL_MAX_FRAG_LEN_NONE)
		return fail(mbedtls_error(MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE));
#endif
#endif
	auto c = cipher_of_suite(suite);
	if (!c)
		return fail(errc::cipher_unsupported);

	session_keys keys;
	if (take) {
		if (auto r = take_pending(ssl, keys.pending); !r)
			return std::unexpected(r.error());
	} else if (ssl->KTLSACCEL_MBEDTLS_FIELD(in_left) != 0 ||
		   (mbedtls_ssl_get_bytes_avail(ssl) == 0 && mbedtls_ssl_check_pending(ssl))) {
		/* with plaintext pending, check_pending() says so: checked again after */
		return fail(errc::pending_input);
	}

	const unsigned char *in_ctr = ssl->KTLSACCEL_MBEDTLS_FIELD(in_ctr);
	const unsigned char *out_ctr = ssl->KTLSACCEL_MBEDTLS_FIELD(cur_out_ctr);
	if (!in_ctr)
		return fail(errc::ssl_not_ready);
	std::uint64_t rd_seq = be64(in_ctr), wr_seq = be64(out_ctr);
	bool server = is_server(ssl);
	role me = server ? role::server : role::client;
	role peer = server ? role::client : role::server;

	keys.version = tls13 ? tls_version::tls13 : tls_version::tls12;
	keys.cipher_type = *c;
	keys.local_role = me;
	if (const char *name = mbedtls_ssl_get_ciphersuite(ssl))
		keys.cipher_suite = name;
#if defined(MBEDTLS_SSL_ALPN)
	if (const char *alpn = mbedtls_ssl_get_alpn_protocol(ssl))
		keys.alpn = alpn;
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	capture cap;
	{
		std::lock_guard lock(reg().mu);
		auto it = reg().captures.find(ssl);
		if (it == reg().captures.end())
			return fail(errc::ssl_not_prepared);
		cap = std::move(it->second);
		reg().captures.erase(it);
	}

	if (tls13) {
		/*
		 * A 3.x built with MBEDTLS_SSL_CID_TLS1_3_PADDING_GRANULARITY > 1
		 * pads TLS 1.3 records, which kTLS cannot: such a build must
		 * refuse here with errc::record_padding (docs/mbedtls.md).
		 */
		if (cap.client_secret.empty() || cap.server_secret.empty())
			return fail(errc::ssl_not_prepared);
		secret &tx = server ? cap.server_secret : cap.client_secret;
		secret &rx = server ? cap.client_secret : cap.server_secret;
		auto txi = crypto_info_from_traffic_secret(*c, tx.span(), wr_seq);
		auto rxi = crypto_info_from_traffic_secret(*c, rx.span(), rd_seq);
		if (!txi || !rxi)
			return std::unexpected(!txi ? txi.error() : rxi.error());
		keys.tx = std::move(*txi);
		keys.rx = std::move(*rxi);
		/* for KeyUpdate: install() keeps them where the socket can rekey */
		keys.tx_secret = std::move(tx);
		keys.rx_secret = std::move(rx);
		return keys;
	}
	if (cap.master.empty())
		return fail(errc::ssl_not_prepared);
	auto block = tls12_key_block(*c, cap.master.span(), cap.client_random, cap.server_random);
#else
	/*
	 * The context's own: its session's master secret and the randoms its
	 * transform keeps (server random first, the key expansion's order).
	 */
	const mbedtls_ssl_transform *t = ssl->transform_out;
	if (!ssl->session || !t || ssl->transform_in != t)
		return fail(errc::ssl_not_ready);
	auto block = tls12_key_block(*c, std::span(ssl->session->master),
				     std::span(t->randbytes).subspan(32, 32),
				     std::span(t->randbytes).first(32));
#endif
	if (!block)
		return std::unexpected(block.error());
	auto txi = crypto_info_from_key_block(*c, block->span(), me, wr_seq);
	auto rxi = crypto_info_from_key_block(*c, block->span(), peer, rd_seq);
	if (!txi || !rxi)
		return std::unexpected(!txi ? txi.error() : rxi.error());
#if MBEDTLS_VERSION_NUMBER < 0x03000000
	/* the fixed IVs Mbed TLS itself uses: proof of the derivation and of the halves */
	auto fixed_iv = [&](crypto_info &ci) {
		return *c == cipher::chacha20_poly1305 ? ci.iv() : ci.salt();
	};
	auto tx_iv = fixed_iv(*txi), rx_iv = fixed_iv(*rxi);
	if (tx_iv.size() > sizeof(t->iv_enc) ||
	    CRYPTO_memcmp(tx_iv.data(), t->iv_enc, tx_iv.size()) != 0 ||
	    CRYPTO_memcmp(rx_iv.data(), t->iv_dec, rx_iv.size()) != 0)
		return fail(mbedtls_error(MBEDTLS_ERR_SSL_INTERNAL_ERROR));
#endif
	keys.tx = std::move(*txi);
	keys.rx = std::move(*rxi);
	return keys;
}

} // namespace

result<session_keys> export_keys(mbedtls_ssl_context *ssl)
{
	return export_keys(ssl, true);
}

result<connection> offload(mbedtls_ssl_context *ssl, int fd)
{
	if (!ssl || fd < 0)
		return fail(errc::invalid_argument);
	auto keys = export_keys(ssl, false);
	if (!keys)
		return std::unexpected(keys.error());
	auto conn = connection::install(fd, std::move(*keys));
	if (!conn)
		return conn;
	/* the kernel has the keys: now Mbed TLS's plaintext can move over */
	if (auto r = take_pending(ssl, detail::connection_access::pending(*conn)); !r)
		return std::unexpected(r.error());
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
	/* what verification checked; without KEEP_PEER_CERTIFICATE Mbed TLS keeps only a digest */
	if (const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(ssl); peer && peer->raw.p)
		detail::describe_peer_der(std::span<const std::uint8_t>(peer->raw.p, peer->raw.len),
					  detail::connection_access::info(*conn));
#endif
	return conn;
}

/* ---- context ------------------------------------------------------------ */

} // namespace ktlsaccel::mbedtls

namespace ktlsaccel::detail {

namespace {

struct session_free_t {
	void operator()(mbedtls_ssl_session *s) const
	{
		mbedtls_ssl_session_free(s);	/* zeroizes the master secret and ticket */
		delete s;
	}
};
using session_ptr = std::unique_ptr<mbedtls_ssl_session, session_free_t>;

} // namespace

/*
 * ktlsaccel::mbedtls::context's insides. The config points into the rest
 * (RNG, certificates, key, suites, ALPN names, cache, ticket keys), so
 * the state never moves and is freed as a whole. Mbed TLS's config is
 * only read by handshakes once built; what they write - the DRBG, the
 * session cache, the ticket keys (rotated by lifetime) - is locked here
 * too, since a build without MBEDTLS_THREADING_C does not lock them.
 */
struct KTLSACCEL_LOCAL mbedtls_context_state {
	options opts;
	bool server = false;
	// a context of context::create(): a server resumes, a client keeps sessions
	bool keep_sessions = false;
	std::vector<int> suites;
	std::vector<const char *> alpn;

	std::mutex rng_mu;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_ssl_config conf;
#if defined(MBEDTLS_SSL_CACHE_C)
	std::mutex cache_mu;
	mbedtls_ssl_cache_context cache;
#endif
#if defined(MBEDTLS_SSL_TICKET_C)
	std::mutex ticket_mu;
	mbedtls_ssl_ticket_context tickets;
#endif
	mutable std::mutex sessions_mu;
	std::map<std::string, session_ptr> sessions;	// a client's, guarded by sessions_mu

	mbedtls_context_state()
	{
		mbedtls_entropy_init(&entropy);
		mbedtls_ctr_drbg_init(&drbg);
		mbedtls_x509_crt_init(&ca);
		mbedtls_x509_crt_init(&cert);
		mbedtls_pk_init(&key);
		mbedtls_ssl_config_init(&conf);
#if defined(MBEDTLS_SSL_CACHE_C)
		mbedtls_ssl_cache_init(&cache);
#endif
#if defined(MBEDTLS_SSL_TICKET_C)
		mbedtls_ssl_ticket_init(&tickets);
#endif
	}
	~mbedtls_context_state()
	{
		sessions.clear();
		mbedtls_ssl_config_free(&conf);
		/* Mbed TLS's own frees zeroize the cached sessions and the ticket keys */
#if defined(MBEDTLS_SSL_TICKET_C)
		mbedtls_ssl_ticket_free(&tickets);
#endif
#if defined(MBEDTLS_SSL_CACHE_C)
		mbedtls_ssl_cache_free(&cache);
#endif
		mbedtls_pk_free(&key);
		mbedtls_x509_crt_free(&cert);
		mbedtls_x509_crt_free(&ca);
		mbedtls_ctr_drbg_free(&drbg);
		mbedtls_entropy_free(&entropy);
	}
	mbedtls_context_state(const mbedtls_context_state &) = delete;
	mbedtls_context_state &operator=(const mbedtls_context_state &) = delete;

	// A client: offers the session kept for name to ssl (Mbed TLS copies it).
	int offer(mbedtls_ssl_context *ssl, const std::string &name)
	{
		std::lock_guard lock(sessions_mu);
		auto it = sessions.find(name);
		if (it == sessions.end())
			return 0;
		return mbedtls_ssl_set_session(ssl, it->second.get());
	}
	// A client, after a handshake: keeps its session for the next one to name.
	void keep(const mbedtls_ssl_context *ssl, const std::string &name);
	std::size_t cached() const
	{
		std::lock_guard lock(sessions_mu);
		return sessions.size();
	}
};

} // namespace ktlsaccel::detail

namespace ktlsaccel::mbedtls {

namespace {

using detail::mbedtls_context_state;
using detail::session_ptr;

/* a client's sessions: bounded, since server names come from the application's peers */
constexpr std::size_t max_cached_sessions = 4096;
/* a server's session cache: Mbed TLS 2.x searches it entry by entry */
constexpr int server_cache_entries = 1024;
/* how long a session or ticket may be resumed: OpenSSL's default */
constexpr int session_lifetime_s = 7200;

/*
 * The one handshake running on this thread (handshakes run on their
 * caller's thread and Mbed TLS calls back from within them): where the
 * SNI callback, which the config shares, leaves the name it saw.
 */
struct running {
	std::string server_name;
};
thread_local running *current = nullptr;

/*
 * A callback Mbed TLS makes with the context state as its data: Fn on the
 * state's Object under the state's Mutex. A... are deduced from the
 * callback type the pointer is taken for, so one template fits 2.x's and
 * 3.x's signatures.
 */
template <auto Fn, auto Object, auto Mutex, class... A>
int locked(void *p, A... a)
{
	auto *st = static_cast<mbedtls_context_state *>(p);
	std::lock_guard lock(st->*Mutex);
	return Fn(&(st->*Object), a...);
}

int locked_random(void *p, unsigned char *out, size_t len)
{
	return locked<mbedtls_ctr_drbg_random, &mbedtls_context_state::drbg,
		      &mbedtls_context_state::rng_mu>(p, out, len);
}

int on_sni(void *, mbedtls_ssl_context *, const unsigned char *name, size_t len)
{
	if (current) {
		try {
			current->server_name.assign(reinterpret_cast<const char *>(name), len);
		} catch (...) {
			/* a name we could not copy only leaves info().server_name empty */
		}
	}
	return 0;
}

bool resumable(const mbedtls_ssl_session *s)
{
	if (s->KTLSACCEL_MBEDTLS_FIELD(id_len) != 0)
		return true;
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
	if (s->KTLSACCEL_MBEDTLS_FIELD(ticket_len) != 0)
		return true;
#endif
	return false;
}

} // namespace

} // namespace ktlsaccel::mbedtls

void ktlsaccel::detail::mbedtls_context_state::keep(const mbedtls_ssl_context *ssl,
						   const std::string &name)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
	/* TLS 1.3 tickets come after the hand-over, when the kernel has the records */
	if (mbedtls_ssl_get_version_number(ssl) != MBEDTLS_SSL_VERSION_TLS1_2)
		return;
#else
	return;
#endif
#endif
	session_ptr s(new mbedtls_ssl_session);
	mbedtls_ssl_session_init(s.get());
	if (mbedtls_ssl_get_session(ssl, s.get()) != 0 || !mbedtls::resumable(s.get()))
		return;
	std::lock_guard lock(sessions_mu);
	auto it = sessions.find(name);
	if (it == sessions.end() && sessions.size() >= mbedtls::max_cached_sessions)
		sessions.erase(sessions.begin());
	sessions[name] = std::move(s);
}

namespace ktlsaccel::mbedtls {

namespace {

result<std::shared_ptr<mbedtls_context_state>> make_state(const options &o, bool keep_sessions)
{
	bool server = o.role == role::server;
	if (server && (o.cert_file.empty() || o.key_file.empty()))
		return fail(errc::invalid_argument);
	if (o.handshake_timeout.count() < 0)
		return fail(errc::invalid_argument);
	auto suites = parse_suites(o.cipher_list);
	if (!suites)
		return std::unexpected(suites.error());

	auto st = std::make_shared<mbedtls_context_state>();
	st->opts = o;
	st->server = server;
	st->keep_sessions = keep_sessions;
	st->suites = std::move(*suites);
	st->suites.push_back(0);
	mbedtls_ssl_config *conf = &st->conf;
	int ret = mbedtls_ssl_config_defaults(conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
					      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret)
		return fail(mbedtls_error(ret));
	static const char pers[] = "libktlsaccel";
	ret = mbedtls_ctr_drbg_seed(&st->drbg, mbedtls_entropy_func, &st->entropy,
				    reinterpret_cast<const unsigned char *>(pers), sizeof(pers) - 1);
	if (ret)
		return fail(mbedtls_error(ret));
	mbedtls_ssl_conf_rng(conf, locked_random, st.get());

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	psa_crypto_init();
	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
#else
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
	if (o.version) {
		auto v = *o.version == tls_version::tls13 ? MBEDTLS_SSL_VERSION_TLS1_3
							  : MBEDTLS_SSL_VERSION_TLS1_2;
		mbedtls_ssl_conf_min_tls_version(conf, v);
		mbedtls_ssl_conf_max_tls_version(conf, v);
	}
#else
	/* Mbed TLS 2.28 has no TLS 1.3 (only an experimental, incomplete one) */
	if (o.version && *o.version == tls_version::tls13)
		return fail(mbedtls_error(MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION));
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	mbedtls_ssl_conf_ciphersuites(conf, st->suites.data());

	if (o.verify_peer) {
		ret = o.ca_file.empty() ? mbedtls_x509_crt_parse_path(&st->ca, "/etc/ssl/certs")
					: mbedtls_x509_crt_parse_file(&st->ca, o.ca_file.c_str());
		if (ret < 0)
			return fail(file_error(bad_ca_file, ret));
		/* Of the system store, files that are no certificates are
		 * skipped; of a file given, every certificate counts. */
		if (ret > 0 && !o.ca_file.empty())
			return fail(unparsed_certificates(unparsed_ca_file, ret));
		mbedtls_ssl_conf_ca_chain(conf, &st->ca, nullptr);
		mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	} else {
		mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	if (!o.cert_file.empty()) {
		ret = mbedtls_x509_crt_parse_file(&st->cert, o.cert_file.c_str());
		if (ret < 0)
			return fail(file_error(bad_cert_file, ret));
		/* > 0: that many certificates of the chain did not parse. */
		if (ret > 0)
			return fail(unparsed_certificates(unparsed_cert_file, ret));
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		ret = mbedtls_pk_parse_keyfile(&st->key, o.key_file.c_str(), nullptr,
					       locked_random, st.get());
#else
		ret = mbedtls_pk_parse_keyfile(&st->key, o.key_file.c_str(), nullptr);
#endif
		if (ret)
			return fail(file_error(bad_key_file, ret));
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		ret = mbedtls_pk_check_pair(&st->cert.MBEDTLS_PRIVATE(pk), &st->key, locked_random,
					    st.get());
#else
		ret = mbedtls_pk_check_pair(&st->cert.pk, &st->key);
#endif
		if (ret)
			return fail(std::error_code(key_mismatch, category()));
		if ((ret = mbedtls_ssl_conf_own_cert(conf, &st->cert, &st->key)))
			return fail(mbedtls_error(ret));
	}

	for (const auto &p : st->opts.alpn) {
		if (p.empty() || p.size() > 255)
			return fail(errc::invalid_argument);
		st->alpn.push_back(p.c_str());
	}
	if (!st->alpn.empty()) {
#if defined(MBEDTLS_SSL_ALPN)
		st->alpn.push_back(nullptr);
		if ((ret = mbedtls_ssl_conf_alpn_protocols(conf, st->alpn.data())))
			return fail(mbedtls_error(ret));
#else
		return fail(mbedtls_error(MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE));
#endif
	}

	if (server) {
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
		mbedtls_ssl_conf_sni(conf, on_sni, nullptr);
#endif
		/*
		 * Session IDs for clients without tickets (a server that issues
		 * a ticket sends no session ID), tickets for the others, each
		 * under its own lock.
		 */
		using state = mbedtls_context_state;
#if defined(MBEDTLS_SSL_CACHE_C)
		if (keep_sessions) {
			mbedtls_ssl_cache_set_timeout(&st->cache, session_lifetime_s);
			mbedtls_ssl_cache_set_max_entries(&st->cache, server_cache_entries);
			mbedtls_ssl_conf_session_cache(
				conf, st.get(),
				locked<mbedtls_ssl_cache_get, &state::cache, &state::cache_mu>,
				locked<mbedtls_ssl_cache_set, &state::cache, &state::cache_mu>);
		}
#endif
#if defined(MBEDTLS_SSL_TICKET_C) && defined(MBEDTLS_GCM_C)
		/* 3.x: only for TLS 1.2; its TLS 1.3 tickets would follow the hand-over */
		bool tls12_only = MBEDTLS_VERSION_NUMBER < 0x03000000 ||
				  (o.version && *o.version == tls_version::tls12);
		if (keep_sessions && tls12_only) {
			ret = mbedtls_ssl_ticket_setup(&st->tickets, locked_random, st.get(),
						       MBEDTLS_CIPHER_AES_256_GCM,
						       session_lifetime_s);
			if (ret)
				return fail(mbedtls_error(ret));
			mbedtls_ssl_conf_session_tickets_cb(
				conf,
				locked<mbedtls_ssl_ticket_write, &state::tickets, &state::ticket_mu>,
				locked<mbedtls_ssl_ticket_parse, &state::tickets, &state::ticket_mu>,
				st.get());
		}
#endif
	}
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
	else {
		mbedtls_ssl_conf_session_tickets(conf, keep_sessions
							       ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
							       : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	}
#endif

	if (auto r = prepare(conf); !r)
		return std::unexpected(r.error());
	return st;
}

/* Runs Mbed TLS's handshake to its end; *resumed: whether it resumed a session. */
int run_handshake(mbedtls_ssl_context *ssl, bool *resumed)
{
	*resumed = false;
#if MBEDTLS_VERSION_NUMBER < 0x03000000
	/*
	 * 2.x keeps the resumption flag in the handshake parameters, which
	 * its last step frees: read it before each step. (2.x also reuses
	 * the session ID offered by a ticket, so comparing IDs would not do.)
	 */
	while (!handshake_over(ssl)) {
		if (ssl->handshake)
			*resumed = ssl->handshake->resume != 0;
		if (int ret = mbedtls_ssl_handshake_step(ssl))
			return ret;
	}
	return 0;
#else
	/* 3.x keeps the flag private: resumed stays false (docs/mbedtls.md) */
	int ret;
	while ((ret = mbedtls_ssl_handshake(ssl)) != 0) {
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
		/* 3.6, TLS 1.3: a ticket arrived; the handshake is done */
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
#endif
		return ret;
	}
	return 0;
#endif
}

result<connection> handshake_with(const std::shared_ptr<mbedtls_context_state> &st, int fd,
				  std::string_view server_name)
{
	auto start = steady::now();
	if (fd < 0)
		return fail(errc::invalid_argument);
	const options &o = st->opts;
	std::string name = server_name.empty() ? o.server_name : std::string(server_name);
	/* verified without a name, any certificate of the CAs would do (see openssl) */
	if (!st->server && o.verify_peer && name.empty())
		return fail(errc::invalid_argument);

	auto s = std::make_unique<session>();
	s->io.fd = fd;
	if (o.handshake_timeout.count() > 0)
		s->io.deadline = start + o.handshake_timeout;
	int ret;
	if ((ret = mbedtls_ssl_setup(&s->ssl, &st->conf)))
		return fail(mbedtls_error(ret));
	if (auto r = prepare(&s->ssl); !r)
		return std::unexpected(r.error());
	if (!st->server && !name.empty() &&
	    (ret = mbedtls_ssl_set_hostname(&s->ssl, name.c_str())))
		return fail(mbedtls_error(ret));
	/* a session we cannot offer costs a full handshake, nothing else */
	if (!st->server && st->keep_sessions)
		(void)st->offer(&s->ssl, name);
	mbedtls_ssl_set_bio(&s->ssl, &s->io, bio_send, bio_recv, nullptr);

	running me;
	running *outer = std::exchange(current, &me);
	bool resumed = false;
	ret = run_handshake(&s->ssl, &resumed);
	current = outer;
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		/* the BIO waits for the socket itself: only an asynchronous extension could */
		return fail(detail::errno_error(EAGAIN));
	if (ret)
		return fail(handshake_error(*s, ret));
	if (!st->server && st->keep_sessions)
		st->keep(&s->ssl, name);

	/* the session's destructor frees and wipes Mbed TLS's copy of the keys */
	auto conn = offload(&s->ssl, fd);
	if (!conn)
		return conn;
	connection_info &info = detail::connection_access::info(*conn);
	info.resumed = resumed;
	info.server_name = st->server ? std::move(me.server_name) : std::move(name);
	return conn;
}

} // namespace

context::context(std::shared_ptr<detail::mbedtls_context_state> s) noexcept : s_(std::move(s)) {}

result<context> context::create(const options &opts)
{
	auto s = make_state(opts, true);
	if (!s)
		return std::unexpected(s.error());
	return context(std::move(*s));
}

const options &context::settings() const noexcept
{
	return s_->opts;
}

std::size_t context::cached_sessions() const
{
	return s_->server ? 0 : s_->cached();
}

/* ---- handshake ---------------------------------------------------------- */

result<connection> handshake(int fd, const context &ctx, std::string_view server_name)
{
	return handshake_with(ctx.s_, fd, server_name);
}

result<connection> handshake(int fd, const options &o)
{
	if (fd < 0)
		return fail(errc::invalid_argument);
	/* verified without a name, any certificate of the CAs would do (see openssl) */
	if (o.role == role::client && o.verify_peer && o.server_name.empty())
		return fail(errc::invalid_argument);
	auto st = make_state(o, false);
	if (!st)
		return std::unexpected(st.error());
	return handshake_with(*st, fd, {});
}

} // namespace ktlsaccel::mbedtls

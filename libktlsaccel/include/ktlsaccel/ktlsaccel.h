/* SPDX-License-Identifier: MIT */
/*
 * libktlsaccel C API: hand an OpenSSL connection to kernel TLS.
 *
 *	SSL *ssl = SSL_new(ctx);
 *	ktlsaccel_prepare_ssl(ssl);		// before the handshake
 *	SSL_set_fd(ssl, fd); SSL_connect(ssl);
 *	struct ktlsaccel_conn *c;
 *	int err = ktlsaccel_offload_ssl(ssl, &c);
 *	if (err) fprintf(stderr, "%s\n", ktlsaccel_last_error());
 *	SSL_free(ssl);				// no longer needed
 *	ktlsaccel_send(c, buf, len, 0); ktlsaccel_recv(c, buf, sizeof(buf));
 *	ktlsaccel_shutdown(c); ktlsaccel_conn_free(c); close(fd);
 *
 * Or let the library run the handshake, with a context shared by every
 * connection (certificates parsed once, sessions resumed):
 *
 *	struct ktlsaccel_options o = { .server = 1, .cert_file = "c.pem",
 *				       .key_file = "k.pem", .no_verify = 1 };
 *	struct ktlsaccel_ctx *ctx;
 *	ktlsaccel_ctx_new(&o, sizeof(o), &ctx);		// once
 *	ktlsaccel_handshake(ctx, fd, NULL, &c);		// per connection
 *
 * Every call returns 0 (or a byte count) on success and -errno on failure;
 * ktlsaccel_last_error() then describes the failure for a person (alert
 * names, certificate problems, what to change). No call throws.
 */
#ifndef KTLSACCEL_H
#define KTLSACCEL_H
/* Exported from the shared library, which builds everything else hidden. */
#pragma GCC visibility push(default)

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
struct ktlsaccel_conn;
struct ktlsaccel_ctx;

/*
 * ktlsaccel::options for ktlsaccel_ctx_new(). Zero means the default: a
 * verifying client of TLS 1.2 or 1.3 without a time limit.
 */
/* handshake_timeout_ms: wait for the peer without limit (not the default) */
#define KTLSACCEL_NO_TIMEOUT 0xffffffffu

struct ktlsaccel_options {
	int server;			/* 1: server (needs cert_file and key_file) */
	const char *server_name;	/* client: default SNI name and name to verify */
	const char *ca_file;		/* trust anchors; NULL: OpenSSL's default paths */
	const char *cert_file;		/* our chain and key (PEM) */
	const char *key_file;
	int no_verify;			/* 1: do not verify the peer */
	const char *alpn;		/* "h2,http/1.1", in preference order */
	unsigned int version;		/* 0, or pin 0x0303 (TLS 1.2) / 0x0304 (TLS 1.3) */
	unsigned int handshake_timeout_ms;	/* 0: 60 s; KTLSACCEL_NO_TIMEOUT: none; else -ETIMEDOUT */
	int allow_userspace_fallback;	/* 1: keep TLS in userspace without kTLS */
};

/*
 * A context (ktlsaccel::context) from *opts; size is sizeof(*opts), for
 * fields appended later. -EINVAL for a bad option (the message says which).
 */
int ktlsaccel_ctx_new(const struct ktlsaccel_options *opts, size_t size,
		      struct ktlsaccel_ctx **ctxp);
/* Frees ctx; connections made with it keep what they need. NULL is fine. */
void ktlsaccel_ctx_free(struct ktlsaccel_ctx *ctx);
/* Its SSL_CTX, to customise before handshakes use it (context::native_handle()). */
SSL_CTX *ktlsaccel_ctx_ssl_ctx(struct ktlsaccel_ctx *ctx);
/*
 * Runs the handshake on the connected socket fd (blocking or not) and
 * hands the records to the kernel: *connp. server_name: a client's name
 * for this connection, NULL for the context's. -ETIMEDOUT after the
 * context's handshake timeout.
 */
int ktlsaccel_handshake(struct ktlsaccel_ctx *ctx, int fd, const char *server_name,
			struct ktlsaccel_conn **connp);

/* Call before SSL_connect()/SSL_accept(): see ktlsaccel::ssl_prepare(). */
int ktlsaccel_prepare_ssl(SSL *ssl);
/*
 * For every SSL_CTX an SNI callback may switch an SSL to (virtual hosts),
 * at start-up: see ktlsaccel::ssl_ctx_prepare().
 */
int ktlsaccel_prepare_ssl_ctx(SSL_CTX *ctx);

/*
 * After the handshake: installs the keys in the kernel and returns a
 * connection in *connp. The SSL and the socket stay the caller's. -EBUSY
 * when OpenSSL holds unprocessed bytes (the SSL remains usable).
 */
int ktlsaccel_offload_ssl(SSL *ssl, struct ktlsaccel_conn **connp);

/*
 * Like send(2); flags may hold MSG_MORE and MSG_DONTWAIT. Here and below,
 * -EINVAL for a NULL conn, or a NULL buf with len > 0, before any I/O.
 */
ssize_t ktlsaccel_send(struct ktlsaccel_conn *conn, const void *buf, size_t len, int flags);
/*
 * Like recv(2): 0 when the peer sent close_notify; -EPROTO on a fatal alert.
 * Bytes of buf past the count returned are unspecified: post-handshake
 * messages (TLS 1.3 session tickets, KeyUpdate) are read through it.
 * MSG_PEEK is refused (-EINVAL): kTLS would hand a peeked alert or
 * post-handshake message back forever.
 */
ssize_t ktlsaccel_recv(struct ktlsaccel_conn *conn, void *buf, size_t len, int flags);
/* Like sendfile(2). */
ssize_t ktlsaccel_sendfile(struct ktlsaccel_conn *conn, int in_fd, off_t *offset, size_t count);
/* TLS 1.3 KeyUpdate; -EOPNOTSUPP before Linux 6.14. */
int ktlsaccel_key_update(struct ktlsaccel_conn *conn, int request_peer);
/*
 * Send coalescing for small writes (see ktlsaccel::coalescing and the
 * README's "Small writes"): every send holds kTLS's record open, closed
 * by ktlsaccel_flush(), a recv, a shutdown, or max_delay_us (1 to
 * 1000000) after the last send. flags: 0, or KTLSACCEL_COALESCE_NO_THREAD
 * (no library thread: call ktlsaccel_flush_due() by the deadline). A
 * max_delay_us of 0 turns it off. -EINVAL for an argument out of range.
 */
#define KTLSACCEL_COALESCE_NO_THREAD 1u
int ktlsaccel_set_coalescing(struct ktlsaccel_conn *conn, unsigned int max_delay_us,
			     unsigned int flags);
/* Closes the record held open (coalescing or MSG_MORE); never waits for room. */
int ktlsaccel_flush(struct ktlsaccel_conn *conn);
/*
 * 1 and *deadline (CLOCK_MONOTONIC) when a held record must be closed by
 * ktlsaccel_flush_due() then; 0 when none is held; -EINVAL for NULLs.
 */
int ktlsaccel_flush_deadline(const struct ktlsaccel_conn *conn, struct timespec *deadline);
/* Closes the held record if its deadline passed. */
int ktlsaccel_flush_due(struct ktlsaccel_conn *conn);
/* Sends close_notify; after a failure (-EAGAIN) it may be called again. */
int ktlsaccel_shutdown(struct ktlsaccel_conn *conn);
/*
 * What the handshake told (ktlsaccel::connection_info), valid while conn
 * lives; NULL (and *len 0) when there is none or conn is NULL. The SNI
 * host name: a server's, the one the client asked for; a client's, the
 * one it sent.
 */
const char *ktlsaccel_conn_server_name(const struct ktlsaccel_conn *conn);
/* The peer's certificate (DER), its length in *len. */
const unsigned char *ktlsaccel_conn_peer_certificate(const struct ktlsaccel_conn *conn,
						     size_t *len);
/* The peer certificate's subject, RFC 2253 ("CN=example.org,O=Example"). */
const char *ktlsaccel_conn_peer_subject(const struct ktlsaccel_conn *conn);
/* What the handshake negotiated (ktlsaccel::connection_info). */
struct ktlsaccel_info {
	unsigned int version;		/* 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3) */
	const char *cipher_suite;	/* "TLS_AES_128_GCM_SHA256"; valid while conn lives */
	const char *alpn;		/* negotiated protocol, or NULL */
	int kernel_offload;		/* 1: records in kTLS; 0: userspace fallback */
	int resumed;			/* 1: an earlier session was resumed */
};
/* Fills *info (size: sizeof(*info)); -EINVAL for NULLs. */
int ktlsaccel_conn_info(const struct ktlsaccel_conn *conn, struct ktlsaccel_info *info,
			size_t size);
/*
 * Plaintext bytes ktlsaccel_recv() returns without reading the socket,
 * which epoll does not report: drain them before waiting for EPOLLIN.
 */
ssize_t ktlsaccel_conn_pending(const struct ktlsaccel_conn *conn);
/* The socket, or -EINVAL for a NULL conn. */
int ktlsaccel_conn_fd(const struct ktlsaccel_conn *conn);
/* Frees the connection; does not close the socket. NULL is fine. */
void ktlsaccel_conn_free(struct ktlsaccel_conn *conn);

/* The message of this thread's last failed call (never NULL). */
const char *ktlsaccel_last_error(void);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif /* KTLSACCEL_H */

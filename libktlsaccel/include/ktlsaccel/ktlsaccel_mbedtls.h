/* SPDX-License-Identifier: MIT */
/*
 * libktlsaccel C API for Mbed TLS applications: after an Mbed TLS
 * handshake, the records go through kernel TLS.
 *
 *	mbedtls_ssl_config_defaults(&conf, ...);  ...
 *	ktlsaccel_mbedtls_prepare(&conf);		// before the handshake
 *	mbedtls_ssl_setup(&ssl, &conf);
 *	ktlsaccel_mbedtls_prepare_ssl(&ssl);		// needed on Mbed TLS 3.x
 *	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
 *	mbedtls_ssl_handshake(&ssl);
 *	struct ktlsaccel_conn *c;
 *	int err = ktlsaccel_mbedtls_offload(&ssl, net.fd, &c);
 *	if (err) fprintf(stderr, "%s\n", ktlsaccel_last_error());
 *	mbedtls_ssl_free(&ssl);				// no longer needed
 *	ktlsaccel_send(c, buf, len, 0); ...		// see ktlsaccel.h
 *
 * Or the library runs the Mbed TLS handshake, with one context shared by
 * every connection (certificates parsed once, TLS 1.2 sessions resumed):
 *
 *	struct ktlsaccel_options o = { .server = 1, .cert_file = "c.pem",
 *				       .key_file = "k.pem", .no_verify = 1 };
 *	struct ktlsaccel_mbedtls_ctx *ctx;
 *	ktlsaccel_mbedtls_ctx_new(&o, sizeof(o), &ctx);		// once
 *	ktlsaccel_mbedtls_handshake(ctx, fd, NULL, &c);		// per connection
 *
 * Every call returns 0 or -errno; ktlsaccel_last_error() then says why.
 */
#ifndef KTLSACCEL_MBEDTLS_H
#define KTLSACCEL_MBEDTLS_H
/* Exported from the shared library, which builds everything else hidden. */
#pragma GCC visibility push(default)

#include <ktlsaccel/ktlsaccel.h>

#include <mbedtls/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ktlsaccel_mbedtls_ctx;

/*
 * A context (ktlsaccel::mbedtls::context) from *opts (see ktlsaccel.h;
 * ca_file NULL: /etc/ssl/certs; allow_userspace_fallback is not offered).
 * size is sizeof(*opts). -EINVAL for a bad option or a file Mbed TLS
 * cannot read (the message says which).
 */
int ktlsaccel_mbedtls_ctx_new(const struct ktlsaccel_options *opts, size_t size,
			      struct ktlsaccel_mbedtls_ctx **ctxp);
/* Frees ctx; connections made with it do not need it. NULL is fine. */
void ktlsaccel_mbedtls_ctx_free(struct ktlsaccel_mbedtls_ctx *ctx);
/*
 * Runs the Mbed TLS handshake on the connected socket fd (blocking or
 * not) and hands the records to the kernel: *connp. server_name: a
 * client's name for this connection, NULL for the context's. -ETIMEDOUT
 * after the context's handshake timeout. Thread-safe for one ctx.
 */
int ktlsaccel_mbedtls_handshake(struct ktlsaccel_mbedtls_ctx *ctx, int fd, const char *server_name,
				struct ktlsaccel_conn **connp);

/* Before the handshake: turns renegotiation off; see ktlsaccel::mbedtls::prepare(). */
int ktlsaccel_mbedtls_prepare(mbedtls_ssl_config *conf);
/* After mbedtls_ssl_setup(), before the handshake (the hook is per context on 3.x). */
int ktlsaccel_mbedtls_prepare_ssl(mbedtls_ssl_context *ssl);

/*
 * After the handshake: installs the keys on fd and returns a connection in
 * *connp. The context and the socket stay the caller's. -EBUSY when Mbed
 * TLS holds bytes it has not processed (the context remains usable),
 * -EOPNOTSUPP for a cipher suite kTLS lacks.
 */
int ktlsaccel_mbedtls_offload(mbedtls_ssl_context *ssl, int fd, struct ktlsaccel_conn **connp);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif /* KTLSACCEL_MBEDTLS_H */

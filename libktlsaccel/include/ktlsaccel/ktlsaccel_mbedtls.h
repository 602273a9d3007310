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

/* SPDX-License-Identifier: MIT */
/*
 * An Mbed TLS client that hands its connection to kernel TLS.
 *
 *   ktlsaccel-example-mbedtls-client HOST PORT CA.pem "message"
 *
 * It sets up Mbed TLS as any application would, registers libktlsaccel's
 * key-export hook before the handshake, and after it gives the context to
 * libktlsaccel: from there the kernel encrypts and decrypts the records
 * (TLS 1.2 with AES-GCM or ChaCha20-Poly1305). It sends the message and
 * prints what comes back until the server closes.
 */
#include <ktlsaccel/ktlsaccel_mbedtls.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct ktlsaccel_conn *conn = NULL;
	mbedtls_net_context net;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	char buf[4096];
	ssize_t n;
	int err, ret = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: %s HOST PORT CA.pem MESSAGE\n", argv[0]);
		return 2;
	}
	mbedtls_net_init(&net);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_x509_crt_init(&ca);
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);

	if ((err = mbedtls_net_connect(&net, argv[1], argv[2], MBEDTLS_NET_PROTO_TCP)) ||
	    (err = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0)) ||
	    (err = mbedtls_x509_crt_parse_file(&ca, argv[3])) ||
	    (err = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
					       MBEDTLS_SSL_TRANSPORT_STREAM,
					       MBEDTLS_SSL_PRESET_DEFAULT)))
		goto err_mbedtls;
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);

	/* before the handshake: lets the library learn the keys */
	if (ktlsaccel_mbedtls_prepare(&conf) < 0)
		goto err_ktlsaccel;
	if ((err = mbedtls_ssl_setup(&ssl, &conf)) ||
	    (err = mbedtls_ssl_set_hostname(&ssl, argv[1])))
		goto err_mbedtls;
	if (ktlsaccel_mbedtls_prepare_ssl(&ssl) < 0)	/* per context on Mbed TLS 3.x */
		goto err_ktlsaccel;
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
	while ((err = mbedtls_ssl_handshake(&ssl)) != 0)
		if (err != MBEDTLS_ERR_SSL_WANT_READ && err != MBEDTLS_ERR_SSL_WANT_WRITE)
			goto err_mbedtls;

	/* after it: the kernel takes the records, Mbed TLS is done */
	err = ktlsaccel_mbedtls_offload(&ssl, net.fd, &conn);
	mbedtls_ssl_free(&ssl);		/* wipes Mbed TLS's copy of the keys */
	mbedtls_ssl_init(&ssl);
	if (err < 0)
		goto err_ktlsaccel;

	if (ktlsaccel_send(conn, argv[4], strlen(argv[4]), 0) < 0)
		goto err_ktlsaccel;
	/* close_notify: we send nothing more, but still read the reply */
	if (ktlsaccel_shutdown(conn) < 0)
		goto err_ktlsaccel;
	while ((n = ktlsaccel_recv(conn, buf, sizeof(buf), 0)) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n < 0)	/* 0: the server's close_notify, a clean end */
		goto err_ktlsaccel;
	ret = 0;
	goto out;

err_mbedtls:
	mbedtls_strerror(err, buf, sizeof(buf));
	fprintf(stderr, "mbedtls: %s\n", buf);
	goto out;
err_ktlsaccel:
	fprintf(stderr, "ktlsaccel: %s\n", ktlsaccel_last_error());
out:
	ktlsaccel_conn_free(conn);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	mbedtls_net_free(&net);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * An OpenSSL client that hands its connection to kernel TLS.
 *
 *   ktlsaccel-example-client HOST PORT CA.pem "message"
 *
 * It connects, runs the handshake with OpenSSL as any application would,
 * then gives the SSL to libktlsaccel: from there the kernel encrypts and
 * decrypts the records. It sends the message and prints what comes back
 * until the server closes.
 */
#include <ktlsaccel/ktlsaccel.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int tcp_connect(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *a;
	int fd = -1;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int main(int argc, char **argv)
{
	struct ktlsaccel_conn *conn = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char buf[4096];
	ssize_t n;
	int fd, err, ret = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: %s HOST PORT CA.pem MESSAGE\n", argv[0]);
		return 2;
	}
	fd = tcp_connect(argv[1], argv[2]);
	if (fd < 0) {
		fprintf(stderr, "cannot connect to %s:%s\n", argv[1], argv[2]);
		return 1;
	}

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1)
		goto err_openssl;
	ssl = SSL_new(ctx);
	/* before the handshake: lets the library follow it */
	if (ktlsaccel_prepare_ssl(ssl) < 0)
		goto err_ktlsaccel;
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, argv[1]);
	SSL_set1_host(ssl, argv[1]);
	if (SSL_connect(ssl) != 1)
		goto err_openssl;

	/* after it: the kernel takes the records, OpenSSL is done */
	err = ktlsaccel_offload_ssl(ssl, &conn);
	SSL_free(ssl);
	ssl = NULL;
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

err_openssl:
	ERR_print_errors_fp(stderr);
	goto out;
err_ktlsaccel:
	fprintf(stderr, "ktlsaccel: %s\n", ktlsaccel_last_error());
out:
	ktlsaccel_conn_free(conn);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return ret;
}

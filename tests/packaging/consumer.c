/* SPDX-License-Identifier: MIT */
/*
 * A program outside the tree, built only with
 *   cc consumer.c $(pkg-config --cflags --libs libktlsaccel)
 * against the installed libktlsaccel-dev. It runs an OpenSSL handshake over
 * a TCP loopback pair (server in a child process), hands both ends to the
 * kernel with ktlsaccel_offload_ssl(), sends 1 MiB client -> server through
 * kTLS and checks every byte on the server side, which answers "ok".
 *
 *   ktlsaccel-consumer-pc CERT.pem KEY.pem
 *
 * Exit 0 when the transfer was byte-exact and both ends had TLS_TX/TLS_RX
 * installed in the kernel.
 */
#include <ktlsaccel/ktlsaccel.h>

#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define TOTAL (1u << 20)

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 131u + (i >> 13));
}

/* The kernel holds TLS keys for this direction of the socket. */
static int kernel_has(int fd, int dir)
{
	struct tls12_crypto_info_aes_gcm_256 info;
	socklen_t len = sizeof(info);

	return getsockopt(fd, SOL_TLS, dir, &info, &len) == 0 &&
	       info.info.version != 0;
}

static struct ktlsaccel_conn *offload(SSL_CTX *ctx, int fd, int server)
{
	struct ktlsaccel_conn *conn = NULL;
	SSL *ssl = SSL_new(ctx);
	int ok;

	if (!ssl || ktlsaccel_prepare_ssl(ssl) < 0) {
		fprintf(stderr, "prepare: %s\n", ktlsaccel_last_error());
		return NULL;
	}
	SSL_set_fd(ssl, fd);
	if (!server) {
		SSL_set_tlsext_host_name(ssl, "localhost");
		SSL_set1_host(ssl, "localhost");
	}
	ok = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (ok != 1) {
		fprintf(stderr, "%s: TLS handshake failed\n", server ? "server" : "client");
		SSL_free(ssl);
		return NULL;
	}
	if (ktlsaccel_offload_ssl(ssl, &conn) < 0)
		fprintf(stderr, "offload: %s\n", ktlsaccel_last_error());
	SSL_free(ssl);
	if (conn && !(kernel_has(fd, TLS_TX) && kernel_has(fd, TLS_RX))) {
		fprintf(stderr, "offload returned, but the socket has no kTLS keys\n");
		ktlsaccel_conn_free(conn);
		return NULL;
	}
	return conn;
}

static int serve(int lfd, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static unsigned char buf[65536];
	struct ktlsaccel_conn *conn;
	size_t got = 0;
	int fd;

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "server: cannot load %s / %s\n", cert, key);
		return 1;
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return 1;
	conn = offload(ctx, fd, 1);
	if (!conn)
		return 1;
	while (got < TOTAL) {
		ssize_t n = ktlsaccel_recv(conn, buf, sizeof(buf), 0);

		if (n <= 0) {
			fprintf(stderr, "server: recv after %zu bytes: %s\n", got,
				n ? ktlsaccel_last_error() : "end of stream");
			return 1;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(got + i)) {
				fprintf(stderr, "server: byte %zu differs\n", got + i);
				return 1;
			}
		got += n;
	}
	if (ktlsaccel_send(conn, "ok", 2, 0) != 2)
		return 1;
	ktlsaccel_shutdown(conn);
	ktlsaccel_conn_free(conn);
	close(fd);
	SSL_CTX_free(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	static unsigned char buf[TOTAL];
	struct ktlsaccel_conn *conn;
	char reply[8];
	SSL_CTX *ctx;
	int lfd, fd, status;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: %s CERT.pem KEY.pem\n", argv[0]);
		return 2;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		perror("listen");
		return 1;
	}
	pid = fork();
	if (pid == 0)
		_exit(serve(lfd, argv[1], argv[2]));
	close(lfd);

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, argv[1], NULL) != 1)
		return 1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		return 1;
	}
	conn = offload(ctx, fd, 0);
	if (!conn)
		return 1;
	for (size_t i = 0; i < TOTAL; i++)
		buf[i] = pattern(i);
	for (size_t off = 0; off < TOTAL;) {
		size_t len = TOTAL - off < 65536 ? TOTAL - off : 65536;
		int more = off + len < TOTAL ? MSG_MORE : 0;
		ssize_t n = ktlsaccel_send(conn, buf + off, len, more);

		if (n <= 0) {
			fprintf(stderr, "client: send: %s\n", ktlsaccel_last_error());
			return 1;
		}
		off += n;
	}
	/*
	 * Only the first n bytes are the reply: the TLS 1.3 session tickets
	 * the server sent first were read through the same buffer.
	 */
	if (ktlsaccel_recv(conn, reply, sizeof(reply), 0) != 2 ||
	    memcmp(reply, "ok", 2) != 0) {
		fprintf(stderr, "client: no \"ok\" from the server: %s\n", ktlsaccel_last_error());
		return 1;
	}
	ktlsaccel_shutdown(conn);
	ktlsaccel_conn_free(conn);
	close(fd);
	SSL_CTX_free(ctx);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "server failed\n");
		return 1;
	}
	printf("consumer-pc: 1 MiB through kTLS, byte-exact\n");
	return 0;
}

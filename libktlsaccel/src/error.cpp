// SPDX-License-Identifier: MIT
#include <ktlsaccel/error.hpp>

#include "internal.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <string>

namespace ktlsaccel {
namespace {

class ktlsaccel_category final : public std::error_category {
public:
	const char *name() const noexcept override { return "ktlsaccel"; }

	std::string message(int v) const override
	{
		switch (static_cast<errc>(v)) {
		case errc::kernel_tls_unavailable:
			return "kernel TLS is not available (TCP_ULP \"tls\" refused: "
			       "load the tls module or use a kernel with CONFIG_TLS)";
		case errc::cipher_unsupported:
			return "the negotiated cipher suite has no kernel TLS equivalent "
			       "(use AES-GCM, ChaCha20-Poly1305 or AES-128-CCM)";
		case errc::kernel_cipher_unsupported:
			return "the kernel refused the keys for this cipher "
			       "(its crypto API lacks the AEAD, or kTLS does not support it)";
		case errc::pending_input:
			return "the TLS library has read bytes from the socket it has not processed "
			       "(OpenSSL: turn read-ahead off, SSL_set_read_ahead(ssl, 0), before the "
			       "handshake; Mbed TLS: finish the pending mbedtls_ssl_read() first)";
		case errc::ssl_not_prepared:
			return "the TLS session was not prepared before its handshake "
			       "(ktlsaccel_prepare_ssl() for OpenSSL, ktlsaccel_mbedtls_prepare() "
			       "for Mbed TLS)";
		case errc::ssl_not_ready:
			return "the SSL cannot be offloaded: its handshake is not finished, "
			       "or it renegotiated or updated keys";
		case errc::key_update_unsupported:
			return "TLS 1.3 KeyUpdate is not supported by this kernel "
			       "(kernel TLS rekeying needs Linux 6.14 or later)";
		case errc::bad_record_mac:
			return "a received TLS record failed authentication (bad_record_mac): "
			       "the data was corrupted or forged in transit";
		case errc::unexpected_message:
			return "the peer sent a TLS message that is not allowed here";
		case errc::handshake_failed:
			return "the TLS handshake failed";
		case errc::connection_closed:
			return "the TLS connection has failed or was shut down";
		case errc::unexpected_eof:
			return "the peer closed the connection without close_notify "
			       "(the data may have been truncated)";
		case errc::invalid_argument:
			return "invalid argument";
		case errc::record_size_limited:
			return "the peer limited the size of records (max_fragment_length), "
			       "and kernel TLS writes records of up to 16 KiB";
		case errc::record_padding:
			return "the SSL pads its TLS 1.3 records (a record padding callback or "
			       "block padding is set), which kernel TLS cannot do: remove the "
			       "padding before the handshake, or keep the connection in userspace";
		case errc::timeout:
			return "the TLS handshake did not finish within the handshake timeout "
			       "(the peer is silent or too slow)";
		}
		return "unknown ktlsaccel error";
	}

	std::error_condition default_error_condition(int v) const noexcept override
	{
		switch (static_cast<errc>(v)) {
		case errc::kernel_tls_unavailable:
			return std::errc::no_protocol_option;
		case errc::cipher_unsupported:
		case errc::kernel_cipher_unsupported:
		case errc::record_size_limited:
		case errc::record_padding:
			return std::errc::not_supported;
		case errc::pending_input:
			return std::errc::device_or_resource_busy;
		case errc::ssl_not_prepared:
		case errc::ssl_not_ready:
		case errc::invalid_argument:
			return std::errc::invalid_argument;
		case errc::key_update_unsupported:
			return std::errc::operation_not_supported;
		case errc::bad_record_mac:
			return std::errc::bad_message;
		case errc::unexpected_message:
		case errc::handshake_failed:
			return std::errc::protocol_error;
		case errc::connection_closed:
			return std::errc::broken_pipe;
		case errc::unexpected_eof:
			return std::errc::connection_reset;
		case errc::timeout:
			return std::errc::timed_out;
		}
		return std::errc::protocol_error;
	}
};

class alert_category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "tls-alert"; }
	std::string message(int v) const override
	{
		return "the peer sent a fatal TLS alert: " + std::string(alert_name(v)) +
		       " (" + std::to_string(v) + ")";
	}
	std::error_condition default_error_condition(int) const noexcept override
	{
		return std::errc::protocol_error;
	}
};

class openssl_category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "openssl"; }
	std::string message(int v) const override
	{
		char buf[256];
		ERR_error_string_n(static_cast<unsigned long>(v), buf, sizeof(buf));
		const char *reason = ERR_reason_error_string(static_cast<unsigned long>(v));
		return reason ? std::string("TLS handshake: ") + reason : std::string(buf);
	}
	std::error_condition default_error_condition(int) const noexcept override
	{
		return std::errc::protocol_error;
	}
};

class verify_category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "x509-verify"; }
	std::string message(int v) const override
	{
		return std::string("certificate verification failed: ") +
		       X509_verify_cert_error_string(v);
	}
	std::error_condition default_error_condition(int) const noexcept override
	{
		return std::errc::permission_denied;
	}
};

} // namespace

const std::error_category &category() noexcept
{
	static const ktlsaccel_category c;
	return c;
}

const std::error_category &alert_category() noexcept
{
	static const alert_category_impl c;
	return c;
}

const std::error_category &openssl_category() noexcept
{
	static const openssl_category_impl c;
	return c;
}

const std::error_category &verify_category() noexcept
{
	static const verify_category_impl c;
	return c;
}

namespace detail {

std::error_code openssl_error(errc fallback)
{
	unsigned long e = ERR_peek_last_error();
	ERR_clear_error();
	if (!e)
		return make_error_code(fallback);
	/* a TLS alert the peer sent during the handshake: name it */
	int reason = ERR_GET_REASON(e);
	if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
	    reason < SSL_AD_REASON_OFFSET + 256)
		return {reason - SSL_AD_REASON_OFFSET, alert_category()};
	if (ERR_SYSTEM_ERROR(e))
		return {ERR_GET_REASON(e), std::system_category()};
	return {static_cast<int>(e & 0x7fffffffUL), openssl_category()};
}

} // namespace detail

int error_to_errno(const std::error_code &ec) noexcept
{
	if (!ec)
		return 0;
	if (ec.category() == std::system_category() || ec.category() == std::generic_category())
		return ec.value();
	auto cond = ec.default_error_condition();
	if (cond.category() == std::generic_category())
		return cond.value();
	return EPROTO;
}

std::string_view alert_name(unsigned int d) noexcept
{
	switch (d) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 100: return "no_renegotiation";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	case 113: return "bad_certificate_status_response";
	case 115: return "unknown_psk_identity";
	case 116: return "certificate_required";
	case 120: return "no_application_protocol";
	}
	return "unknown";
}

} // namespace ktlsaccel

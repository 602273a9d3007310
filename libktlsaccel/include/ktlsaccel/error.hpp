// SPDX-License-Identifier: MIT
//
// Errors of libktlsaccel. Every call returns std::expected<T, std::error_code>
// (ktlsaccel::result<T>). Categories carry the detail a person needs to act on:
//
//   std::system_category()     errno from the kernel (setsockopt, send, recv)
//   ktlsaccel::category()      conditions of this library (ktlsaccel::errc)
//   ktlsaccel::alert_category()  a TLS alert the peer sent; value = AlertDescription
//   ktlsaccel::openssl_category() an OpenSSL error (ERR_get_error() code) or,
//                              for certificate problems, see verify_category()
//   ktlsaccel::verify_category() X509_V_ERR_* from certificate verification
//   ktlsaccel::control::category() the control client's (control.hpp,
//                              libktlsaccel-control): control::errc
//
// Every code maps to a std::errc condition, so `ec == std::errc::bad_message`
// works, and error_to_errno() gives the errno the C API returns.
#pragma once
// Exported from the shared library; the library builds everything else
// hidden (-fvisibility=hidden).
#pragma GCC visibility push(default)

#include <expected>
#include <system_error>
#include <string_view>

namespace ktlsaccel {

// What every call of the library family returns (ktlsaccel.hpp,
// control.hpp, mbedtls.hpp).
template <typename T>
using result = std::expected<T, std::error_code>;

enum class errc {
	kernel_tls_unavailable = 1,	// TCP_ULP "tls" refused: no kTLS in this kernel
	cipher_unsupported,		// negotiated cipher suite has no kTLS equivalent
	kernel_cipher_unsupported,	// the kernel refused the keys for this cipher
	pending_input,			// OpenSSL holds unprocessed bytes read from the socket
	ssl_not_prepared,		// ssl_prepare() was not called before the handshake
	ssl_not_ready,			// handshake not finished, or keys changed since
	key_update_unsupported,		// KeyUpdate needs kTLS rekey (Linux 6.14+)
	bad_record_mac,			// a received record failed authentication
	unexpected_message,		// the peer sent a message not allowed here
	handshake_failed,		// the TLS handshake failed (see the log for detail)
	connection_closed,		// the connection already failed or was shut down
	unexpected_eof,			// TCP closed without close_notify: data may be cut
	invalid_argument,		// bad option or argument
	record_size_limited,		// the peer limited record sizes: kTLS writes 16 KiB
	record_padding,			// the TLS library pads records: kTLS cannot
	timeout,			// the handshake did not finish in time
};

const std::error_category &category() noexcept;
const std::error_category &alert_category() noexcept;
const std::error_category &openssl_category() noexcept;
const std::error_category &verify_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept
{
	return {static_cast<int>(e), category()};
}

// The errno (positive) that best describes ec: its own value for system
// errors, otherwise the errno of its std::errc condition (EPROTO if none).
int error_to_errno(const std::error_code &ec) noexcept;

// RFC 8446 §6 name of an AlertDescription ("bad_record_mac"), or "unknown".
std::string_view alert_name(unsigned int description) noexcept;

} // namespace ktlsaccel

template <>
struct std::is_error_code_enum<ktlsaccel::errc> : std::true_type {};

#pragma GCC visibility pop

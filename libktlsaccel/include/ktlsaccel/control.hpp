// SPDX-License-Identifier: MIT
//
// ktlsaccel/control.hpp: a client of the "ktlsaccel" generic netlink family
// (uapi/linux/ktlsaccel.h), with typed results. Applications read their own
// statistics with it; the ktlsaccel(8) CLI is built on it.
//
//	auto client = ktlsaccel::control::client::open();
//	if (!client)
//		std::cerr << ktlsaccel::control::describe(client.error()) << '\n';
//	else if (auto dev = client->get_device())
//		std::cout << dev->stats.completed << " records\n";
//	else
//		std::cerr << ktlsaccel::control::describe(dev.error(), client->extack()) << '\n';
//
// Every call returns ktlsaccel::result<T> (error.hpp), std::expected<T,
// std::error_code> like the TLS API: errno in std::system_category(), or a
// control::errc. When the kernel refused a request with a reason (its
// extended ack), client::extack() has the text until the next call.
#pragma once
// Exported from the shared library; the library builds everything else
// hidden (-fvisibility=hidden).
#pragma GCC visibility push(default)

#include <ktlsaccel/error.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

struct nl_sock;

namespace ktlsaccel::control {

// ---- errors ----------------------------------------------------------------

// Failures that have no errno of their own. Each maps to a std::errc
// condition (no_such_device, protocol_error, timed_out), so portable
// comparisons such as `ec == std::errc::timed_out` hold.
enum class errc {
	not_loaded = 1,	// no "ktlsaccel" generic netlink family: module not loaded
	protocol,	// a reply the client cannot make sense of
	timeout,	// nothing arrived in time (monitor::wait)
};

const std::error_category &category() noexcept;

inline std::error_code make_error_code(errc e) noexcept
{
	return {static_cast<int>(e), category()};
}

// One line for people: "ktlsaccel is not loaded: insmod ktlsaccel.ko" for
// errc::not_loaded, else "<extack>: <message>" (just the message without
// an extack), with a CAP_NET_ADMIN hint for EPERM.
std::string describe(const std::error_code &ec, std::string_view extack = {});

} // namespace ktlsaccel::control

template <> struct std::is_error_code_enum<ktlsaccel::control::errc> : std::true_type {};

namespace ktlsaccel::control {

// ---- what the family reports -------------------------------------------------

inline constexpr std::size_t latency_buckets = 24;	// KTLSACCEL_LATENCY_BUCKETS

enum class dispatch_policy : std::uint32_t { spread = 0, flow = 1 };
enum class decrypt_policy : std::uint32_t { inline_ = 0, async = 1 };
enum class inline_policy : std::uint32_t { auto_ = 0, never = 1 };
enum class backend_mode : std::uint32_t { auto_ = 0, cpu = 1, driver = 2 };
enum class fault_ops : std::uint32_t { none = 0, decrypt = 1, encrypt = 2, both = 3 };
enum class flow_direction : std::uint32_t { none = 0, tx = 1, rx = 2, both = 3 };

// Names as in ktlsaccel.yaml ("spread", "inline", "both", ...); "?" if unknown.
std::string_view to_string(dispatch_policy d) noexcept;
std::string_view to_string(decrypt_policy d) noexcept;
std::string_view to_string(inline_policy p) noexcept;
std::string_view to_string(backend_mode m) noexcept;
std::string_view to_string(fault_ops o) noexcept;
std::string_view to_string(flow_direction d) noexcept;

// The counters of a KTLSACCEL_A_*_STATS nest.
struct stats {
	std::uint64_t submitted = 0;
	std::uint64_t completed = 0;
	std::uint64_t errors = 0;
	std::uint64_t backlogged = 0;
	std::uint64_t rejected = 0;
	std::uint64_t inlined = 0;
	std::uint64_t faults = 0;
	std::uint64_t bytes = 0;
	std::uint32_t in_flight = 0;	// gauge
	std::uint32_t max_in_flight = 0;
	// Why requests counted in `inlined` ran in the caller's context.
	std::uint64_t inline_waiter = 0;	// the caller waits for the result anyway
	std::uint64_t inline_lone = 0;		// a record nothing could overlap
	std::uint64_t inline_full = 0;		// full ring, caller may not be backlogged
	std::uint64_t inline_policy = 0;	// the decrypt policy or the inline threshold
	// Completions held back until an earlier request of the flow completed.
	std::uint64_t held = 0;
	// latency[i] counts requests that took [2^i, 2^(i+1)) us (i = 0: < 2 us).
	std::array<std::uint64_t, latency_buckets> latency{};

	std::uint64_t latency_samples() const noexcept;
	// The latency (us) below which a fraction q (0..1) of the samples fell,
	// interpolated linearly inside the log2 bucket that holds it; nullopt
	// when there are no samples.
	std::optional<double> latency_quantile_us(double q) const noexcept;
	std::optional<double> p50_us() const noexcept { return latency_quantile_us(0.50); }
	std::optional<double> p99_us() const noexcept { return latency_quantile_us(0.99); }

	// Counters of `now` minus `before` (what happened in between). A
	// counter that went backwards (reset, queues rebuilt) counts from zero.
	// Gauges (in_flight, max_in_flight) are taken from `now`.
	static stats delta(const stats &now, const stats &before) noexcept;
};

struct fault {
	std::uint32_t rate = 0;		// failed requests per million
	std::uint32_t error = 0;	// EBADMSG or EIO (positive); 0: none set
	fault_ops ops = fault_ops::none;
	std::uint32_t delay_us = 0;
	std::optional<std::uint32_t> stall_queue;

	bool active() const noexcept { return rate || delay_us || stall_queue; }
};

// Where one algorithm's requests run (a KTLSACCEL_A_DEV_BACKEND nest).
struct backend {
	std::string alg;			// crypto API name, e.g. "gcm(aes)"
	backend_mode mode = backend_mode::auto_;	// what was asked for
	std::string driver;			// the card new tfms use; empty: the CPU
};

// KTLSACCEL_CMD_DEV_GET reply (and KTLSACCEL_CMD_DEV_CHANGE_NTF).
// (Members named like their type spell the type control::T.)
struct device_info {
	std::uint32_t priority = 0;
	std::uint32_t queues = 0;
	std::uint32_t depth = 0;
	dispatch_policy dispatch = dispatch_policy::spread;
	std::uint32_t latency_us = 0;
	std::uint64_t throughput = 0;	// bytes/s per queue, 0: no cap
	std::uint32_t inline_threshold = 0;
	decrypt_policy decrypt = decrypt_policy::inline_;
	std::uint32_t flows = 0;
	inline_policy inline_mode = inline_policy::auto_;
	std::vector<backend> backends;	// one per algorithm
	control::fault fault;
	control::stats stats;
};

struct queue_info {
	std::uint32_t index = 0;
	std::uint32_t ring = 0;
	std::uint32_t backlog = 0;
	control::stats stats;
};

struct flow_info {
	std::uint64_t id = 0;
	std::uint32_t pid = 0;
	std::string comm;
	std::string alg;
	std::uint32_t key_bits = 0;
	flow_direction direction = flow_direction::none;
	control::stats stats;
	std::string backend;	// "cpu" or the card's driver; empty: not reported
};

// ---- what may be changed -------------------------------------------------------

// One KTLSACCEL_A_DEV_BACKEND nest of a DEV_SET; driver only with mode driver.
struct backend_change {
	std::string alg;
	backend_mode mode = backend_mode::auto_;
	std::string driver;

	bool operator==(const backend_change &) const = default;
};

// KTLSACCEL_CMD_DEV_SET: what is set is sent; at least one must be.
struct config_change {
	std::optional<std::uint32_t> queues;
	std::optional<std::uint32_t> depth;
	std::optional<dispatch_policy> dispatch;
	std::optional<std::uint32_t> latency_us;
	std::optional<std::uint64_t> throughput;
	std::optional<std::uint32_t> inline_threshold;
	std::optional<decrypt_policy> decrypt;
	std::optional<inline_policy> inline_mode;
	std::vector<backend_change> backends;

	bool empty() const noexcept
	{
		return !queues && !depth && !dispatch && !latency_us && !throughput &&
		       !inline_threshold && !decrypt && !inline_mode && backends.empty();
	}
};

// KTLSACCEL_CMD_FAULT_SET: what is absent stays as it is.
struct fault_change {
	std::optional<std::uint32_t> rate;
	std::optional<std::uint32_t> error;	// EBADMSG or EIO
	std::optional<fault_ops> ops;
	std::optional<std::uint32_t> delay_us;
	std::optional<std::uint32_t> stall_queue;

	bool empty() const noexcept
	{
		return !rate && !error && !ops && !delay_us && !stall_queue;
	}
};

// enum ktlsaccel_reset: what client::reset_stats() zeroes.
enum reset_mask : std::uint32_t {
	reset_engine = 1u << 0,
	reset_flows = 1u << 1,
	reset_all = reset_engine | reset_flows,
};

// ---- the client ------------------------------------------------------------------

} // namespace ktlsaccel::control

namespace ktlsaccel::detail {
// Freed through a function pointer (nl_socket_free), not a deleter class:
// the destructor a program inlines calls libnl through it, so the library
// exports nothing of its own for it.
using nl_sock_ptr = std::unique_ptr<nl_sock, void (*)(nl_sock *)>;
} // namespace ktlsaccel::detail

namespace ktlsaccel::control {

// One generic netlink socket bound to the family. Move-only; not thread-safe
// (use one per thread).
class client {
public:
	// Connects and resolves the family; errc::not_loaded if absent.
	static result<client> open();

	result<device_info> get_device();
	result<std::vector<queue_info>> dump_queues();
	result<std::vector<flow_info>> dump_flows();

	// The changes need CAP_NET_ADMIN (std::errc::operation_not_permitted).
	result<void> set_config(const config_change &change);
	result<void> set_fault(const fault_change &change);
	result<void> clear_fault();
	result<void> reset_stats(std::uint32_t mask = reset_all);

	// Why the last call failed, in words: the kernel's extended ack
	// (NLMSGERR_ATTR_MSG, e.g. "mode driver needs a driver"), or what
	// the client knows of a failure that came without one. Empty after
	// a call that succeeded. For describe().
	std::string_view extack() const noexcept { return extack_; }

	int family_id() const noexcept { return family_; }

private:
	client(detail::nl_sock_ptr sk, int family) : sk_(std::move(sk)), family_(family) {}
	detail::nl_sock_ptr sk_;
	int family_ = 0;
	std::string extack_;
};

// A socket in the "config" multicast group: receives one device_info per
// KTLSACCEL_CMD_DEV_CHANGE_NTF (the configuration after each change).
class monitor {
public:
	static result<monitor> open();

	// The next notification; errc::timeout if none arrived within
	// `timeout` (a negative timeout, or one past the range of the steady
	// clock such as milliseconds::max(), waits for ever).
	// std::errc::no_buffer_space (ENOBUFS) when some were lost (the
	// reader was too slow); the monitor stays usable.
	result<device_info> wait(std::chrono::milliseconds timeout);
	// For callers that poll() several descriptors.
	int fd() const noexcept;

private:
	monitor(detail::nl_sock_ptr sk, int family) : sk_(std::move(sk)), family_(family) {}
	detail::nl_sock_ptr sk_;
	int family_ = 0;
	std::vector<device_info> pending_;	// received but not yet returned
};

} // namespace ktlsaccel::control

#pragma GCC visibility pop

// SPDX-License-Identifier: MIT
//
// ktlsaccel/control.hpp: a client of the "ktlsaccel" generic netlink family
// (uapi/linux/ktlsaccel.h), with typed results. Applications read their own
// statistics with it; the ktlsaccel(8) CLI is built on it.
//
//	auto client = ktlsaccel::ControlClient::open();
//	if (!client)
//		std::cerr << client.error().message() << '\n';
//	else if (auto dev = client->get_device())
//		std::cout << dev->stats.completed << " records\n";
//
// Every call returns std::expected<T, ktlsaccel::Error>. An Error carries a
// std::error_code (errno in std::system_category(), or ControlErrc) and the
// text of the kernel's extended ack when it sent one.
#pragma once
// Exported from the shared library; the library builds everything else
// hidden (-fvisibility=hidden).
#pragma GCC visibility push(default)

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

namespace ktlsaccel {

// ---- errors ----------------------------------------------------------------

// Failures that have no errno of their own.
enum class ControlErrc {
	not_loaded = 1,	// no "ktlsaccel" generic netlink family: module not loaded
	protocol,	// a reply the client cannot make sense of
	timeout,	// nothing arrived in time (ConfigMonitor::wait)
};
const std::error_category &control_category() noexcept;
std::error_code make_error_code(ControlErrc e) noexcept;

} // namespace ktlsaccel

template <> struct std::is_error_code_enum<ktlsaccel::ControlErrc> : std::true_type {};

namespace ktlsaccel {

struct Error {
	std::error_code code;
	std::string extack;	// the kernel's NLMSGERR_ATTR_MSG, if any

	bool not_loaded() const noexcept { return code == ControlErrc::not_loaded; }
	bool not_permitted() const noexcept
	{
		return code == std::errc::operation_not_permitted;
	}
	// One line for people: "ktlsaccel is not loaded: insmod ktlsaccel.ko",
	// a CAP_NET_ADMIN hint for EPERM, else "<extack>: <strerror>".
	std::string message() const;
};

template <class T> using Result = std::expected<T, Error>;

// ---- what the family reports -------------------------------------------------

inline constexpr std::size_t kLatencyBuckets = 24;	// KTLSACCEL_LATENCY_BUCKETS

enum class Dispatch : std::uint32_t { spread = 0, flow = 1 };
enum class Decrypt : std::uint32_t { inline_ = 0, async = 1 };
enum class FaultOps : std::uint32_t { none = 0, decrypt = 1, encrypt = 2, both = 3 };
enum class Direction : std::uint32_t { none = 0, tx = 1, rx = 2, both = 3 };
enum class InlineMode : std::uint32_t { auto_ = 0, never = 1 };
enum class BackendMode : std::uint32_t { auto_ = 0, cpu = 1, driver = 2 };

// Names as in ktlsaccel.yaml ("spread", "inline", "both", ...); "?" if unknown.
std::string_view to_string(Dispatch d) noexcept;
std::string_view to_string(Decrypt d) noexcept;
std::string_view to_string(FaultOps o) noexcept;
std::string_view to_string(Direction d) noexcept;
std::string_view to_string(InlineMode m) noexcept;
std::string_view to_string(BackendMode m) noexcept;

// The counters of a KTLSACCEL_A_*_STATS nest.
struct Stats {
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
	std::array<std::uint64_t, kLatencyBuckets> latency{};

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
	static Stats delta(const Stats &now, const Stats &before) noexcept;
};

struct Fault {
	std::uint32_t rate = 0;		// failed requests per million
	std::uint32_t error = 0;	// EBADMSG or EIO (positive); 0: none set
	FaultOps ops = FaultOps::none;
	std::uint32_t delay_us = 0;
	std::optional<std::uint32_t> stall_queue;

	bool active() const noexcept { return rate || delay_us || stall_queue; }
};

// Where one algorithm's requests run (a KTLSACCEL_A_DEV_BACKEND nest).
struct Backend {
	std::string alg;			// crypto API name, e.g. "gcm(aes)"
	BackendMode mode = BackendMode::auto_;	// what was asked for
	std::string driver;			// the card new tfms use; empty: the CPU
};

// KTLSACCEL_CMD_DEV_GET reply (and KTLSACCEL_CMD_DEV_CHANGE_NTF).
struct DeviceInfo {
	std::uint32_t priority = 0;
	std::uint32_t queues = 0;
	std::uint32_t depth = 0;
	Dispatch dispatch = Dispatch::spread;
	std::uint32_t latency_us = 0;
	std::uint64_t throughput = 0;	// bytes/s per queue, 0: no cap
	std::uint32_t inline_threshold = 0;
	Decrypt decrypt = Decrypt::inline_;
	std::uint32_t flows = 0;
	InlineMode inline_mode = InlineMode::auto_;
	std::vector<Backend> backends;	// one per algorithm
	Fault fault;
	Stats stats;
};

struct QueueInfo {
	std::uint32_t index = 0;
	std::uint32_t ring = 0;
	std::uint32_t backlog = 0;
	Stats stats;
};

struct FlowInfo {
	std::uint64_t id = 0;
	std::uint32_t pid = 0;
	std::string comm;
	std::string alg;
	std::uint32_t key_bits = 0;
	Direction direction = Direction::none;
	Stats stats;
	std::string backend;	// "cpu" or the card's driver; empty: not reported
};

// ---- what may be changed -------------------------------------------------------

// One KTLSACCEL_A_DEV_BACKEND nest of a DEV_SET; driver only with mode driver.
struct BackendChange {
	std::string alg;
	BackendMode mode = BackendMode::auto_;
	std::string driver;

	bool operator==(const BackendChange &) const = default;
};

// KTLSACCEL_CMD_DEV_SET: what is set is sent; at least one must be.
struct ConfigChange {
	std::optional<std::uint32_t> queues;
	std::optional<std::uint32_t> depth;
	std::optional<Dispatch> dispatch;
	std::optional<std::uint32_t> latency_us;
	std::optional<std::uint64_t> throughput;
	std::optional<std::uint32_t> inline_threshold;
	std::optional<Decrypt> decrypt;
	std::optional<InlineMode> inline_mode;
	std::vector<BackendChange> backends;

	bool empty() const noexcept
	{
		return !queues && !depth && !dispatch && !latency_us && !throughput &&
		       !inline_threshold && !decrypt && !inline_mode && backends.empty();
	}
};

// KTLSACCEL_CMD_FAULT_SET: what is absent stays as it is.
struct FaultChange {
	std::optional<std::uint32_t> rate;
	std::optional<std::uint32_t> error;	// EBADMSG or EIO
	std::optional<FaultOps> ops;
	std::optional<std::uint32_t> delay_us;
	std::optional<std::uint32_t> stall_queue;

	bool empty() const noexcept
	{
		return !rate && !error && !ops && !delay_us && !stall_queue;
	}
};

// enum ktlsaccel_reset
enum ResetMask : std::uint32_t {
	reset_engine = 1u << 0,
	reset_flows = 1u << 1,
	reset_all = reset_engine | reset_flows,
};

// ---- the client ------------------------------------------------------------------

namespace detail {
// Freed through a function pointer (nl_socket_free), not a deleter class:
// the destructor a program inlines calls libnl through it, so the library
// exports nothing of its own for it.
using NlSock = std::unique_ptr<nl_sock, void (*)(nl_sock *)>;
} // namespace detail

// One generic netlink socket bound to the family. Move-only; not thread-safe
// (use one per thread).
class ControlClient {
public:
	// Connects and resolves the family; ControlErrc::not_loaded if absent.
	static Result<ControlClient> open();

	Result<DeviceInfo> get_device();
	Result<std::vector<QueueInfo>> dump_queues();
	Result<std::vector<FlowInfo>> dump_flows();

	// The changes need CAP_NET_ADMIN (std::errc::operation_not_permitted).
	Result<void> set_config(const ConfigChange &change);
	Result<void> set_fault(const FaultChange &change);
	Result<void> clear_fault();
	Result<void> reset_stats(std::uint32_t mask = reset_all);

	int family_id() const noexcept { return family_; }

private:
	ControlClient(detail::NlSock sk, int family) : sk_(std::move(sk)), family_(family) {}
	detail::NlSock sk_;
	int family_ = 0;
};

// A socket in the "config" multicast group: receives one DeviceInfo per
// KTLSACCEL_CMD_DEV_CHANGE_NTF (the configuration after each change).
class ConfigMonitor {
public:
	static Result<ConfigMonitor> open();

	// The next notification; ControlErrc::timeout if none arrived within
	// `timeout` (a negative timeout, or one past the range of the steady
	// clock such as milliseconds::max(), waits for ever). ENOBUFS when some were
	// lost (the reader was too slow); the monitor stays usable.
	Result<DeviceInfo> wait(std::chrono::milliseconds timeout);
	// For callers that poll() several descriptors.
	int fd() const noexcept;

private:
	ConfigMonitor(detail::NlSock sk, int family) : sk_(std::move(sk)), family_(family) {}
	detail::NlSock sk_;
	int family_ = 0;
	std::vector<DeviceInfo> pending_;	// received but not yet returned
};

} // namespace ktlsaccel

#pragma GCC visibility pop

// SPDX-License-Identifier: MIT
#include <testsupport/module.hpp>

#include <ktlsaccel/control.hpp>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace ktlsaccel::testsupport {

namespace {

const char *const module_name = "ktlsaccel";
const char *const drivers[] = {
	"ktlsaccel-gcm-aes",
	"ktlsaccel-rfc7539-chacha20-poly1305",
	"ktlsaccel-ccm-aes",
};

fs::path param_path(const std::string &name)
{
	return fs::path("/sys/module") / module_name / "parameters" / name;
}

} // namespace

std::string read_file(const fs::path &p)
{
	std::ifstream f(p);
	if (!f)
		throw std::runtime_error("cannot read " + p.string());
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

std::string module_driver(cipher c)
{
	switch (c) {
	case cipher::aes_128_gcm:
	case cipher::aes_256_gcm: return drivers[0];
	case cipher::chacha20_poly1305: return drivers[1];
	case cipher::aes_128_ccm: return drivers[2];
	}
	return "?";
}

bool module_loaded()
{
	return fs::exists(fs::path("/sys/module") / module_name);
}

/*
 * /proc/crypto lists an algorithm under test as a "larval" entry with the
 * same driver name, and the real entry says "selftest: passed" once its
 * test succeeded.
 */
void wait_for_selftests()
{
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(300);
	for (;;) {
		std::string all = read_file("/proc/crypto");
		bool done = true;
		std::istringstream in(all);
		std::string block, line;
		std::vector<std::string> blocks;
		while (std::getline(in, line)) {
			if (line.empty()) {
				blocks.push_back(block);
				block.clear();
			} else {
				block += line + "\n";
			}
		}
		for (const char *d : drivers) {
			bool passed = false;
			for (const auto &b : blocks) {
				if (b.find(std::string(": ") + d + "\n") == std::string::npos)
					continue;
				if (b.find("larval") != std::string::npos)
					done = false;
				else if (b.find("selftest     : passed") != std::string::npos)
					passed = true;
			}
			done = done && passed;
		}
		if (done)
			return;
		if (std::chrono::steady_clock::now() > until)
			throw std::runtime_error("self-tests of ktlsaccel did not finish:\n" + all);
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
}

/* What insmod does for an uncompressed module, without a shell or kmod. */
void load_module(const fs::path &ko, const std::string &params)
{
	int fd = ::open(ko.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw std::system_error(errno, std::system_category(), "open " + ko.string());
	long ret = ::syscall(SYS_finit_module, fd, params.c_str(), 0);
	int err = errno;
	::close(fd);
	if (ret != 0)
		throw std::system_error(err, std::system_category(),
					"insmod " + ko.string() + (params.empty() ? "" : " " + params));
	wait_for_selftests();
}

bool unload_module()
{
	for (int i = 0; i < 100; i++) {
		if (!module_loaded())
			return true;
		/* rmmod's flags: fail at once (EWOULDBLOCK) while in use */
		if (::syscall(SYS_delete_module, module_name, O_NONBLOCK) == 0)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	return !module_loaded();
}

std::string get_param(const std::string &name)
{
	std::string s = read_file(param_path(name));
	while (!s.empty() && s.back() == '\n')
		s.pop_back();
	return s;
}

namespace {

template <class T> T number(const std::string &name, const std::string &v)
{
	T out{};
	auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
	if (ec != std::errc() || p != v.data() + v.size())
		throw std::runtime_error(name + "=" + v + ": not a number");
	return out;
}

control::client open_client()
{
	auto c = control::client::open();
	if (!c)
		throw std::runtime_error("netlink: " + control::describe(c.error()));
	return std::move(*c);
}

// Throws what the kernel said when `r`, the last call of `c`, failed.
void check(const control::client &c, const result<void> &r, const std::string &what)
{
	if (!r)
		throw std::runtime_error(what + ": " + control::describe(r.error(), c.extack()));
}

} // namespace

void set_knobs(const std::string &assignments)
{
	control::config_change dev;
	control::fault_change fault;
	bool unstall = false;
	std::istringstream in(assignments);
	for (std::string kv; in >> kv;) {
		auto eq = kv.find('=');
		if (eq == std::string::npos)
			throw std::runtime_error("'" + kv + "' is not name=value");
		std::string n = kv.substr(0, eq), v = kv.substr(eq + 1);
		if (n == "queues")
			dev.queues = number<std::uint32_t>(n, v);
		else if (n == "depth")
			dev.depth = number<std::uint32_t>(n, v);
		else if (n == "latency_us")
			dev.latency_us = number<std::uint32_t>(n, v);
		else if (n == "throughput")
			dev.throughput = number<std::uint64_t>(n, v);
		else if (n == "inline_threshold")
			dev.inline_threshold = number<std::uint32_t>(n, v);
		else if (n == "dispatch" && (v == "spread" || v == "flow"))
			dev.dispatch = v == "flow" ? control::dispatch_policy::flow
						   : control::dispatch_policy::spread;
		else if (n == "decrypt" && (v == "inline" || v == "async"))
			dev.decrypt = v == "async" ? control::decrypt_policy::async
						   : control::decrypt_policy::inline_;
		else if (n == "fault_rate")
			fault.rate = number<std::uint32_t>(n, v);
		else if (n == "fault_errno")
			fault.error = number<std::uint32_t>(n, v);
		else if (n == "fault_ops" && (v == "decrypt" || v == "encrypt" || v == "both"))
			fault.ops = v == "decrypt"   ? control::fault_ops::decrypt
				    : v == "encrypt" ? control::fault_ops::encrypt
						     : control::fault_ops::both;
		else if (n == "fault_delay_us")
			fault.delay_us = number<std::uint32_t>(n, v);
		else if (n == "fault_stall_queue" && v == "-1")
			unstall = true;
		else if (n == "fault_stall_queue")
			fault.stall_queue = number<std::uint32_t>(n, v);
		else
			throw std::runtime_error("'" + kv + "': no such setting or value");
	}
	auto c = open_client();
	if (!dev.empty())
		check(c, c.set_config(dev), "set " + assignments);
	if (unstall) {
		/* No attribute says "no stalled queue": clear, then put back the rest. */
		auto d = c.get_device();
		if (!d)
			throw std::runtime_error("netlink: " + control::describe(d.error(), c.extack()));
		check(c, c.clear_fault(), "fault clear");
		const control::fault &f = d->fault;
		if (!fault.rate && f.rate)
			fault.rate = f.rate;
		if (!fault.error && f.error)
			fault.error = f.error;
		if (!fault.ops && f.ops != control::fault_ops::none)
			fault.ops = f.ops;
		if (!fault.delay_us && f.delay_us)
			fault.delay_us = f.delay_us;
		if (fault.stall_queue)
			throw std::runtime_error("fault_stall_queue given twice");
	}
	if (!fault.empty())
		check(c, c.set_fault(fault), "fault " + assignments);
}

void set_knob(const std::string &name, const std::string &value)
{
	set_knobs(name + "=" + value);
}

std::string get_knob(const std::string &name)
{
	auto c = open_client();
	auto d = c.get_device();
	if (!d)
		throw std::runtime_error("netlink: " + control::describe(d.error(), c.extack()));
	const control::fault &f = d->fault;
	if (name == "queues")
		return std::to_string(d->queues);
	if (name == "depth")
		return std::to_string(d->depth);
	if (name == "latency_us")
		return std::to_string(d->latency_us);
	if (name == "throughput")
		return std::to_string(d->throughput);
	if (name == "inline_threshold")
		return std::to_string(d->inline_threshold);
	if (name == "dispatch")
		return std::string(to_string(d->dispatch));
	if (name == "decrypt")
		return std::string(to_string(d->decrypt));
	if (name == "fault_rate")
		return std::to_string(f.rate);
	if (name == "fault_errno")
		return std::to_string(f.error);
	if (name == "fault_ops")
		return std::string(to_string(f.ops));
	if (name == "fault_delay_us")
		return std::to_string(f.delay_us);
	if (name == "fault_stall_queue")
		return f.stall_queue ? std::to_string(*f.stall_queue) : "-1";
	throw std::runtime_error("no setting " + name);
}

} // namespace ktlsaccel::testsupport

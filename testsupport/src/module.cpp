// SPDX-License-Identifier: MIT
#include <testsupport/module.hpp>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
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

void set_param(const std::string &name, const std::string &value)
{
	std::ofstream f(param_path(name));
	f << value;
	f.flush();
	if (!f)
		throw std::runtime_error("cannot set module parameter " + name + "=" + value);
}

std::string get_param(const std::string &name)
{
	std::string s = read_file(param_path(name));
	while (!s.empty() && s.back() == '\n')
		s.pop_back();
	return s;
}

} // namespace ktlsaccel::testsupport

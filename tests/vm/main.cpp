// SPDX-License-Identifier: MIT
//
// main() of the in-guest test binary: GoogleTest plus a listener that reads
// the kernel log (/dev/kmsg) around every test and fails the test when a
// new line matches tests/kernel-log-patterns.txt.

#include "vm.h"
#include "kernel_log.h"

#include <gtest/gtest.h>

#include <sys/utsname.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace fs = std::filesystem;

namespace ktlsaccel::vmtest {

static fs::path env_path(const char *name)
{
	const char *v = std::getenv(name);
	if (!v || !*v)
		throw std::runtime_error(std::string(name) + " is not set (run under scripts/vm-run)");
	return v;
}

fs::path build_dir() { return env_path("KTLSACCEL_BUILD_DIR"); }
fs::path source_dir() { return env_path("KTLSACCEL_SOURCE_DIR"); }

std::string kernel_release()
{
	struct utsname u {};
	uname(&u);
	return u.release;
}

fs::path module_path(std::string_view name)
{
	return build_dir() / "kmod" / kernel_release() / (std::string(name) + ".ko");
}

command_result run(const std::string &command)
{
	std::string full = "exec 2>&1; " + command;
	FILE *p = popen(full.c_str(), "r");
	if (!p)
		return {127, "popen failed"};
	std::string out;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		out.append(buf, n);
	int st = pclose(p);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return {code, out};
}

std::string check_output(const std::string &command)
{
	auto r = run(command);
	if (r.status != 0)
		throw std::runtime_error("command failed (" + std::to_string(r.status) +
					 "): " + command + "\n" + r.output);
	return r.output;
}

bool kernel_log_line_is_bad(std::string_view line)
{
	static const ktlsaccel::testutil::KernelLogPatterns patterns(
		source_dir() / "tests" / "kernel-log-patterns.txt");
	return patterns.is_bad(line);
}

namespace {

// Reads /dev/kmsg from where the previous test left off.
class KernelLogListener : public testing::EmptyTestEventListener {
public:
	KernelLogListener()
	{
		fd_ = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd_ >= 0)
			lseek(fd_, 0, SEEK_END);
	}
	~KernelLogListener() override
	{
		if (fd_ >= 0)
			close(fd_);
	}

	void OnTestEnd(const testing::TestInfo &) override
	{
		if (fd_ < 0)
			return;
		std::string bad;
		char rec[8192];
		for (;;) {
			ssize_t n = read(fd_, rec, sizeof(rec) - 1);
			if (n < 0 && errno == EPIPE)
				continue; /* overwritten records: keep reading */
			if (n <= 0)
				break;
			rec[n] = '\0';
			/* "prio,seq,time,flags;message\n" plus continuation lines */
			std::string_view r(rec, n);
			auto semi = r.find(';');
			std::string_view msg = semi == r.npos ? r : r.substr(semi + 1);
			auto nl = msg.find('\n');
			if (nl != msg.npos)
				msg = msg.substr(0, nl);
			if (kernel_log_line_is_bad(msg))
				bad.append(msg).append("\n");
		}
		if (!bad.empty())
			ADD_FAILURE() << "the kernel log shows a problem during this test:\n" << bad;
	}

private:
	int fd_ = -1;
};

} // namespace
} // namespace ktlsaccel::vmtest

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	/*
	 * gtest still attributes failures to the test during OnTestEnd; put the
	 * log listener ahead of the printer so "[  FAILED  ]" reflects it.
	 */
	auto &listeners = testing::UnitTest::GetInstance()->listeners();
	auto *printer = listeners.Release(listeners.default_result_printer());
	listeners.Append(new ktlsaccel::vmtest::KernelLogListener);
	if (printer)
		listeners.Append(printer);
	return RUN_ALL_TESTS();
}

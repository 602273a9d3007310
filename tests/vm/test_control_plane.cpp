// SPDX-License-Identifier: MIT
//
// One control plane: netlink is the only way to change ktlsaccel at run
// time. Every run-time setting set through netlink is read back (DEV_GET)
// and announced to the "config" group (DEV_CHANGE_NTF); the module's
// parameters and its debugfs files take no writes; and a DEV_SET that
// drains old queues does not hold the genetlink mutex that every other
// family waits for (CTRL_CMD_GETFAMILY of "nlctrl" answers meanwhile).

#include "control_util.h"
#include "module_util.h"

#include <ktlsaccel/control.hpp>
#include <testsupport/fd.hpp>

#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

using namespace ktlsaccel::vmtest;
namespace fs = std::filesystem;

namespace {

/* A setting of a DEV_CHANGE_NTF (a control::device_info), in get_knob()'s words. */
std::string knob_of(const ktlsaccel::control::device_info &d, const std::string &name)
{
	const auto &f = d.fault;
	if (name == "queues")
		return std::to_string(d.queues);
	if (name == "depth")
		return std::to_string(d.depth);
	if (name == "latency_us")
		return std::to_string(d.latency_us);
	if (name == "throughput")
		return std::to_string(d.throughput);
	if (name == "inline_threshold")
		return std::to_string(d.inline_threshold);
	if (name == "dispatch")
		return std::string(ktlsaccel::control::to_string(d.dispatch));
	if (name == "decrypt")
		return std::string(ktlsaccel::control::to_string(d.decrypt));
	if (name == "fault_rate")
		return std::to_string(f.rate);
	if (name == "fault_errno")
		return std::to_string(f.error);
	if (name == "fault_ops")
		return std::string(ktlsaccel::control::to_string(f.ops));
	if (name == "fault_delay_us")
		return std::to_string(f.delay_us);
	if (name == "fault_stall_queue")
		return f.stall_queue ? std::to_string(*f.stall_queue) : "-1";
	return "?";
}

/* CTRL_CMD_GETFAMILY for @name on a socket of its own; 0 or errno. */
int resolve_family(const char *name)
{
	ktlsaccel::testsupport::unique_fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC));
	if (fd.get() < 0)
		return errno;
	timeval tv{60, 0};
	setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	std::vector<std::uint8_t> msg(NLMSG_SPACE(GENL_HDRLEN) + NLA_ALIGN(NLA_HDRLEN + std::strlen(name) + 1));
	auto *nlh = reinterpret_cast<nlmsghdr *>(msg.data());
	nlh->nlmsg_len = static_cast<std::uint32_t>(msg.size());
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = 1;
	auto *g = reinterpret_cast<genlmsghdr *>(NLMSG_DATA(nlh));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	auto *a = reinterpret_cast<nlattr *>(msg.data() + NLMSG_SPACE(GENL_HDRLEN));
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + std::strlen(name) + 1);
	std::memcpy(reinterpret_cast<char *>(a) + NLA_HDRLEN, name, std::strlen(name) + 1);
	sockaddr_nl kernel{};
	kernel.nl_family = AF_NETLINK;
	if (sendto(fd.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr *>(&kernel),
		   sizeof(kernel)) < 0)
		return errno;
	std::vector<std::uint8_t> buf(16384);
	ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
	if (n < 0)
		return errno;
	auto *r = reinterpret_cast<nlmsghdr *>(buf.data());
	if (!NLMSG_OK(r, static_cast<int>(n)))
		return EPROTO;
	if (r->nlmsg_type == NLMSG_ERROR)
		return -reinterpret_cast<nlmsgerr *>(NLMSG_DATA(r))->error;
	return r->nlmsg_type == GENL_ID_CTRL ? 0 : EPROTO;
}

/* Requests of this process's flows on the rings now (debugfs: no netlink). */
std::uint64_t own_in_flight()
{
	std::uint64_t n = 0;
	for (const auto &f : flow_stats())
		if (f.at("pid") == std::to_string(getpid()))
			n += num(f, "in_flight");
	return n;
}

} // namespace

TEST(ControlPlane, EveryRuntimeSettingSetThroughNetlinkIsReadBackAndNotified)
{
	loaded_module mod("queues=2 depth=16");
	auto monitor = ktlsaccel::control::monitor::open();
	ASSERT_TRUE(monitor) << monitor.error().message();
	/* Each differs from the load-time value, so a change is a change. */
	const std::vector<std::pair<std::string, std::string>> settings = {
		{"dispatch", "flow"},       {"inline_threshold", "512"}, {"decrypt", "async"},
		{"queues", "3"},            {"depth", "32"},             {"latency_us", "50"},
		{"throughput", "2000000"},  {"fault_errno", "5"},        {"fault_ops", "both"},
		{"fault_rate", "1234"},     {"fault_delay_us", "7"},     {"fault_stall_queue", "2"},
		{"fault_stall_queue", "-1"}, {"fault_rate", "0"},         {"fault_delay_us", "0"},
		{"dispatch", "spread"},     {"decrypt", "inline"},
	};
	for (const auto &[name, value] : settings) {
		ASSERT_NO_THROW(set_knob(name, value)) << name << "=" << value;
		EXPECT_EQ(get_knob(name), value) << "DEV_GET after " << name << "=" << value;
		/* One notification per change (a stall cleared takes two). */
		bool seen = false;
		for (int i = 0; i < 3 && !seen; i++) {
			auto d = monitor->wait(std::chrono::seconds(10));
			if (!d)
				break;
			seen = knob_of(*d, name) == value;
		}
		EXPECT_TRUE(seen) << "no DEV_CHANGE_NTF showing " << name << "=" << value;
	}
	/* What was not changed last is still what was set. */
	EXPECT_EQ(get_knob("fault_errno"), "5");
	EXPECT_EQ(get_knob("fault_ops"), "both");
	EXPECT_EQ(get_knob("queues"), "3");
}

TEST(ControlPlane, SettingsOutOfRangeAreRefusedByNetlinkAndChangeNothing)
{
	loaded_module mod("queues=2 depth=16");
	for (const char *bad : {"queues=0", "queues=257", "depth=65537", "latency_us=10000001",
				"fault_rate=1000001", "fault_delay_us=10000001", "fault_errno=22",
				"fault_stall_queue=2", "fault_stall_queue=256"})
		EXPECT_THROW(ktlsaccel::testsupport::set_knobs(bad), std::runtime_error) << bad;
	EXPECT_EQ(get_knob("queues"), "2");
	EXPECT_EQ(get_knob("depth"), "16");
	EXPECT_EQ(get_knob("fault_rate"), "0");
	EXPECT_EQ(get_knob("fault_stall_queue"), "-1");
}

/* Needs the module parameters at 0444 (the configuration rework). */
TEST(ControlPlane, ModuleParametersRefuseWritesAtRunTime)
{
	loaded_module mod;
	const fs::path dir = "/sys/module/ktlsaccel/parameters";
	int files = 0;
	for (const auto &e : fs::directory_iterator(dir)) {
		files++;
		struct stat st {};
		ASSERT_EQ(stat(e.path().c_str(), &st), 0) << e.path();
		EXPECT_EQ(st.st_mode & 0222, 0u) << e.path() << " is writable";
		/* Root passes permission checks; the kernel must still refuse. */
		int fd = open(e.path().c_str(), O_WRONLY | O_CLOEXEC);
		int err = errno;
		if (fd >= 0) {
			ssize_t n = write(fd, "1", 1);
			err = n < 0 ? errno : 0;
			close(fd);
		}
		EXPECT_TRUE(err == EACCES || err == EPERM)
			<< e.path() << ": a write got " << (err ? std::strerror(err) : "through");
	}
	EXPECT_GE(files, 5);
}

TEST(ControlPlane, DebugfsIsReadOnly)
{
	loaded_module mod;
	const fs::path dir = "/sys/kernel/debug/ktlsaccel";
	ASSERT_TRUE(fs::exists(dir));
	EXPECT_FALSE(fs::exists(dir / "reconfigure"));
	int files = 0;
	for (const auto &e : fs::directory_iterator(dir)) {
		files++;
		struct stat st {};
		ASSERT_EQ(stat(e.path().c_str(), &st), 0) << e.path();
		EXPECT_EQ(st.st_mode & 0222, 0u) << e.path() << " is writable";
		int fd = open(e.path().c_str(), O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		EXPECT_LT(write(fd, "queues=1\n", 9), 0) << e.path() << " took a write";
		close(fd);
	}
	EXPECT_EQ(files, 3) << "engine, queues, flows";
	EXPECT_FALSE(ktlsaccel::testsupport::read_file(dir / "engine").empty());
}

/*
 * Requests wait on a stalled queue; a DEV_SET replaces the queues and
 * drains the old ones (a drain ignores the stall), running the requests one
 * after another. Once the first of them completed (the handler is running)
 * "nlctrl" is resolved; if the family held genl_mutex, that could only be
 * answered after the last one. So requests still in flight after the answer
 * prove it did not wait. Every request must finish either way.
 */
TEST(ControlPlane, DevSetDrainingQueuesDoesNotBlockAnotherFamily)
{
	constexpr int kRequests = 96;
	const bytes key(32, 0x42), iv(12, 0x24), aad(13, 0x17), pt(32 * 1024, 0x5a);
	const bytes want = openssl_gcm_encrypt(key, iv, aad, pt);
	loaded_module mod("queues=1 depth=128 inline_mode=never");
	ASSERT_NO_THROW(set_knob("fault_stall_queue", "0"));

	/* af_alg and algif_aead loaded once, not by 96 threads at once */
	ASSERT_NO_THROW(aead("ktlsaccel-gcm-aes"));
	std::atomic<int> good{0}, bad{0};
	std::vector<std::thread> clients;
	for (int i = 0; i < kRequests; i++)
		clients.emplace_back([&] {
			try {
				aead a("ktlsaccel-gcm-aes");
				bytes out;
				if (a.setkey(key) == 0 && a.encrypt(iv, aad, pt, 16, out) == 0 &&
				    out == want)
					good++;
				else
					bad++;
			} catch (const std::exception &) {
				bad++;
			}
		});
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
	while (own_in_flight() < kRequests && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	ASSERT_EQ(own_in_flight(), std::uint64_t(kRequests)) << "the requests did not reach the stalled queue";

	std::atomic<bool> set_done{false};
	std::string set_error;
	std::thread setter([&] {
		try {
			set_knob("queues", "2");
		} catch (const std::exception &e) {
			set_error = e.what();
		}
		set_done = true;
	});
	std::uint64_t before = kRequests;
	while ((before = own_in_flight()) == std::uint64_t(kRequests) && !set_done)
		std::this_thread::yield();

	int err = resolve_family("nlctrl");
	std::uint64_t left = own_in_flight();
	bool set_was_done = set_done;
	setter.join();
	for (auto &t : clients)
		t.join();

	EXPECT_EQ(set_error, "");
	EXPECT_EQ(err, 0) << "CTRL_CMD_GETFAMILY: " << std::strerror(err);
	std::printf("drain: %llu of %d requests left when the drain was seen, %llu when nlctrl answered%s\n",
		    static_cast<unsigned long long>(before), kRequests,
		    static_cast<unsigned long long>(left), set_was_done ? " (DEV_SET already back)" : "");
	EXPECT_GT(left, 0u) << "nlctrl answered only once the DEV_SET had drained every request: "
			       "the family holds genl_mutex";
	EXPECT_FALSE(set_was_done);
	EXPECT_EQ(good, kRequests);
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(get_knob("queues"), "2");
}

// SPDX-License-Identifier: MIT
//
// The flow dump (KTLSACCEL_CMD_FLOW_GET) lists every live tfm exactly once,
// also when many are created at the same time on several CPUs and when
// there are thousands (the dump then takes many messages and resumes by
// id); and a reader without CAP_NET_ADMIN sees who created its own flows
// only. The debugfs flows file, read by root, is the reference.

#include "control_util.h"
#include "module_util.h"

#include <ktlsaccel/control.hpp>
#include <testsupport/fd.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <linux/genetlink.h>
#include <linux/if_alg.h>
#include <linux/ktlsaccel.h>
#include <linux/netlink.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace testsupport = ktlsaccel::testsupport;

using namespace ktlsaccel::vmtest;

namespace {

std::set<std::uint64_t> debugfs_flow_ids(pid_t pid)
{
	std::set<std::uint64_t> ids;
	for (const auto &f : flow_stats())
		if (f.at("pid") == std::to_string(pid))
			ids.insert(num(f, "flow"));
	return ids;
}

} // namespace

TEST(ControlFlows, DumpListsEveryFlowOfTfmsCreatedConcurrently)
{
	loaded_module module;
	constexpr int threads = 8, per_thread = 24, rounds = 10;
	const pid_t pid = getpid();
	int incomplete = 0;

	for (int round = 0; round < rounds; round++) {
		/* Each AF_ALG handle binds one tfm of the module's gcm(aes). */
		std::vector<std::vector<std::unique_ptr<aead>>> handles(threads);
		std::atomic<int> ready{0};
		std::vector<std::thread> workers;
		for (int t = 0; t < threads; t++) {
			workers.emplace_back([&, t] {
				ready++;
				while (ready < threads)
					std::this_thread::yield();
				for (int i = 0; i < per_thread; i++)
					handles[t].push_back(std::make_unique<aead>("ktlsaccel-gcm-aes"));
			});
		}
		for (auto &w : workers)
			w.join();

		auto reference = debugfs_flow_ids(pid);
		ASSERT_EQ(reference.size(), std::size_t(threads * per_thread));

		auto ctl = ktlsaccel::control::client::open();
		ASSERT_TRUE(ctl) << ctl.error().message();
		auto flows = ctl->dump_flows();
		ASSERT_TRUE(flows) << flows.error().message();
		std::set<std::uint64_t> dumped;
		for (const auto &f : *flows)
			if (f.pid == static_cast<std::uint32_t>(pid))
				dumped.insert(f.id);
		if (dumped != reference)
			incomplete++;
		EXPECT_EQ(dumped, reference)
			<< "round " << round << ": the dump lists " << dumped.size() << " of "
			<< reference.size() << " flows";
	}
	std::printf("%d of %d rounds dumped an incomplete flow list\n", incomplete, rounds);
}

namespace {

/* What a reader got for one flow, straight from the attributes. */
struct raw_flow {
	std::uint64_t id = 0;
	bool has_pid = false, has_comm = false;
	std::uint32_t pid = 0;
};

struct raw_dump {
	std::vector<raw_flow> flows;
	int datagrams = 0;	/* recv()s with part of the dump: > 1 means it resumed */
	int multi = 0;		/* messages flagged NLM_F_MULTI */
	std::string error;
};

/* A FLOW_GET dump on a socket of its own, opened now (by whoever we are now). */
raw_dump dump_flows_raw()
{
	raw_dump d;
	auto ctl = ktlsaccel::control::client::open();
	if (!ctl) {
		d.error = ctl.error().message();
		return d;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0) {
		d.error = std::strerror(errno);
		return d;
	}
	timeval tv{60, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct {
		nlmsghdr n;
		genlmsghdr g;
	} req{};
	req.n.nlmsg_len = sizeof(req);
	req.n.nlmsg_type = static_cast<std::uint16_t>(ctl->family_id());
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.n.nlmsg_seq = 7;
	req.g.cmd = KTLSACCEL_CMD_FLOW_GET;
	req.g.version = KTLSACCEL_GENL_VERSION;
	sockaddr_nl kernel{};
	kernel.nl_family = AF_NETLINK;
	if (sendto(fd, &req, sizeof(req), 0, reinterpret_cast<sockaddr *>(&kernel), sizeof(kernel)) < 0) {
		d.error = std::strerror(errno);
		close(fd);
		return d;
	}
	std::vector<std::uint8_t> buf(1 << 16);
	for (bool done = false; !done;) {
		ssize_t n = recv(fd, buf.data(), buf.size(), 0);
		if (n < 0) {
			d.error = std::string("recv: ") + std::strerror(errno);
			break;
		}
		d.datagrams++;
		int len = static_cast<int>(n);
		for (auto *nlh = reinterpret_cast<nlmsghdr *>(buf.data()); NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				d.error = std::strerror(-reinterpret_cast<nlmsgerr *>(NLMSG_DATA(nlh))->error);
				done = true;
				break;
			}
			if (nlh->nlmsg_flags & NLM_F_MULTI)
				d.multi++;
			raw_flow f;
			auto *a = reinterpret_cast<nlattr *>(static_cast<std::uint8_t *>(NLMSG_DATA(nlh)) +
							     GENL_HDRLEN);
			int alen = static_cast<int>(nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN));
			for (; alen >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= alen;
			     alen -= NLA_ALIGN(a->nla_len),
			     a = reinterpret_cast<nlattr *>(reinterpret_cast<char *>(a) + NLA_ALIGN(a->nla_len))) {
				const void *p = reinterpret_cast<char *>(a) + NLA_HDRLEN;
				switch (a->nla_type & NLA_TYPE_MASK) {
				case KTLSACCEL_A_FLOW_ID:
					std::memcpy(&f.id, p, sizeof(f.id));
					break;
				case KTLSACCEL_A_FLOW_PID:
					f.has_pid = true;
					std::memcpy(&f.pid, p, sizeof(f.pid));
					break;
				case KTLSACCEL_A_FLOW_COMM:
					f.has_comm = true;
					break;
				}
			}
			d.flows.push_back(f);
		}
	}
	close(fd);
	return d;
}

/* A tfm of the module's gcm(aes): bind() makes it; one fd per flow. */
int alg_socket()
{
	int fd = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sockaddr_alg sa{};
	sa.salg_family = AF_ALG;
	std::strcpy(reinterpret_cast<char *>(sa.salg_type), "aead");
	std::strcpy(reinterpret_cast<char *>(sa.salg_name), "ktlsaccel-gcm-aes");
	if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* The ids of this process's flows, from debugfs (read in one go, as root). */
std::set<std::uint64_t> own_debugfs_ids()
{
	return debugfs_flow_ids(getpid());
}

} // namespace

TEST(ControlFlows, DumpOfThousandsOfFlowsListsEachOnceAndResumesAcrossMessages)
{
	constexpr int kFlows = 3000;
	loaded_module module;
	rlimit rl{};
	getrlimit(RLIMIT_NOFILE, &rl);
	const rlimit saved = rl;
	rl.rlim_cur = rl.rlim_max = std::max<rlim_t>(rl.rlim_max, kFlows + 512);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0) << std::strerror(errno);

	std::vector<testsupport::unique_fd> fds;
	for (int i = 0; i < kFlows; i++) {
		int fd = alg_socket();
		ASSERT_GE(fd, 0) << "flow " << i << ": " << std::strerror(-fd);
		fds.emplace_back(fd);
	}
	auto reference = own_debugfs_ids();
	ASSERT_EQ(reference.size(), std::size_t(kFlows));

	auto ctl = ktlsaccel::control::client::open();
	ASSERT_TRUE(ctl) << ctl.error().message();
	auto dev = ctl->get_device();
	ASSERT_TRUE(dev) << dev.error().message();
	EXPECT_GE(dev->flows, std::uint32_t(kFlows)) << "DEV_GET's count";

	auto d = dump_flows_raw();
	ASSERT_EQ(d.error, "");
	std::map<std::uint64_t, int> times;
	std::uint64_t last = 0;
	bool ordered = true;
	int ours_with_pid = 0;
	for (const auto &f : d.flows) {
		times[f.id]++;
		ordered = ordered && f.id > last;
		last = f.id;
		if (reference.count(f.id) && f.has_pid && f.pid == static_cast<std::uint32_t>(getpid()))
			ours_with_pid++;
	}
	std::set<std::uint64_t> dumped;
	for (const auto &[id, n] : times) {
		EXPECT_EQ(n, 1) << "flow " << id << " listed " << n << " times";
		if (reference.count(id))
			dumped.insert(id);
	}
	EXPECT_EQ(dumped, reference) << "the dump lists " << dumped.size() << " of " << kFlows;
	EXPECT_TRUE(ordered) << "flows not in increasing id order";
	EXPECT_EQ(ours_with_pid, kFlows) << "root (CAP_NET_ADMIN) sees every pid";
	EXPECT_GT(d.datagrams, 1) << "one message held them all: the dump never resumed";
	EXPECT_EQ(d.multi, int(d.flows.size()));
	std::printf("%zu flows in %d datagrams\n", d.flows.size(), d.datagrams);

	/* The library's dump agrees. */
	auto lib = ctl->dump_flows();
	ASSERT_TRUE(lib) << lib.error().message();
	EXPECT_GE(lib->size(), std::size_t(kFlows));

	fds.clear();
	setrlimit(RLIMIT_NOFILE, &saved);
	dev = ctl->get_device();
	ASSERT_TRUE(dev);
	EXPECT_LT(dev->flows, std::uint32_t(kFlows)) << "the count did not come down";
}

TEST(ControlFlows, UnprivilegedReaderSeesOwnersOfItsOwnFlowsOnly)
{
	loaded_module module;
	std::vector<testsupport::unique_fd> roots;
	for (int i = 0; i < 4; i++) {
		int fd = alg_socket();
		ASSERT_GE(fd, 0) << std::strerror(-fd);
		roots.emplace_back(fd);
	}
	auto root_ids = own_debugfs_ids();
	ASSERT_EQ(root_ids.size(), 4u);

	int pipefd[2];
	ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		/* nobody: no capabilities left after leaving uid 0 */
		std::string out;
		if (setgroups(0, nullptr) || setgid(65534) || setuid(65534)) {
			out = std::string("cannot become nobody: ") + std::strerror(errno);
		} else {
			int mine[3];
			for (int &fd : mine)
				fd = alg_socket();
			auto d = dump_flows_raw();
			int own_seen = 0, others_seen = 0, others_hidden = 0;
			for (const auto &f : d.flows) {
				if (root_ids.count(f.id)) {
					(f.has_pid || f.has_comm ? others_seen : others_hidden)++;
				} else if (f.has_pid && f.pid == static_cast<std::uint32_t>(getpid()) &&
					   f.has_comm) {
					own_seen++;
				}
			}
			if (!d.error.empty())
				out += "dump: " + d.error + "\n";
			if (mine[0] < 0)
				out += std::string("AF_ALG as nobody: ") + std::strerror(-mine[0]) + "\n";
			if (others_seen)
				out += std::to_string(others_seen) + " of root's flows showed pid or comm\n";
			if (others_hidden != 4)
				out += "root's flows listed without owner: " + std::to_string(others_hidden) + " of 4\n";
			if (own_seen != 3)
				out += "own flows with pid and comm: " + std::to_string(own_seen) + " of 3\n";
		}
		(void)!write(pipefd[1], out.data(), out.size());
		_exit(0);
	}
	close(pipefd[1]);
	std::string report;
	char buf[512];
	for (ssize_t n; (n = read(pipefd[0], buf, sizeof(buf))) > 0;)
		report.append(buf, static_cast<std::size_t>(n));
	close(pipefd[0]);
	int status = 0;
	ASSERT_EQ(waitpid(child, &status, 0), child);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(report, "");

	/* root still sees the owner of every flow */
	auto d = dump_flows_raw();
	ASSERT_EQ(d.error, "");
	int with_pid = 0;
	for (const auto &f : d.flows)
		with_pid += root_ids.count(f.id) && f.has_pid && f.has_comm;
	EXPECT_EQ(with_pid, 4);
}

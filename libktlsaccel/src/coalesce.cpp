// SPDX-License-Identifier: MIT
//
// Send coalescing: closing kTLS's open record, and the one timer thread
// per process that closes the records of connections that went quiet.
#include "coalesce.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <thread>

namespace ktlsaccel::detail {

namespace {

constexpr std::uint8_t record_application_data = 23;

/*
 * Held in a deliberately leaked object: the thread may still run while
 * static destructors do at exit.
 */
class flush_timer {
public:
	static flush_timer &get()
	{
		static flush_timer *t = new flush_timer;
		return *t;
	}

	std::error_code start()
	{
		std::lock_guard lock(m_);
		return start_locked();
	}

	void arm(const std::shared_ptr<held_record> &r, steady::time_point when)
	{
		std::lock_guard lock(m_);
		/* a child of fork() has no thread yet: the record then waits for a call */
		(void)start_locked();
		bool first = queue_.empty() || when < queue_.begin()->first;
		queue_.emplace(when, r);
		if (first)
			cv_.notify_one();
	}

private:
	std::error_code start_locked()
	{
		if (pid_ == ::getpid())
			return {};
		/* signals are the application's threads' business, not ours */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		std::error_code ec;
		try {
			std::thread([this] { run(); }).detach();
			pid_ = ::getpid();
		} catch (const std::system_error &e) {
			ec = e.code();
		}
		pthread_sigmask(SIG_SETMASK, &old, nullptr);
		return ec;
	}

	void run()
	{
		std::unique_lock lock(m_);
		for (;;) {
			if (queue_.empty()) {
				cv_.wait(lock);
				continue;
			}
			auto it = queue_.begin();
			if (steady::now() < it->first) {
				cv_.wait_until(lock, it->first);
				continue;
			}
			auto r = it->second.lock();
			queue_.erase(it);
			if (!r)
				continue;
			lock.unlock();
			visit(*r, r);
			lock.lock();
		}
	}

	/* Called without m_; takes r.m, then m_ to queue it again. */
	void visit(held_record &r, const std::shared_ptr<held_record> &self)
	{
		std::lock_guard g(r.m);
		if (r.fd < 0 || !r.open || !r.timer) {
			r.queued = false;
			return;
		}
		auto now = steady::now();
		/* a later send() moved the deadline */
		if (now < r.deadline()) {
			requeue(self, r.deadline());
			return;
		}
		/*
		 * A send() in progress holds tx: it is not quiet, and its
		 * socket may be full; look again a delay later.
		 */
		std::unique_lock tx(*r.tx, std::try_to_lock);
		if (!tx.owns_lock()) {
			requeue(self, now + r.max_delay);
			return;
		}
		(void)r.close_locked();
		r.queued = false;
	}

	void requeue(const std::shared_ptr<held_record> &r, steady::time_point when)
	{
		std::lock_guard lock(m_);
		queue_.emplace(when, r);
	}

	std::mutex m_;
	std::condition_variable cv_;
	std::multimap<steady::time_point, std::weak_ptr<held_record>> queue_;
	pid_t pid_ = 0;
};

} // namespace

std::error_code close_open_record(int fd)
{
	for (;;) {
		if (send_typed(fd, record_application_data, {}, MSG_DONTWAIT) >= 0)
			return {};
		int e = errno;
		if (e == EINTR)
			continue;
		/*
		 * EINPROGRESS: an asynchronous crypto driver took the record.
		 * kTLS waited for it before returning, but an empty sendmsg()
		 * has no byte count to hide the push's -EINPROGRESS behind.
		 */
		if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS)
			return {};
		return errno_error(e);
	}
}

void held_record::note_open(const std::shared_ptr<held_record> &self, steady::time_point now)
{
	held_record &r = *self;
	r.open = true;
	r.last = now;
	if (r.timer && !r.queued) {
		r.queued = true;
		flush_timer::get().arm(self, r.deadline());
	}
}

std::error_code start_flush_timer()
{
	return flush_timer::get().start();
}

} // namespace ktlsaccel::detail

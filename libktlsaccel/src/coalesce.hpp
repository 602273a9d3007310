// SPDX-License-Identifier: MIT
//
// Private to libktlsaccel: send coalescing's record held open in kTLS
// (connection::set_coalescing()), and the timer thread that closes the
// records of connections that went quiet.
#pragma once

#include "internal.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <system_error>

namespace ktlsaccel::detail {

using steady = std::chrono::steady_clock;

// Closes kTLS's open record on fd, if there is one. An empty sendmsg()
// that names a record type makes kTLS push its open record first, as it
// does before any control record, on every kernel with kTLS (an empty
// send() does so only from Linux 6.5 on). Never waits for socket space:
// kTLS queues a closed record the socket has no room for and sends it as
// room frees, so EAGAIN means closed here; so does EINPROGRESS, which
// kTLS returns when an asynchronous crypto driver took the record.
KTLSACCEL_LOCAL std::error_code close_open_record(int fd);

/*
 * One connection's coalescing state, shared with the timer thread, which
 * may outlive the connection: the connection sets fd to -1 (under m)
 * before it goes, and no one touches the socket after that.
 *
 * Locks: a sender holds the connection's tx_mutex, then m, then the
 * timer's queue lock; whoever holds m only try_locks *tx. The timer
 * thread never waits for a sender: a sender blocked on a full socket
 * would stop every connection's timer.
 */
struct KTLSACCEL_LOCAL held_record {
	std::mutex m;
	// read without a lock by recv(); written under *tx and m
	std::atomic<bool> enabled{false};
	int fd = -1;
	std::mutex *tx = nullptr;	// the connection's tx_mutex
	steady::duration max_delay{};
	bool timer = false;
	bool open = false;		// a send() may have left the record open
	bool queued = false;		// in the timer thread's queue
	steady::time_point last{};	// the last send() that left it open
	/*
	 * Request/response: a record that recv() closes holding one write
	 * bought nothing but a second sendmsg() and kTLS's copy. After
	 * `answered_to_send` such records in a row, the first send() after
	 * each recv() goes out at once; a second send() before the next
	 * recv() is a burst, and holds records again.
	 */
	static constexpr unsigned int answered_to_send = 2;
	unsigned int writes_held = 0;	// send()s in the open record
	unsigned int answered = 0;	// records recv() closed, one write each, in a row
	unsigned int sends_since_recv = 0;

	steady::time_point deadline() const { return last + max_delay; }

	// The caller holds m. Closes the record if open; errors are the
	// socket's (the next send() sees them too).
	std::error_code close_locked()
	{
		writes_held = 0;
		if (!open || fd < 0)
			return {};
		open = false;
		return close_open_record(fd);
	}
	// The caller holds m and sends next: whether this send() holds the
	// record open (MSG_MORE) or writes at once (request/response).
	bool hold_this_send()
	{
		if (++sends_since_recv > 1)
			answered = 0;
		return answered < answered_to_send;
	}
	// The caller holds m; recv() is about to wait for an answer.
	std::error_code close_for_recv()
	{
		sends_since_recv = 0;
		if (open)
			answered = writes_held == 1 ? answered + 1 : 0;
		return close_locked();
	}
	// The caller holds m, after a send() that may have left the record
	// open at `now`: starts (or moves) its deadline.
	static void note_open(const std::shared_ptr<held_record> &self, steady::time_point now);
};

// Starts the timer thread of this process if it is not running (again,
// after fork()): errors come back to set_coalescing().
KTLSACCEL_LOCAL std::error_code start_flush_timer();

} // namespace ktlsaccel::detail

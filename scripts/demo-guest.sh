#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The story scripts/demo tells, run where kernel modules can be loaded: in
# the guest it boots, or on the host with `scripts/demo --host`.
#
#   1. load ktlsaccel.ko with a deep-pipeline card's settings, `ktlsaccel show`
#   2. a server and a client: OpenSSL handshake through libktlsaccel, then
#      kTLS moves the payload, checked byte by byte
#   3. what the engine saw: queues, records in flight, latency
#   4. the same transfer with the module unloaded (the kernel's own AEAD),
#      and both side by side
#   (5. the same with the Mbed TLS handshake, when ktlsaccel-perf has it)
#   6. the same with a card: the test card module, the engine in front of it
#
# usage: demo-guest.sh BUILD_DIR [OUT_FILE]   (default: standard output)
# env:   DEMO_BYTES (default 8M), DEMO_ROUNDS (default 3: each side is run
#        that many times, interleaved, and the median is shown),
#        DEMO_VERBOSE=1 (print the commands)
set -euo pipefail
build=${1:?usage: demo-guest.sh BUILD_DIR [OUT_FILE]}
[[ -n ${2:-} ]] && exec > "$2" 2>&1
exec 3>&1	# --verbose prints commands here, whatever their own output
bytes=${DEMO_BYTES:-8M}
rounds=${DEMO_ROUNDS:-3}
verbose=${DEMO_VERBOSE:-0}
# A deep-pipeline card: 4 queues of 256 slots, 500 us from submission to
# completion. Latency is set after loading (kmod/README.md: load-time
# latency also slows the kernel's self-tests of the algorithms).
card_load=(queues=4 depth=256)
card_set=(latency-us 500)

kver=$(uname -r)
ko=$build/kmod/$kver/ktlsaccel.ko
cli=$build/tools/ktlsaccel/ktlsaccel
perf=$build/tools/perf/ktlsaccel-perf
work=$(mktemp -d /tmp/ktlsaccel-demo.XXXXXX)
port=5201
server_pid=

# shellcheck disable=SC2317	# (run by the EXIT trap)
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
	fi
	if lsmod | grep -q '^ktlsaccel '; then
		rmmod ktlsaccel 2>/dev/null || true
	fi
	if lsmod | grep -q '^ktlsaccel_test_card '; then
		rmmod ktlsaccel_test_card 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

started=$SECONDS
# A step's heading; with --verbose, also the seconds since the start.
step() {
	if [[ $verbose == 1 ]]; then
		printf '\n== %s   [%d s]\n' "$*" $((SECONDS - started))
	else
		printf '\n== %s\n' "$*"
	fi
}
# Runs a command, showing it first with --verbose.
run() {
	[[ $verbose == 1 ]] && printf '   $ %s\n' "$*" >&3
	"$@"
}
# The short form of a command whose output follows.
shown() { printf '   $ %s\n' "$*"; }
# The same for a command put in the background with &: exec makes $! its pid.
spawn() {
	[[ $verbose == 1 ]] && printf '   $ %s &\n' "$*" >&3
	exec 3>&- "$@"
}
row() { printf '   %-24s %s\n' "$1" "$2"; }
indent() { sed 's/^/   /'; }
fail() { printf 'demo: %s\n' "$*"; exit 1; }

for f in "$ko" "$cli" "$perf"; do
	[[ -e $f ]] || fail "$f is missing: build first (scripts/demo does)"
done
if lsmod 2>/dev/null | grep -q '^ktlsaccel '; then
	fail "ktlsaccel is already loaded; unload it first (rmmod ktlsaccel)"
fi

# A throw-away CA and a server certificate for localhost.
(cd "$work" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.key -out ca.pem -days 1 -subj '/CN=ktlsaccel demo CA' &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout leaf.key -out leaf.csr -subj '/CN=localhost' &&
	printf 'subjectAltName=DNS:localhost\n' > leaf.ext &&
	openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out leaf.pem -days 1 -extfile leaf.ext) > "$work/pki.log" 2>&1 ||
	{ cat "$work/pki.log"; fail "could not make a test certificate"; }

# One transfer: a ktlsaccel-perf server for one connection, a client that
# asks it to send $bytes (--reverse), checks every byte (--verify) and then
# keeps the connection open (--hold) while, with the module loaded,
# `ktlsaccel flows` and `show` are taken: a flow lives as long as its socket.
# Leaves NAME.txt (the client's report), NAME.flows and NAME.show in $work.
# usage: transfer NAME [ktlsaccel-perf option...]
transfer() {
	local name=$1 client_pid; shift
	spawn "$perf" "$@" --port $port server --once --cert "$work/leaf.pem" \
		--key "$work/leaf.key" > "$work/$name.server.txt" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		grep -q listening "$work/$name.server.txt" 2>/dev/null && break
		sleep 0.1
	done
	spawn "$perf" "$@" --port $port --verify client 127.0.0.1 --server-name localhost \
		--ca "$work/ca.pem" --bytes "$bytes" --reverse --hold 600 > "$work/$name.txt" 2>&1 &
	client_pid=$!
	while kill -0 "$client_pid" 2>/dev/null && ! grep -qs '^holding' "$work/$name.txt"; do
		sleep 0.2
	done
	if grep -qs '^holding' "$work/$name.txt" && lsmod | grep -q '^ktlsaccel '; then
		run "$cli" flows > "$work/$name.flows"
		run "$cli" show > "$work/$name.show"
	fi
	kill -USR1 "$client_pid" 2>/dev/null || true
	wait "$client_pid" || { cat "$work/$name.txt" "$work/$name.server.txt"; fail "the transfer failed"; }
	wait "$server_pid" || { cat "$work/$name.server.txt"; fail "the server failed"; }
	server_pid=
}
mibs() { sed -n 's/^received .*: \([0-9.]*\) MiB\/s.*/\1/p' "$work/$1.txt"; }
# Loads the module as the card. The kernel's self-tests of its algorithms
# run through the engine, and on 6.12 go on after insmod returns (a live
# flow; errors: the negative vectors), so wait for them before setting the
# latency (which would slow them down) and zero the counters, so that what
# follows counts only the transfer.
load_card() {
	run insmod "$ko" "${card_load[@]}"
	for _ in $(seq 300); do
		"$cli" show | head -n 1 | grep -q ' flows 0$' && break
		sleep 0.2
	done
	run "$cli" set "${card_set[@]}" > /dev/null
	run "$cli" reset > /dev/null
}
commas() { local s="$*"; echo "${s// /, }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# The most records in flight at once on the server's sending socket: the
# last column of `ktlsaccel flows` (0 when there is no such line).
max_in_flight() {
	awk '$3 ~ /^ktlsaccel-perf/ && $4 == "tx" && $NF > m { m = $NF } END { print m + 0 }' \
		"$work/$1.flows" 2>/dev/null || echo 0
}
# What the client printed, for a person.
# usage: session_rows NAME [TLS LIBRARY (default OpenSSL)]
session_rows() {
	local f=$work/$1.txt lib=${2:-OpenSSL}
	row "handshake" "$(sed -n "s/^session: \(.*\), records in .*/\1 ($lib, through libktlsaccel)/p" "$f")"
	row "records encrypted by" "$(sed -n 's/^session: .*, records in \(.*\)/\1/p' "$f")"
	row "kernel AEAD driver" "$(sed -n 's/^kernel AEAD: [^ ]* -> \([^ ]*\).*/\1/p' "$f")"
	row "payload" "$(sed -n 's/^verified: all \([0-9]*\) bytes match.*/\1 bytes, byte-exact (every byte checked)/p' "$f")"
	row "throughput" "$(mibs "$1") MiB/s"
}

printf 'ktlsaccel demo on Linux %s, payload %s, %s round(s) per side\n' "$kver" "$bytes" "$rounds"

step "1. Load the module, set up as a deep-pipeline card"
run modprobe tls
load_card
row "module" "$(lsmod | awk '$1 == "ktlsaccel" { print $1 " loaded (" $2 " bytes)" }')"
row "card" "4 queues x 256 slots, 500 us per record (modelled)"
shown ktlsaccel show
"$cli" show | sed '/^\tsubmitted/,$d' | indent

step "2. Server and client: OpenSSL handshake, then kTLS moves $bytes"
transfer accel1
session_rows accel1

step "3. What the engine saw during that one connection"
shown "ktlsaccel show    (totals since the connection started, then per queue)"
sed -n '/^\tsubmitted/,$p' "$work/accel1.show" | indent
shown "ktlsaccel flows   (one line per socket and direction, connection still open)"
indent < "$work/accel1.flows"
accel_inflight=$(max_in_flight accel1)
row "records in flight" "at most $accel_inflight at once on the server's sending socket"
row "" "(kTLS hands records to the engine without waiting; 4 queues work on them)"

step "4. The same without the module: the kernel's own AEAD"
accel_mibs=("$(mibs accel1)") sw_mibs=() accel_inflights=("$accel_inflight")
for r in $(seq "$rounds"); do
	run rmmod ktlsaccel
	transfer "sw$r"
	sw_mibs+=("$(mibs "sw$r")")
	[[ $r == "$rounds" ]] && break
	load_card
	transfer "accel$((r + 1))"
	accel_mibs+=("$(mibs "accel$((r + 1))")")
	accel_inflights+=("$(max_in_flight "accel$((r + 1))")")
done
session_rows sw1
sw_driver=$(sed -n 's/^kernel AEAD: [^ ]* -> \([^ ]*\).*/\1/p' "$work/sw1.txt")
sw_async=$(awk -v RS= -F'\n' -v d="$sw_driver" '{
	delete f
	for (i = 1; i <= NF; i++) { split($i, kv, / *: /); f[kv[1]] = kv[2] }
	if (f["driver"] == d) { print f["async"]; exit } }' /proc/crypto)
if [[ $sw_async == no ]]; then
	row "records in flight" "1: a synchronous driver finishes each record before the next"
	sw_n=1
else
	row "records in flight" "not counted (only the module counts them)"
	sw_n=n/a
fi

step "Side by side, same boot (median of $rounds interleaved run(s) each)"
a=$(median "${accel_mibs[@]}") s=$(median "${sw_mibs[@]}") n=$(median "${accel_inflights[@]}")
ratio=$(awk -v a="$a" -v s="$s" 'BEGIN { if (s > 0) printf "%.2f", a / s; else print "?" }')
accel_driver=$(sed -n 's/^kernel AEAD: [^ ]* -> \([^ ]*\).*/\1/p' "$work/accel1.txt")
printf '   %-24s %11s %18s   %s\n' "" "throughput" "records in flight" "AEAD driver"
printf '   %-24s %11s %18s   %s\n' "with ktlsaccel.ko" "$a MiB/s" "$n" "$accel_driver"
printf '   %-24s %11s %18s   %s\n' "without (kernel's own)" "$s MiB/s" "$sw_n" "$sw_driver"
printf '   %-24s %11s\n' "with / without" "${ratio}x"
printf '   every run: with %s MiB/s, %s in flight; without %s MiB/s\n' \
	"$(commas "${accel_mibs[@]}")" "$(commas "${accel_inflights[@]}")" "$(commas "${sw_mibs[@]}")"
if [[ ${DEMO_WHERE:-guest} == guest ]]; then
	printf '   Under QEMU/TCG the "card" runs on the same two emulated CPUs as the\n'
	printf '   kernel'"'"'s own AEAD, so it is not expected to be faster here; what it\n'
	printf '   shows is one connection keeping many records in flight. On real\n'
	printf '   hardware, compare the ratio measured there, not these numbers.\n'
fi

step "5. The same with an Mbed TLS handshake"
mbed_rc=0
if "$perf" --help 2>&1 | grep -q -- '--backend'; then
	load_card
	if (transfer mbed --backend mbedtls); then
		session_rows mbed "Mbed TLS, both ends"
		row "records in flight" "at most $(max_in_flight mbed) at once on the server's sending socket"
	else
		row "result" "FAILED (above)"
		mbed_rc=1
	fi
	run rmmod ktlsaccel
else
	echo "   skipped: this ktlsaccel-perf has no --backend option yet"
fi
step "6. The same on a card: kTLS, then the engine, then a card's driver"
card_ko=$build/kmod/$kver/ktlsaccel_test_card.ko
card_stats=/sys/kernel/debug/ktlsaccel_test_card/stats
if [[ -e $card_ko ]]; then
	row "card" "ktlsaccel_test_card.ko: a TEST driver, not hardware: it registers"
	row "" "asynchronous AEADs as a card's driver does (ring of 64, 500 us,"
	row "" "completions from softirq) and computes on the CPU"
	run insmod "$card_ko" depth=64 latency_us=500
	# Its algorithms are usable once the kernel's self-tests passed.
	for _ in $(seq 300); do
		n=$(awk -v RS= -F'\n' '/driver *: ktlsaccel-testcard-/ && /selftest *: passed/ { n++ }
			END { print n + 0 }' /proc/crypto)
		[[ $n -ge 3 ]] && break
		sleep 0.2
	done
	# ktlsaccel with no parameters at all: its default backend finds the card.
	run insmod "$ko"
	for _ in $(seq 300); do
		"$cli" show | head -n 1 | grep -q ' flows 0$' && break
		sleep 0.2
	done
	run "$cli" reset > /dev/null
	echo 0 > "$card_stats"
	shown "ktlsaccel show    (the backends)"
	"$cli" show | grep -i 'backend' | indent
	if (transfer card1); then
		session_rows card1
		shown "ktlsaccel flows   (connection still open)"
		indent < "$work/card1.flows"
		row "records in flight" "at most $(max_in_flight card1) at once on the server's sending socket"
		shown "cat $card_stats    (the card's own counters)"
		indent < "$card_stats"
		row "" "(the records went to the card through the engine, many at once)"
	else
		row "result" "FAILED (above)"
		mbed_rc=1
	fi
	run rmmod ktlsaccel
	run rmmod ktlsaccel_test_card
else
	echo "   skipped: the test card module (tests/kmod-card) was not built"
fi

printf '\ndone in %d s.\n' $((SECONDS - started))
exit $mbed_rc

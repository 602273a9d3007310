#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Tests of scripts/vm-run itself, each one guest boot:
#   exit-status  the guest command's exit status comes back to the host
#   kernel-warn  a kernel WARN in the guest fails a run whose command passed;
#                with a command that failed too, its status comes back and
#                the WARN is still reported and left in kernel-log-problems
#   timeout      a guest that never finishes is killed and reported
# usage: vm-runner-selftest.sh MODE VM_RUN KERNEL BUILD_DIR
set -uo pipefail
mode=$1 vmrun=$2 kver=$3 build=$4
out=$(mktemp)
res=$(mktemp -d)
trap 'rm -rf "$out" "$res"' EXIT

expect() { # expect STATUS_WANTED STATUS_GOT MESSAGE_REGEX
	if [[ $2 -ne $1 ]]; then
		echo "FAIL: vm-run exited $2, expected $1"; cat "$out"; exit 1
	fi
	if ! grep -Eq "$3" "$out"; then
		echo "FAIL: vm-run's output lacks /$3/"; cat "$out"; exit 1
	fi
	echo "PASS: vm-run exited $2 and said /$3/"
}

case $mode in
exit-status)
	"$vmrun" --kernel "$kver" --timeout 120 -- sh -c 'exit 7' > "$out" 2>&1
	expect 7 $? "exit 7"
	"$vmrun" --kernel "$kver" --timeout 120 -- true > "$out" 2>&1
	expect 0 $? "boot \+ command \+ shutdown [0-9.]+s wall"
	grep -o 'boot + command + shutdown [0-9.]*s wall' "$out"
	;;
kernel-warn)
	ko=$build/kmod/$kver/ktlsaccel_test_warn.ko
	[[ -f $ko ]] || { echo "FAIL: $ko was not built"; exit 1; }
	"$vmrun" --kernel "$kver" --timeout 120 --share "$build" \
		-- sh -c "insmod '$ko' && rmmod ktlsaccel_test_warn" > "$out" 2>&1
	expect 125 $? "kernel log shows problems"
	grep -q "WARNING:.*ktlsaccel_test_warn" "$out" ||
		{ echo "FAIL: the WARN line is not quoted"; cat "$out"; exit 1; }
	"$vmrun" --kernel "$kver" --timeout 120 --share "$build" --results "$res" \
		-- sh -c "insmod '$ko' && rmmod ktlsaccel_test_warn; exit 1" > "$out" 2>&1
	expect 1 $? "kernel log shows problems"
	grep -q "WARNING:.*ktlsaccel_test_warn" "$res/kernel-log-problems" 2>/dev/null ||
		{ echo "FAIL: no WARN line in $res/kernel-log-problems"; cat "$out"; exit 1; }
	echo "PASS: a failed command's dirty log is kept in kernel-log-problems"
	;;
timeout)
	start=$SECONDS
	"$vmrun" --kernel "$kver" --timeout 15 -- sleep 1000 > "$out" 2>&1
	expect 124 $? "did not finish within 15s and was killed"
	(( SECONDS - start < 50 )) || { echo "FAIL: took $((SECONDS - start))s to kill"; exit 1; }
	;;
*)
	echo "unknown mode $mode"; exit 2 ;;
esac

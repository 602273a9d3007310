#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# One guest boot runs the whole in-guest suite for one kernel (ctest's
# vm[<kernel>]:boot). Failing GoogleTest cases are reported by their own
# ctest entries, read from the JSON this leaves; this fails only when the
# run itself is broken: no results, a dirty kernel log, a crash or a hang.
# usage: vm-suite.sh VM_RUN RESULTS_DIR VM_RUN_ARGS... -- TEST_BINARY [ARGS]
set -uo pipefail
vmrun=$1 results=$2
shift 2
rm -f "$results/gtest.json" "$results/suite-failures"
"$vmrun" --results "$results" "$@"
rc=$?
if [[ -s $results/suite-failures ]]; then
	echo "vm-suite: the in-guest suite failed outside its tests:"
	cat "$results/suite-failures"
	exit 1
fi
# vm-run exits with the command's status when it is not 0, so a failed
# test would hide a dirty kernel log; vm-run leaves it in a file.
if [[ -s $results/kernel-log-problems ]]; then
	echo "vm-suite: the guest kernel log shows problems (besides failed tests):"
	head -n 40 "$results/kernel-log-problems"
	exit 125
fi
if [[ $rc -eq 1 && -s $results/gtest.json ]]; then
	echo "vm-suite: some in-guest tests failed; their own ctest entries say which"
	exit 0
fi
exit "$rc"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs the README's main command (scripts/demo) on one kernel with a short
# payload and checks what each step printed:
#   1. the module is listed by lsmod and `ktlsaccel show` answers;
#   2. the transfer through the module arrived byte-exact, through kTLS;
#   3. more than one record of that connection was in flight at once;
#   4. the transfer without the module arrived byte-exact too, and the
#      side-by-side comparison was printed with numbers in both rows.
#
# usage: demo-check.sh SOURCE_DIR BUILD_DIR KERNEL
set -uo pipefail
src=${1:?usage: demo-check.sh SOURCE_DIR BUILD_DIR KERNEL}
build=${2:?}
kernel=${3:?}
log=$build/demo-results/check-$kernel.log
mkdir -p "$build/demo-results"

BUILD_DIR=$build "$src/scripts/demo" --no-setup --kernel "$kernel" --bytes 4M --rounds 1 \
	> "$log" 2>&1
rc=$?
cat "$log"
fails=0
check() {
	local what=$1 pattern=$2
	if grep -Eq -- "$pattern" "$log"; then
		echo "ok:   $what"
	else
		echo "FAIL: $what (no line matches /$pattern/)"
		fails=$((fails + 1))
	fi
}
# Text between a step's heading and the next one.
section() { awk -v h="== $1" 'index($0, h) == 1 { on = 1; next } /^== / { on = 0 } on' "$log"; }
# A transfer's rows (section text on stdin): byte-exact, records in kTLS,
# and the kernel chose ktlsaccel's AEAD.
offloaded() {
	local s
	s=$(cat)
	grep -Eq 'payload +[0-9]+ bytes, byte-exact' <<< "$s" &&
		grep -Eq 'records encrypted by +the kernel \(kTLS\)' <<< "$s" &&
		grep -Eq 'kernel AEAD driver +ktlsaccel-' <<< "$s"
}

[[ $rc -eq 0 ]] || { echo "FAIL: scripts/demo exited with $rc"; fails=$((fails + 1)); }
check "step 1: lsmod lists the module" '^ +module +ktlsaccel loaded'
check "step 1: ktlsaccel show answers" '^ +ktlsaccel: priority [0-9]+'
if section "2." | offloaded; then
	echo "ok:   step 2: byte-exact through kTLS and ktlsaccel's driver"
else
	echo "FAIL: step 2: not byte-exact, not kTLS or not ktlsaccel's driver"
	fails=$((fails + 1))
fi
n=$(section "3." | sed -n 's/^ *records in flight *at most \([0-9]*\) .*/\1/p')
if [[ ${n:-0} -gt 1 ]]; then
	echo "ok:   step 3: $n records in flight at once"
else
	echo "FAIL: step 3: records in flight with the module: '${n:-none}', want > 1"
	fails=$((fails + 1))
fi
s4=$(section "4.")
# (-E on both: in a basic regex " +" would be a space and a literal plus,
# and the negative check could never fail)
if grep -Eq 'payload +[0-9]+ bytes, byte-exact' <<< "$s4" &&
	grep -Eq 'kernel AEAD driver +[a-z]' <<< "$s4" &&
	! grep -Eq 'kernel AEAD driver +ktlsaccel-' <<< "$s4"; then
	echo "ok:   step 4: byte-exact without the module, on another driver"
else
	echo "FAIL: step 4: not byte-exact or still ktlsaccel's driver"
	fails=$((fails + 1))
fi
check "comparison: the module's row" '^ +with ktlsaccel\.ko +[0-9.]+ MiB/s +[0-9]+ +ktlsaccel-'
check "comparison: the kernel's row" "^ +without \\(kernel's own\\) +[0-9.]+ MiB/s +([0-9]+|n/a) +[a-z]"
check "comparison: the ratio" '^ +with / without +[0-9.]+x$'
# Step 5 is skipped only by a ktlsaccel-perf without --backend (built
# without Mbed TLS); when it runs, it must show what step 2 shows.
s5=$(section "5.")
if grep -q '^ *skipped: ' <<< "$s5"; then
	echo "ok:   step 5: skipped, and says why: $(sed -n 's/^ *skipped: //p' <<< "$s5")"
elif grep -Eq 'handshake +.*Mbed TLS' <<< "$s5" && offloaded <<< "$s5"; then
	echo "ok:   step 5: Mbed TLS handshake, byte-exact through kTLS and ktlsaccel's driver"
else
	echo "FAIL: step 5: no Mbed TLS handshake, not byte-exact, not kTLS or not ktlsaccel's driver"
	fails=$((fails + 1))
fi
# Step 6: the engine in front of the test card (built with the suite, so
# never skipped here): byte-exact through ktlsaccel's driver, the card
# counted the records, and more than one was in flight at once.
s6=$(section "6.")
card_n=$(sed -n 's/^ *records in flight *at most \([0-9]*\) .*/\1/p' <<< "$s6")
card_done=$(sed -n 's/.*completed=\([0-9]*\).*/\1/p' <<< "$s6" | head -n 1)
card_peak=$(sed -n 's/.*max_in_flight=\([0-9]*\).*/\1/p' <<< "$s6" | head -n 1)
if offloaded <<< "$s6" && [[ ${card_n:-0} -gt 1 && ${card_done:-0} -gt 0 && ${card_peak:-0} -gt 1 ]]; then
	echo "ok:   step 6: byte-exact through the engine on the card: $card_done records on the card, $card_peak at once there, $card_n on the socket"
else
	echo "FAIL: step 6: engine on the card: in flight '${card_n:-none}', card completed '${card_done:-none}', card peak '${card_peak:-none}'"
	fails=$((fails + 1))
fi
((fails == 0)) || { echo "$fails check(s) failed; log: $log"; exit 1; }
echo "all checks passed"

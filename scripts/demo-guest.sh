#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs inside the guest for scripts/demo: kTLS loopback transfers with the
# kernel's own AEAD, then what the kernel reports about them.
set -euo pipefail
build=$1
out=$KTLSACCEL_RESULTS/demo.txt
{
	printf 'kernel          %s\n' "$(uname -r)"
	modprobe tls
	printf '\n4 MiB over a TCP loopback pair, TLS_TX on one end, TLS_RX on the other:\n'
	"$build/tests/ktlsaccel-vmtests" --gtest_brief=1 \
		--gtest_filter='*KtlsSoftwareLoopback.Moves4MiB*' \
		--gtest_output="json:$KTLSACCEL_RESULTS/demo.json" > "$KTLSACCEL_RESULTS/demo-gtest.txt" 2>&1 ||
		{ cat "$KTLSACCEL_RESULTS/demo-gtest.txt"; exit 1; }
	python3 - "$KTLSACCEL_RESULTS/demo.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"  {'cipher':<20} {'TLS':<6} {'result':<8} {'time':>7}  crypto driver chosen by the kernel")
for s in d["testsuites"]:
    for t in s["testsuite"]:
        cipher, ver = t["name"].split("/")[1].rsplit("_", 1)
        ok = "byte-exact" if "failures" not in t else "FAILED"
        print(f"  {cipher:<20} {ver[:3] + '1.' + ver[4]:<6} {ok:<8} {t['time']:>7}  {t.get('crypto_driver', '?')}")
PY
	printf '\n/proc/net/tls_stat after the transfers:\n'
	grep -E 'TlsTxSw|TlsRxSw|TlsDecryptError' /proc/net/tls_stat | sed 's/^/  /'
	printf '\n/proc/crypto, gcm(aes) implementations by priority:\n'
	awk -v RS= -F'\n' '/name *: gcm\(aes\)/ {
		for (i = 1; i <= NF; i++) { split($i, kv, / *: /); f[kv[1]] = kv[2] }
		printf "  %-45s priority %4s  async %-3s  internal %s\n",
			f["driver"], f["priority"], f["async"], f["internal"] }' /proc/crypto |
		sort -k3 -n -r
} > "$out"

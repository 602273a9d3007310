#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench-smoke.sh KERNEL OUTDIR BUILD_DIR: runs `scripts/bench --quick` on
# one kernel with the build tree ctest was configured in (any folder, not
# only the source tree's build/), and checks that the harness works: a
# well-formed results file with every section and configuration, a summary
# with the targets table, and PNG plots. It checks the form, never the
# numbers (those vary 2x under TCG).
set -euo pipefail
kernel=${1:?kernel} out=${2:?output folder} build=${3:?build folder}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILD_DIR=$build "$top/scripts/bench" --quick --no-build --kernel "$kernel" --out "$out"

python3 - "$out" <<'PY'
import glob, json, math, os, sys

# Explicit checks, not assert: python -O (PYTHONOPTIMIZE) would skip those.
def check(ok, what):
    if not ok:
        print(f"bench-smoke: FAIL: {what}", file=sys.stderr)
        sys.exit(1)

out = sys.argv[1]
files = glob.glob(os.path.join(out, "results-*.json"))
check(len(files) == 1, f"expected one results file, got {files}")
with open(files[0]) as f:
    r = json.load(f)
check("meta" in r and "samples" in r, f"{files[0]} lacks meta or samples")
meta = r["meta"]
for k in ("kernel", "vcpus", "qemu", "commit", "reps", "engine", "model", "seconds"):
    check(k in meta, f"meta lacks {k}")
check(meta["vcpus"] >= 1 and meta["engine"]["queues"] >= 1,
      f"vcpus {meta['vcpus']}, queues {meta['engine'].get('queues')}")
check("tcg" in meta["qemu"], f"qemu is not TCG: {meta['qemu']}")
s = r["samples"]
need = {"section", "config", "cipher", "tls", "size", "mode", "metric", "rep", "value"}
for x in s:
    check(need <= x.keys(), f"sample lacks fields: {x}")
    v = x["value"]
    check(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, f"bad value: {x}")
have = {(x["section"], x["config"]) for x in s}
want = {(sec, c) for sec in ("tx", "rx", "e2e") for c in ("a", "b", "c", "d", "defaults")}
want |= {("latency", "b"), ("latency", "c"), ("latency", "c-inline"), ("latency", "defaults"),
         ("conns", "b"), ("conns", "c"), ("conns", "defaults"), ("pipeline", "d"),
         ("ceiling", "afalg"), ("ceiling", "openssl")}
# The card configs run only where the test card module was built.
if "card" in meta:
    want |= {("card", "card"), ("card", "engine+card")}
check(want <= have, f"missing section/config pairs: {sorted(want - have)}")
busy = [x for x in s if x["metric"] == "busy_vcpus"]
check(busy, "no busy_vcpus samples")
for x in busy:
    check(x["section"] in ("tx", "rx") and x["value"] <= meta["vcpus"] + 1e-9,
          f"bad busy_vcpus sample: {x}")
# Both come from the same /proc/stat readings: one without the other is a bug.
cost = {(x["section"], x["config"], x["cipher"], x["tls"], x["size"])
        for x in s if x["metric"] == "busy_s_per_MiB" and x["section"] != "card"}
check(cost == {(x["section"], x["config"], x["cipher"], x["tls"], x["size"]) for x in busy},
      "busy_s_per_MiB and busy_vcpus samples differ")
with open(os.path.join(out, "summary.md")) as f:
    md = f.read()
for h in ("## Targets", "## Kernel", "### TX only", "### RX only", "### Pipeline",
          "### Small messages", "### Many connections", "### vCPUs busy",
          "### Defaults against (b)", "### CPU per byte"):
    check(h in md, f"summary.md lacks {h}")
pngs = glob.glob(os.path.join(out, "*.png"))
check(len(pngs) >= 5, f"expected >= 5 plots, got {pngs}")
for p in pngs:
    with open(p, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{p} is not a PNG")
print(f"bench-smoke: {len(s)} samples, {len(pngs)} plots, summary.md well-formed")
PY

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The symbols a shared library of ktlsaccel exports are its public API, all
# of it and nothing else (ctest lint:exports[<library>]):
#
#   check-exports.sh --lib LIB.so --node VERSION_NODE --objects "a.o;b.o"
#                    [--c-header H]... [--expect DEMANGLED_PREFIX]...
#                    [--not-needed REGEX]... [--internal DIR]
#
#  - every exported symbol is a C function ktlsaccel_*, or in the C++
#    namespace ktlsaccel (its functions, typeinfo, vtables), and carries
#    the version node;
#  - none is in ktlsaccel::detail, where every private header (--internal:
#    its *.hpp) declares what it declares;
#  - every function the C headers declare is exported;
#  - every ktlsaccel symbol the library's objects define with default
#    visibility (what the public headers declare) is exported: the linker
#    version script lost none;
#  - each --expect names the start of an exported demangled symbol
#    (C++ API a missing visibility pragma would hide);
#  - no DT_NEEDED entry matches a --not-needed pattern (libnl for the TLS
#    library).
set -euo pipefail

lib="" node="" objects="" internal=""
cheaders=() expect=() notneeded=()
while (($#)); do
	case $1 in
	--lib) lib=$2 ;;
	--node) node=$2 ;;
	--objects) objects=$2 ;;
	--c-header) cheaders+=("$2") ;;
	--expect) expect+=("$2") ;;
	--not-needed) notneeded+=("$2") ;;
	--internal) internal=$2 ;;
	*) echo "check-exports: unknown argument $1" >&2; exit 2 ;;
	esac
	shift 2
done
[[ -f $lib && -n $node && -n $objects ]] || { echo "check-exports: --lib, --node and --objects are needed" >&2; exit 2; }
name=$(basename "$lib")
bad=0
fail() {
	echo "FAIL $name: $1"
	bad=1
}

# Exported: defined dynamic symbols, "name@@NODE" (nm shows the version);
# the version node itself is an absolute symbol (A).
mapfile -t exported < <(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }')
((${#exported[@]} > 0)) || fail "exports nothing"
declare -A mangled=()
for s in "${exported[@]}"; do
	[[ $s == *"@@$node" || $s == *"@$node" ]] || fail "$s: not under version node $node"
	mangled[${s%%@*}]=1
done
mapfile -t demangled < <(printf '%s\n' "${!mangled[@]}" | c++filt | sort)
for d in "${demangled[@]}"; do
	case $d in
	*ktlsaccel::detail::*) fail "exports a private symbol: $d" ;;
	ktlsaccel_*|ktlsaccel::*|"typeinfo for ktlsaccel::"*|"typeinfo name for ktlsaccel::"*|"vtable for ktlsaccel::"*) ;;
	*) fail "exports a symbol outside the API: $d" ;;
	esac
done

# Private headers: everything they declare is in ktlsaccel::detail, so the
# rule above covers them.
if [[ -n $internal ]]; then
	for h in "$internal"/*.hpp; do
		opens=$(grep -cE '^namespace ' "$h" || true)
		det=$(grep -cE '^namespace ktlsaccel::detail \{' "$h" || true)
		[[ $opens -ge 1 && $opens == "$det" ]] ||
			fail "$(basename "$h") declares outside namespace ktlsaccel::detail"
	done
fi

# The C API: the functions the headers declare (comments and all else
# taken out by the preprocessor).
for h in "${cheaders[@]}"; do
	mapfile -t fns < <(cc -E -P -x c -I "$(dirname "$h")/.." "$h" |
		grep -oE '\<ktlsaccel_[a-z0-9_]+[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u)
	((${#fns[@]} > 0)) || fail "no function found in $h"
	missing=0
	for f in "${fns[@]}"; do
		[[ -n ${mangled[$f]:-} ]] || { fail "$f ($(basename "$h")) is not exported"; missing=1; }
	done
	((missing)) || echo "ok $name: ${#fns[@]} C functions of $(basename "$h") exported"
done

# What the objects define with default visibility, in our namespace.
IFS=';' read -ra objs <<< "$objects"
mapfile -t public < <(for o in "${objs[@]}"; do
	readelf -sW "$o" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" { print $8 }'
done | sort -u)
n=0
for s in "${public[@]}"; do
	d=$(c++filt <<< "$s")
	case $d in
	ktlsaccel_*|ktlsaccel::*|"typeinfo for ktlsaccel::"*|"typeinfo name for ktlsaccel::"*|"vtable for ktlsaccel::"*) ;;
	*) continue ;;
	esac
	n=$((n + 1))
	[[ -n ${mangled[$s]:-} ]] || fail "declared public but not exported: $d"
done
((n > 0)) || fail "the objects define no public symbol: visibility pragmas missing?"

for e in "${expect[@]}"; do
	found=0
	for d in "${demangled[@]}"; do
		[[ $d == "$e"* ]] && { found=1; break; }
	done
	((found)) || fail "not exported: $e..."
done

mapfile -t needed < <(readelf -dW "$lib" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
for pat in "${notneeded[@]}"; do
	for nd in "${needed[@]}"; do
		[[ ! $nd =~ $pat ]] || fail "needs $nd"
	done
done

((bad == 0)) || exit 1
echo "ok $name: ${#demangled[@]} symbols exported under $node, all public ($n declared public in the objects), none private; needs: ${needed[*]}"

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The README's "From source" install, checked on the host (no guest):
#
#   install-tree.sh BUILDDIR SRCDIR [KVER]
#
# `cmake --install BUILDDIR --prefix /usr/local` into a scratch DESTDIR, then:
# every file where the README and packaging/README.md say it goes; the
# library's soname and symlinks; the installed CLI runs against the installed
# library; the module tree for DKMS holds exactly the module's sources and
# builds for KVER with the MAKE line of its own dkms.conf, away from the
# checkout; a C program builds with the relocated .pc file and a C++ one with
# find_package(ktlsaccel), both linking the installed libktlsaccel alone; a
# program of the control client builds with libktlsaccel-control.pc and with
# find_package(ktlsaccel COMPONENTS control), links that library alone and
# runs. The packages and a real dkms run are the guest test's (pkg-guest.sh).
#
# Prints "ok <step>"; the first failure prints "FAIL <step>: why", exits 1.
set -euo pipefail

build=$(realpath "$1")
src=$(realpath "$2")
kver=${3:-}
work=$(mktemp -d /tmp/ktlsaccel-install-tree.XXXXXX)
trap 'rm -rf "$work"' EXIT

ok() { echo "ok $1"; }
fail() {
	echo "FAIL $1: $2"
	exit 1
}
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

ver=$(cache CMAKE_PROJECT_VERSION)
libdir=$(cache CMAKE_INSTALL_LIBDIR)
[[ -n $ver && -n $libdir ]] || fail setup "no version or libdir in $build/CMakeCache.txt"
prefix=/usr/local
p=$work/root$prefix

if ! DESTDIR=$work/root cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1; then
	cat "$work/install.log"
	fail install "cmake --install failed"
fi
ok "cmake --install --prefix $prefix (DESTDIR)"

# ---- where everything goes -------------------------------------------------
dkmsdir=src/ktlsaccel-$ver
expected=(
	"$dkmsdir/dkms.conf" "$dkmsdir/Kbuild" "$dkmsdir/README.md"
	"$dkmsdir/uapi/linux/ktlsaccel.h"
	etc/modprobe.d/ktlsaccel.conf
	"$libdir/libktlsaccel.so.$ver" "$libdir/libktlsaccel.so.0" "$libdir/libktlsaccel.so"
	"$libdir/libktlsaccel-control.so.$ver" "$libdir/libktlsaccel-control.so.0"
	"$libdir/libktlsaccel-control.so"
	"$libdir/pkgconfig/libktlsaccel.pc" "$libdir/pkgconfig/libktlsaccel-control.pc"
	"$libdir/cmake/ktlsaccel/ktlsaccelConfig.cmake"
	"$libdir/cmake/ktlsaccel/ktlsaccelConfigVersion.cmake"
	"$libdir/cmake/ktlsaccel/ktlsaccelTargets.cmake"
	"$libdir/cmake/ktlsaccel/ktlsaccelControlTargets.cmake"
	include/ktlsaccel/ktlsaccel.h include/ktlsaccel/ktlsaccel.hpp include/ktlsaccel/error.hpp
	include/ktlsaccel/control.hpp
	include/linux/ktlsaccel.h
	sbin/ktlsaccel bin/ktlsaccel-perf
	share/man/man8/ktlsaccel.8 share/man/man1/ktlsaccel-perf.1
	share/bash-completion/completions/ktlsaccel
)
for f in "$src"/kmod/*.c "$src"/kmod/*.h; do
	expected+=("$dkmsdir/$(basename "$f")")
done
missing=""
for f in "${expected[@]}"; do
	[[ -e $p/$f ]] || missing+=" $f"
done
[[ -z $missing ]] || fail layout "missing under $prefix:$missing"
# Nothing outside the prefix (the example modprobe.d file follows it too).
outside=$(cd "$work/root" && find . -mindepth 1 \( -type f -o -type l \) ! -path ".$prefix/*")
[[ -z $outside ]] || fail layout "installed outside $prefix: $outside"
ok "layout: ${#expected[@]} paths under $prefix, nothing outside it"

# ---- the library and the programs ------------------------------------------
for l in libktlsaccel libktlsaccel-control; do
	soname=$(objdump -p "$p/$libdir/$l.so.$ver" | awk '$1 == "SONAME" { print $2 }')
	[[ $soname == "$l.so.0" ]] || fail library "$l: soname is '$soname'"
	[[ $(readlink "$p/$libdir/$l.so.0") == "$l.so.$ver" &&
	   $(readlink "$p/$libdir/$l.so") == "$l.so.0" ]] ||
		fail library "symlinks: $(ls -l "$p/$libdir/$l".so*)"
done
# The TLS library never needs libnl; the control client needs no TLS.
needs() { readelf -dW "$1" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p'; }
! needs "$p/$libdir/libktlsaccel.so.$ver" | grep -qE '^(libnl|libktlsaccel-control)' ||
	fail library "libktlsaccel needs: $(needs "$p/$libdir/libktlsaccel.so.$ver" | paste -sd ' ')"
! needs "$p/$libdir/libktlsaccel-control.so.$ver" | grep -qE '^(libssl|libcrypto|libktlsaccel\.)' ||
	fail library "libktlsaccel-control needs: $(needs "$p/$libdir/libktlsaccel-control.so.$ver" | paste -sd ' ')"
out=$(LD_LIBRARY_PATH=$p/$libdir "$p/sbin/ktlsaccel" --version) || fail cli "ktlsaccel --version failed"
[[ $out == "ktlsaccel $ver" ]] || fail cli "ktlsaccel --version says '$out'"
loads() {	# the file PROGRAM loads for SONAME, with the installed libraries first
	LD_LIBRARY_PATH=$p/$libdir ldd "$1" | awk -v so="$2" '$1 == so { print $3 }'
}
lib=$(loads "$p/sbin/ktlsaccel" libktlsaccel-control.so.0)
[[ $(realpath -e "$lib") == $(realpath "$p/$libdir/libktlsaccel-control.so.$ver") ]] ||
	fail cli "the installed CLI does not load the installed libktlsaccel-control ($lib)"
lib=$(loads "$p/bin/ktlsaccel-perf" libktlsaccel.so.0)
[[ $(realpath -e "$lib") == $(realpath "$p/$libdir/libktlsaccel.so.$ver") ]] ||
	fail cli "the installed ktlsaccel-perf does not load the installed libktlsaccel ($lib)"
# The completion, driven the way bash drives it: COMP_WORDS/COMP_CWORD for a
# command line with the cursor at its end, then COMPREPLY, sorted.
completion=$p/share/bash-completion/completions/ktlsaccel
complete_line() {
	bash -c '
		source /usr/share/bash-completion/bash_completion
		source "$1"
		COMP_LINE=$2 COMP_POINT=${#2}
		read -ra COMP_WORDS <<< "$COMP_LINE"
		[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_ktlsaccel ktlsaccel "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd " "' _ "$completion" "$1"
}
expect_completion() {
	local got
	got=$(complete_line "$1") || fail completion "'$1': the completion function failed"
	[[ $got == "$2" ]] || fail completion "'$1' completes to '$got', want '$2'"
}
[[ -f /usr/share/bash-completion/bash_completion ]] ||
	fail completion "bash-completion is not installed: run scripts/install-deps.sh"
expect_completion "ktlsaccel s" "selftest set show"
expect_completion "ktlsaccel --j" "--json"
expect_completion "ktlsaccel reset " "all engine flows"
expect_completion "ktlsaccel set dispatch " "flow spread"
expect_completion "ktlsaccel set decrypt async de" "depth"
expect_completion "ktlsaccel fault errno " "EBADMSG EIO"
expect_completion "ktlsaccel selftest --alg c" "ccm chacha20-poly1305"
for m in share/man/man8/ktlsaccel.8 share/man/man1/ktlsaccel-perf.1; do
	# (groff's warnings are findings too: -ww, output to /dev/null)
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p/$m" 2>&1 > /dev/null) || fail man "man -l $m failed"
	[[ -z $w ]] || fail man "$m: $w"
done
cmp -s "$p/etc/modprobe.d/ktlsaccel.conf" "$src/packaging/ktlsaccel.conf" ||
	fail modprobe.d "the example differs from packaging/ktlsaccel.conf"
ok "libraries (sonames libktlsaccel.so.0, libktlsaccel-control.so.0), CLI $ver and ktlsaccel-perf run against them, man pages, completion, modprobe.d example"

# ---- the module tree for DKMS ----------------------------------------------
for f in "$src"/kmod/*.c "$src"/kmod/*.h "$src"/kmod/Kbuild; do
	cmp -s "$f" "$p/$dkmsdir/$(basename "$f")" || fail dkms-tree "$(basename "$f") differs from kmod/"
done
cmp -s "$src/uapi/linux/ktlsaccel.h" "$p/$dkmsdir/uapi/linux/ktlsaccel.h" ||
	fail dkms-tree "uapi header differs"
extra=$(cd "$p/$dkmsdir" && find . -type f | sed 's|^\./||' | while read -r f; do
	case $f in
	dkms.conf|Kbuild|README.md|uapi/linux/ktlsaccel.h) ;;
	*.c|*.h) [[ -e $src/kmod/$f ]] || echo "$f" ;;
	*) echo "$f" ;;
	esac
done)
[[ -z $extra ]] || fail dkms-tree "not from kmod/: $extra"
# dkms.conf is shell that dkms sources; read it the same way (its MAKE
# line names dkms's variables, unset here).
(
	set +u
	# shellcheck disable=SC1090,SC1091
	source "$p/$dkmsdir/dkms.conf"
	[[ $PACKAGE_NAME == ktlsaccel && $PACKAGE_VERSION == "$ver" &&
	   ${BUILT_MODULE_NAME[0]} == ktlsaccel && $AUTOINSTALL == yes ]]
) || fail dkms-tree "dkms.conf: name, version, module or AUTOINSTALL wrong"
if [[ -n $kver ]]; then
	# What `dkms build` does with the tree: copy it to
	# $dkms_tree/ktlsaccel/VERSION/build and run MAKE[0] there.
	dkms_tree=$work/dkms
	bdir=$dkms_tree/ktlsaccel/$ver/build
	mkdir -p "$bdir"
	cp -a "$p/$dkmsdir/." "$bdir/"
	(
		# shellcheck disable=SC2034	# read by dkms.conf's MAKE line
		kernel_source_dir=/lib/modules/$kver/build
		# shellcheck disable=SC1090,SC1091
		source "$bdir/dkms.conf"
		cd "$bdir"
		eval "${MAKE[0]}" -j"$(nproc)"
	) > "$work/make.log" 2>&1 || { tail -n 40 "$work/make.log"; fail dkms-tree "MAKE[0] failed for $kver"; }
	[[ $(modinfo -F vermagic "$bdir/ktlsaccel.ko") == "$kver "* ]] ||
		fail dkms-tree "ktlsaccel.ko built, wrong vermagic"
	# Kbuild records each command it ran (.*.cmd): no path into the
	# checkout may be among them.
	cmds=("$bdir"/.*.cmd)
	[[ -e ${cmds[0]} ]] || fail dkms-tree "Kbuild left no .*.cmd files in $bdir"
	! grep -qs -- "$src" "${cmds[@]}" || fail dkms-tree "the build reached into the checkout"
	ok "module tree: kmod/ and the uapi header, dkms.conf; MAKE[0] builds ktlsaccel.ko for $kver"
else
	ok "module tree: kmod/ and the uapi header, dkms.conf (no kernel given: not built)"
fi

# ---- consumers: pkg-config and find_package --------------------------------
export PKG_CONFIG_PATH=$p/$libdir/pkgconfig
[[ $(pkg-config --modversion libktlsaccel) == "$ver" ]] || fail pkg-config "modversion"
incdir=$(pkg-config --cflags-only-I libktlsaccel | sed -E 's/^ *-I//; s/ *$//')
[[ $(realpath -e "$incdir") == $(realpath "$p/include") ]] ||
	fail pkg-config "--cflags names '$incdir', not the relocated tree's include/"
# shellcheck disable=SC2046
cc -O2 -Wall -Werror -o "$work/consumer-pc" "$src/tests/packaging/consumer.c" \
	$(pkg-config --cflags --libs libktlsaccel) || fail pkg-config "build failed"
linked() {
	loads "$1" libktlsaccel.so.0
}
# A TLS program links libktlsaccel alone: not the control client, not libnl.
tls_only() {
	needs "$1" | grep -qx libktlsaccel.so.0 && ! needs "$1" | grep -qE '^(libktlsaccel-control|libnl)'
}
[[ $(realpath -e "$(linked "$work/consumer-pc")") == $(realpath "$p/$libdir/libktlsaccel.so.$ver") ]] ||
	fail pkg-config "not linked to the installed library"
tls_only "$work/consumer-pc" || fail pkg-config "needs more than libktlsaccel: $(needs "$work/consumer-pc" | paste -sd ' ')"
ok "pkg-config --cflags --libs libktlsaccel (relocated .pc): builds, links libktlsaccel alone"

if ! { cmake -S "$src/tests/packaging/consumer-cmake" -B "$work/consumer-cmake" \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$p" -DKTLSACCEL_CONSUMER_CONTROL=ON &&
	cmake --build "$work/consumer-cmake"; } > "$work/cmake.log" 2>&1; then
	tail -n 40 "$work/cmake.log"
	fail find_package "configure or build failed"
fi
exe=$work/consumer-cmake/ktlsaccel-consumer-cmake
[[ $(realpath -e "$(linked "$exe")") == $(realpath "$p/$libdir/libktlsaccel.so.$ver") ]] ||
	fail find_package "not linked to the installed library"
tls_only "$exe" || fail find_package "needs more than libktlsaccel: $(needs "$exe" | paste -sd ' ')"
ok "find_package(ktlsaccel) with CMAKE_PREFIX_PATH=$prefix: builds, links libktlsaccel alone"

# ---- the control client's consumers ----------------------------------------
[[ $(pkg-config --modversion libktlsaccel-control) == "$ver" ]] || fail control "modversion"
# shellcheck disable=SC2046
c++ -std=c++23 -O2 -Wall -Werror -o "$work/consumer-control-pc" \
	"$src/tests/packaging/consumer-control.cpp" \
	$(pkg-config --cflags --libs libktlsaccel-control) || fail control "pkg-config build failed"
for exe in "$work/consumer-control-pc" "$work/consumer-cmake/ktlsaccel-consumer-control"; do
	lib=$(loads "$exe" libktlsaccel-control.so.0)
	[[ $(realpath -e "$lib") == $(realpath "$p/$libdir/libktlsaccel-control.so.$ver") ]] ||
		fail control "$(basename "$exe") is not linked to the installed libktlsaccel-control"
	! needs "$exe" | grep -qE '^(libktlsaccel\.|libssl)' ||
		fail control "$(basename "$exe") needs: $(needs "$exe" | paste -sd ' ')"
	# The host has no module: the client must say so (exit 3); with the
	# module loaded it prints the engine (exit 0).
	rc=0
	out=$(LD_LIBRARY_PATH=$p/$libdir "$exe") || rc=$?
	case $rc in
	0) [[ $out == "consumer-control: queues "* ]] || fail control "$(basename "$exe"): '$out'" ;;
	3) [[ $out == *"not loaded"* ]] || fail control "$(basename "$exe"): '$out'" ;;
	*) fail control "$(basename "$exe") failed ($rc): $out" ;;
	esac
done
ok "libktlsaccel-control: pkg-config and find_package(ktlsaccel COMPONENTS control) build, link it alone, run ($out)"

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# In the guest (run by scripts/vm-run): install the Debian packages the way
# an administrator does, use them, purge them, and check nothing is left.
#
#   pkg-guest.sh DEBDIR SRCDIR                one boot: install, use, purge
#   pkg-guest.sh DEBDIR SRCDIR upgrade KVER   install, upgrade, use; keep
#   pkg-guest.sh DEBDIR SRCDIR reboot TAR     boot into KVER, use, purge
#
# "upgrade KVER" plays a kernel upgrade after the install: dkms's hook
# /etc/kernel/postinst.d/dkms, which the new kernel package's postinst runs,
# must build and install ktlsaccel.ko for KVER (AUTOINSTALL). The root's
# changes are then saved to $KTLSACCEL_RESULTS/root-changes.tar instead of
# being purged, and "reboot TAR", run by a guest booted into KVER, restores
# them: the module the hook built must load there, the programs work, and
# the purge must take out the copies of both kernels. That is the path an
# administrator takes (install, upgrade, reboot, remove), and it costs one
# dkms build and one purge fewer than testing each kernel on its own.
#
# The guest's root is the host's, read-only over 9p. /etc, /usr and /var get
# a writable overlayfs each (upper layer in the guest's tmpfs), so the real
# tools run on the real paths: dpkg -i, the package's postinst running
# dkms add/build/install against /usr/src/linux-headers-*, depmod,
# modprobe with /etc/modprobe.d, dpkg --purge. The upper layers are the
# record of every change: after the purge, a file or directory in them that
# the pristine root (bind-mounted at $lower) does not have was left behind.
#
# Steps print "ok <step> (<seconds>s)"; the first failure prints
# "FAIL <step>: why" and exits 1.
set -euo pipefail

debs=$1
src=$2
mode=${3:-once}
upgrade='' state_tar=''
# (set by the saved state in reboot mode)
state_upgrade='' state_installed_on='' mandb_off=0
case $mode in
once) ;;
upgrade) upgrade=${4:?upgrade: which kernel} ;;
reboot) state_tar=${4:?reboot: which saved root} ;;
*) echo "pkg-guest.sh: unknown mode $mode"; exit 2 ;;
esac
kver=$(uname -r)
work=/tmp/pkgtest
lower=$work/lower
t0=$(date +%s)
t_step=$t0

ok() {
	local now
	now=$(date +%s)
	echo "ok $1 ($((now - t_step))s)"
	# (the console reaches the host in 4 KiB blocks; this file at once)
	echo "ok $1 ($((now - t_step))s)" >> "${KTLSACCEL_RESULTS:-/tmp}/progress"
	t_step=$now
}
fail() {
	echo "FAIL $1: $2"
	exit 1
}
run() {	# run CMD, show its output only when it fails
	local out
	if ! out=$("$@" 2>&1); then
		echo "$out" | tail -n 40
		return 1
	fi
}

pkgs=(ktlsaccel-dkms libktlsaccel0 libktlsaccel-control0 libktlsaccel-dev ktlsaccel-tools)

# ---- a writable root -------------------------------------------------------
mkdir -p "$lower"
mount --bind / "$lower"
modprobe overlay
if [[ $mode == reboot ]]; then
	# The previous boot's changes (whiteouts and overlayfs's xattrs too).
	mkdir -p "$work/ov"
	tar -C "$work/ov" --numeric-owner --xattrs --xattrs-include='trusted.*' \
		-xpf "$state_tar" || { echo "FAIL reboot: cannot restore $state_tar"; exit 1; }
	# shellcheck source=/dev/null
	. "$work/ov/state"
	rm "$work/ov/state"
	[[ -n $state_upgrade && $kver == "$state_upgrade" ]] ||
		{ echo "FAIL reboot: booted $kver, the upgrade was to $state_upgrade"; exit 1; }
fi
for d in etc usr var; do
	mkdir -p "$work/ov/$d/upper" "$work/ov/$d/work"
	mount -t overlay overlay \
		-o "lowerdir=/$d,upperdir=$work/ov/$d/upper,workdir=$work/ov/$d/work" "/$d"
done
export DEBIAN_FRONTEND=noninteractive
# What udev/systemd give a real system and the runner's minimal init does
# not: /dev/fd (dkms uses <(...) process substitution and refuses without).
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
# man-db's trigger re-indexes every manual page over 9p: two minutes under
# TCG for nothing the test checks (man -w finds pages without the index).
# The trigger runs mandb only while this file exists (what the debconf
# question man-db/auto-update switches); it is put back before the
# leftovers are looked for.
mandb_flag=/var/lib/man-db/auto-update
if [[ $mode != reboot ]]; then
	if [[ -e $mandb_flag ]]; then
		rm "$mandb_flag"
		mandb_off=1
	fi
	ok "overlay over /etc /usr /var"
else
	ok "overlay over /etc /usr /var with the changes of the boot into $state_installed_on"
fi

# ---- install ---------------------------------------------------------------
shopt -s nullglob
hidden=()
if [[ $mode == reboot ]]; then
	for p in "${pkgs[@]}"; do
		[[ $(dpkg-query -W -f='${Status}' "$p") == "install ok installed" ]] ||
			fail reboot "$p is not installed after the reboot"
	done
	ok "after the reboot: ${#pkgs[@]} packages installed"
else
	if [[ -n $upgrade ]]; then
		[[ $upgrade != "$kver" && -e /lib/modules/$upgrade/build/Makefile ]] ||
			fail install "upgrade kernel $upgrade: no headers, or it is the running one"
	fi
	debfiles=("$debs"/*.deb)
	[[ ${#debfiles[@]} -eq ${#pkgs[@]} ]] ||
		fail install "expected ${#pkgs[@]} packages in $debs, found ${#debfiles[@]}"
	# common.postinst builds for the running and the newest kernel with headers.
	# Under TCG one dkms build takes minutes, so by default the other kernels'
	# headers are hidden (an empty directory mounted over them) while dpkg -i
	# runs; KTLSACCEL_PKGTEST_ALL_KERNELS=1 keeps them, and the module must then
	# get built for each of them too (by the postinst or dkms's kernel hook).
	if [[ ${KTLSACCEL_PKGTEST_ALL_KERNELS:-0} != 1 ]]; then
		mkdir -p "$work/empty"
		for b in /lib/modules/*/build; do
			k=$(basename "$(dirname "$b")")
			[[ $k != "$kver" && -e $b/Makefile ]] || continue
			hdr=$(readlink -f "$b")
			mount --bind "$work/empty" "$hdr"
			hidden+=("$hdr")
		done
	fi
	if ! dpkg -i "${debfiles[@]}" > "$work/dpkg-install.log" 2>&1; then
		cat "$work/dpkg-install.log"
		cat /var/lib/dkms/ktlsaccel/*/build/make.log 2>/dev/null | tail -n 40
		fail install "dpkg -i failed"
	fi
	for p in "${pkgs[@]}"; do
		[[ $(dpkg-query -W -f='${Status}' "$p") == "install ok installed" ]] ||
			fail install "$p is not installed"
	done
	sed -nE 's/^(Building|Loading|Done|It is likely|Module build)/  postinst: &/p' "$work/dpkg-install.log"
	for hdr in "${hidden[@]}"; do
		umount "$hdr"
	done
	ok "dpkg -i ${#debfiles[@]} packages (postinst: dkms add/build/install)"
fi

# ---- DKMS: this kernel, and every other kernel with headers -----------------
dkms_installed() {
	dkms status -m ktlsaccel -k "$1" | grep -q ": installed"
}
dkms_installed "$kver" || fail dkms "not installed for $kver: $(dkms status)"
# (dkms compresses it as the kernel's own modules are: ktlsaccel.ko.xz)
ko=(/lib/modules/"$kver"/updates/dkms/ktlsaccel.ko*)
[[ ${#ko[@]} -eq 1 && -f ${ko[0]} ]] ||
	fail dkms "no /lib/modules/$kver/updates/dkms/ktlsaccel.ko*"
# What the kernel packages' postinst runs for a newly installed kernel
# (AUTOINSTALL); common.postinst may already have built for the newest one.
built=()
for b in /lib/modules/*/build; do
	k=$(basename "$(dirname "$b")")
	[[ -e $b/Makefile ]] || continue
	if [[ $mode == reboot ]]; then
		# built before the reboot: for the kernel installed on and the
		# upgrade's (this one), by dkms's kernel hook
		[[ $k == "$kver" || $k == "$state_installed_on" ]] || continue
		dkms_installed "$k" || fail reboot "not installed for $k after the reboot"
	elif [[ ${#hidden[@]} -ne 0 && $k != "$kver" ]]; then
		continue
	fi
	if ! dkms_installed "$k"; then
		run /etc/kernel/postinst.d/dkms "$k" || fail dkms "kernel hook for $k failed"
		echo "  kernel hook /etc/kernel/postinst.d/dkms $k built it"
	fi
	dkms_installed "$k" || fail dkms "not installed for $k after the kernel hook"
	[[ $(modinfo -k "$k" -F vermagic ktlsaccel) == "$k "* ]] ||
		fail dkms "modinfo -k $k: wrong vermagic"
	built+=("$k")
done
dkms status -m ktlsaccel | sed 's/^/  /'
ok "dkms built and installed ktlsaccel.ko for ${built[*]}"

# ---- a kernel upgrade ------------------------------------------------------
# Installing linux-image-$upgrade runs /etc/kernel/postinst.d/dkms $upgrade;
# it must find ktlsaccel (AUTOINSTALL) and build it against that kernel's
# headers, from the source the package put in /usr/src.
if [[ -n $upgrade ]] && ! dkms_installed "$upgrade"; then
	run /etc/kernel/postinst.d/dkms "$upgrade" || fail upgrade "kernel hook for $upgrade failed"
	if ! dkms_installed "$upgrade"; then
		tail -n 40 /var/lib/dkms/ktlsaccel/*/"$upgrade"/*/log/make.log 2>/dev/null
		fail upgrade "not installed for $upgrade after the kernel hook: $(dkms status)"
	fi
	uko=(/lib/modules/"$upgrade"/updates/dkms/ktlsaccel.ko*)
	[[ ${#uko[@]} -eq 1 && -f ${uko[0]} ]] ||
		fail upgrade "no /lib/modules/$upgrade/updates/dkms/ktlsaccel.ko*"
	[[ $(modinfo -k "$upgrade" -F vermagic ktlsaccel) == "$upgrade "* ]] ||
		fail upgrade "modinfo -k $upgrade: wrong vermagic"
	grep -q 'updates/dkms/ktlsaccel\.ko' "/lib/modules/$upgrade/modules.dep" ||
		fail upgrade "depmod did not run for $upgrade"
	ok "kernel upgrade to $upgrade: dkms's kernel hook built and installed ktlsaccel.ko"
fi

# ---- modprobe, with options from /etc/modprobe.d ----------------------------
conf=/etc/modprobe.d/ktlsaccel.conf
[[ -f $conf ]] || fail modprobe "$conf not installed"
if grep -qE '^[[:space:]]*options' "$conf"; then
	fail modprobe "$conf is not all comments"
fi
echo "options ktlsaccel queues=3 depth=64" >> "$conf"
[[ $(modinfo -n ktlsaccel) == "${ko[0]}" ]] ||
	fail modprobe "modinfo -n: $(modinfo -n ktlsaccel)"
run modprobe ktlsaccel || fail modprobe "modprobe ktlsaccel failed"
[[ $(cat /sys/module/ktlsaccel/parameters/queues) == 3 &&
   $(cat /sys/module/ktlsaccel/parameters/depth) == 64 ]] ||
	fail modprobe "options from $conf not applied"
ok "modprobe ktlsaccel (queues=3 depth=64 from $conf)"

# ---- the installed CLI -----------------------------------------------------
[[ $(command -v ktlsaccel) == /usr/sbin/ktlsaccel ]] || fail cli "ktlsaccel is $(command -v ktlsaccel)"
# It reads the module through the packaged control client.
cli_lib=$(ldd /usr/sbin/ktlsaccel | awk '$1 == "libktlsaccel-control.so.0" { print $3 }')
[[ -n $cli_lib && $(realpath -e "$cli_lib") == $(realpath -e "/usr/lib/$(gcc -print-multiarch)/libktlsaccel-control.so.0") ]] ||
	fail cli "not linked to the packaged libktlsaccel-control: $(ldd /usr/sbin/ktlsaccel)"
show=$(ktlsaccel show) || fail cli "ktlsaccel show failed: $show"
sed -n '1,12s/^/  | /p' <<<"$show"
grep -qE 'queues 3 depth 64' <<<"$show" || fail cli "ktlsaccel show does not report queues 3 depth 64"
for m in ktlsaccel ktlsaccel-perf; do
	man -w "$m" > /dev/null || fail cli "man page $m missing"
done
[[ -f /usr/share/bash-completion/completions/ktlsaccel ]] || fail cli "no bash completion"
ok "ktlsaccel show reports the module"

completed() {	# the engine's completed requests (first "completed N" of show)
	local n
	n=$(ktlsaccel show | sed -nE 's/.*\<completed ([0-9]+).*/\1/;T;p;q')
	[[ -n $n ]] || fail counters "no 'completed N' in ktlsaccel show"
	echo "$n"
}

# ---- programs built against the installed library --------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost 2>/dev/null || fail certs "openssl req failed"

[[ $(realpath "$(pkg-config --variable=libdir libktlsaccel)") == /usr/lib/$(gcc -print-multiarch) ]] ||
	fail pkg-config "libdir is $(pkg-config --variable=libdir libktlsaccel)"
# shellcheck disable=SC2046
run cc -O2 -Wall -Werror -o "$work/consumer-pc" "$src/tests/packaging/consumer.c" \
	$(pkg-config --cflags --libs libktlsaccel) || fail pkg-config "build failed"
# The library the loader picks for a program, as a real path: with Debian's
# merged /usr, ldd names /lib/<triplet>/..., the same file.
linked_lib() {
	realpath -e "$(ldd "$1" | awk '$1 == "libktlsaccel.so.0" { print $3 }')" 2>/dev/null
}
packaged_lib=$(realpath -e "/usr/lib/$(gcc -print-multiarch)/libktlsaccel.so.0")
[[ $(linked_lib "$work/consumer-pc") == "$packaged_lib" ]] ||
	fail pkg-config "not linked to the packaged library: $(ldd "$work/consumer-pc")"
# A TLS program links libktlsaccel alone: not the control client, not libnl.
tls_only() {
	local needed
	needed=$(readelf -dW "$1" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
	grep -qx libktlsaccel.so.0 <<<"$needed" && ! grep -qE '^(libktlsaccel-control|libnl)' <<<"$needed"
}
tls_only "$work/consumer-pc" || fail pkg-config "needs more than libktlsaccel: $(readelf -dW "$work/consumer-pc" | grep NEEDED)"
before=$(completed) || exit 1
"$work/consumer-pc" "$work/cert.pem" "$work/key.pem" | sed 's/^/  /' ||
	fail pkg-config "the program failed"
after=$(completed) || exit 1
(( after > before )) || fail pkg-config "the engine completed no requests ($before -> $after)"
echo "  engine completed $((after - before)) requests"
ok "pkg-config --cflags --libs libktlsaccel: builds, links libktlsaccel alone, offloads"

run cmake -S "$src/tests/packaging/consumer-cmake" -B "$work/consumer-cmake" \
	-DCMAKE_BUILD_TYPE=Release || fail find_package "configure failed"
run cmake --build "$work/consumer-cmake" || fail find_package "build failed"
before=$(completed) || exit 1
out=$("$work/consumer-cmake/ktlsaccel-consumer-cmake" "$work/cert.pem" "$work/key.pem") ||
	fail find_package "the program failed: $out"
after=$(completed) || exit 1
echo "  $out"
grep -q "kernel driver ktlsaccel-" <<<"$out" || fail find_package "the kernel did not choose ktlsaccel"
tls_only "$work/consumer-cmake/ktlsaccel-consumer-cmake" ||
	fail find_package "needs more than libktlsaccel: $(readelf -dW "$work/consumer-cmake/ktlsaccel-consumer-cmake" | grep NEEDED)"
(( after > before )) || fail find_package "the engine completed no requests ($before -> $after)"
echo "  engine completed $((after - before)) requests"
ok "find_package(ktlsaccel): builds, links libktlsaccel alone, offloads"

# ---- the reboot into the upgrade's kernel ----------------------------------
# Save the root's changes for the guest that boots $upgrade: the upper
# layers as they stand, with the modprobe option this test added taken out
# again (the next boot adds and checks it).
if [[ $mode == upgrade ]]; then
	run modprobe -r ktlsaccel || fail save "modprobe -r failed"
	sed -i '/^options ktlsaccel queues=3 depth=64$/d' "$conf"
	printf 'state_upgrade=%q\nstate_installed_on=%q\nmandb_off=%q\n' \
		"$upgrade" "$kver" "$mandb_off" > "$work/ov/state"
	out_tar=${KTLSACCEL_RESULTS:?}/root-changes.tar
	rm -f "$out_tar"
	sync
	tar -C "$work/ov" --numeric-owner --xattrs --xattrs-include='trusted.*' \
		-cf "$out_tar.tmp" state etc/upper usr/upper var/upper ||
		fail save "tar of the upper layers failed"
	mv "$out_tar.tmp" "$out_tar"
	ok "root's changes saved for the reboot into $upgrade ($(du -m "$out_tar" | cut -f1) MiB)"
	echo "packaging test on $kver, before the reboot into $upgrade: all steps passed in $(( $(date +%s) - t0 ))s"
	exit 0
fi

# ---- remove ----------------------------------------------------------------
run modprobe -r ktlsaccel || fail purge "modprobe -r failed"
if ! dpkg --purge "${pkgs[@]}" > "$work/dpkg-purge.log" 2>&1; then
	cat "$work/dpkg-purge.log"
	fail purge "dpkg --purge failed"
fi
for p in "${pkgs[@]}"; do
	# purged: dpkg no longer knows it, or knows it as not-installed
	# ("deinstall ok config-files" would mean the purge left conffiles)
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ -z $st || $st == "unknown ok not-installed" ]] || fail purge "$p: $st"
done
[[ -z $(dkms status -m ktlsaccel) ]] || fail purge "dkms still knows it: $(dkms status -m ktlsaccel)"
! modinfo ktlsaccel > /dev/null 2>&1 || fail purge "modinfo still finds ktlsaccel"
for k in /lib/modules/*/; do
	! grep -qs ktlsaccel "$k"modules.dep "$k"modules.alias ||
		fail purge "ktlsaccel still in $k modules.dep/alias"
done
ok "dpkg --purge"

if ((mandb_off)); then
	: > "$mandb_flag"
fi

# Left behind: what the upper layers hold that the pristine root lacks.
# Expected and not ours: dkms's module-signing key, created by dkms on its
# first build on a machine and kept for later builds (its MOK enrolment
# outlives any one module).
left=""
for d in etc usr var; do
	up=$work/ov/$d/upper
	while IFS= read -r -d '' f; do
		rel=/$d/${f#"$up"/}
		if [[ -c $f ]]; then	# whiteout: a file of the root was deleted
			left+="  deleted $rel"$'\n'
		elif [[ ! -e $lower$rel && ! -L $lower$rel ]]; then
			case $rel in
			/var/lib/dkms/mok.key|/var/lib/dkms/mok.pub) continue ;;
			esac
			left+="  new $rel"$'\n'
		fi
	done < <(find "$up" -mindepth 1 -print0)
done
[[ -z $left ]] || fail "nothing left" "after the purge:"$'\n'"$left"
ok "nothing left behind (upper layers vs the pristine root)"

echo "packaging test on $kver: all steps passed in $(( $(date +%s) - t0 ))s"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install every Debian package that ktlsaccel's build, tests and demo need.
# Idempotent: run it as often as you like. Needs root and Debian 12.
#
# Kernel versions are chosen by query, never hard-coded: Debian's 6.1
# (linux-image-amd64 from bookworm) and the newest 6.12 image that
# bookworm-backports carries.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps.sh: must run as root (it calls apt-get)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# The kernel's postinst hooks build an initramfs for the host's boot loader.
# We boot the guest with our own tiny initramfs, so skip that (slow) step.
mkdir -p /etc/initramfs-tools
if [[ -f /etc/initramfs-tools/update-initramfs.conf ]] &&
   ! grep -q '^update_initramfs=no' /etc/initramfs-tools/update-initramfs.conf; then
	sed -i 's/^update_initramfs=.*/update_initramfs=no/' /etc/initramfs-tools/update-initramfs.conf
fi

# bookworm-backports carries the 6.12 kernel.
have_backports() {
	grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! have_backports; then
	cat > /etc/apt/sources.list.d/ktlsaccel-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

stamp=/var/lib/apt/periodic/ktlsaccel-update-stamp
if [[ ! -f $stamp ]] || [[ -n $(find "$stamp" -mmin +360 2>/dev/null) ]] ||
   [[ /etc/apt/sources.list.d -nt $stamp ]]; then
	apt-get update -q
	mkdir -p "$(dirname "$stamp")"
	touch "$stamp"
fi

pkgs=(
	# build, and kernel lint (checkpatch.pl comes from linux-source-6.1)
	build-essential cmake pkg-config kmod bc flex bison libelf-dev
	sparse linux-source-6.1
	# guest
	qemu-system-x86 busybox-static cpio xz-utils zstd iproute2
	# userspace libraries
	libnl-3-dev libnl-genl-3-dev libkcapi-dev kcapi-tools libssl-dev openssl
	libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libfmt-dev
	libmbedtls-dev libyaml-cpp-dev
	# benchmark plots (scripts/bench)
	gnuplot-nox
	# known-answer vectors (NIST CAVP) and tooling
	python3 python3-cryptography-vectors python3-yaml
	# Debian packages (packaging/): DKMS in the guest test, lintian on them;
	# the installed bash completion is exercised with bash-completion's own
	# helpers
	dkms lintian bash-completion
	# lint of the shell scripts
	shellcheck
	# kernel 6.1 from bookworm
	linux-image-amd64 linux-headers-amd64
)

# Newest generic 6.12 image, by query. bookworm-backports names it
# linux-image-6.12.N+bpo-amd64; bookworm itself now also carries 6.12 as
# linux-image-6.12.N+deb12-amd64. Take the highest N of either, and never a
# flavour (-rt, -cloud) or a -dbg/-unsigned package.
bpo_image=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+[a-z0-9]+-amd64$' |
	awk '{print $1}' | sort -V | tail -n 1)
if [[ -z $bpo_image ]]; then
	echo "install-deps.sh: no linux-image-6.12.*-amd64 found (is bookworm-backports reachable?)" >&2
	exit 1
fi
bpo_headers=${bpo_image/linux-image-/linux-headers-}
pkgs+=("$bpo_image" "$bpo_headers")

# The newest 6.12 PREEMPT_RT image as well: what many embedded boards run,
# and the kernel where spinlocks sleep and softirqs run in threads, so the
# engine's context rules are tested there too (a third kernel in the suite).
rt_image=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+[a-z0-9]+-rt-amd64$' |
	awk '{print $1}' | sort -V | tail -n 1)
if [[ -z $rt_image ]]; then
	echo "install-deps.sh: no linux-image-6.12.*-rt-amd64 found" >&2
	exit 1
fi
pkgs+=("$rt_image" "${rt_image/linux-image-/linux-headers-}")

apt-get install -y -q --no-install-recommends "${pkgs[@]}"

echo "install-deps.sh: kernels with headers:"
for d in /lib/modules/*/build; do
	[[ -e $d/Makefile ]] && echo "  $(basename "$(dirname "$d")")"
done

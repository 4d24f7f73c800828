#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install every Debian package that building, testing, documenting and
# running the demo of libparavisor needs (Debian 12, run as root). Packages
# already installed are not touched; when all are present nothing runs, so
# calling this before every build is cheap.
#
# usage: bash scripts/deps.sh [--list]
#   --list   print the package list and exit
set -euo pipefail

# The single list. Group comments say who needs what.
PACKAGES=(
	# compilers and build
	build-essential cmake pkg-config clang lld llvm libclang-rt-14-dev git
	# libraries: unit tests, vTPM, attestation crypto, device tree
	libcmocka-dev libtpms-dev libmbedtls-dev libfdt-dev
	# docs, coverage, memory checking, formatting
	doxygen gcovr valgrind clang-format
	# device and firmware tooling used by tests (ACPI tables, TPM clients)
	acpica-tools tpm2-tools swtpm
	# nested lab (scripts/test.sh, scripts/demo.sh): outer VM, initramfs tools
	qemu-system-x86 busybox-static cpio xz-utils zstd file
)

if [ "${1:-}" = "--list" ]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing+=("$p") ;;
	esac
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi

echo "deps: installing ${#missing[@]} missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: must run as root to install packages (or install them yourself)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "deps: done"

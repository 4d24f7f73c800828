#!/bin/bash
# SPDX-License-Identifier: MIT
# Build the inner guest's initramfs: busybox-static, the Hyper-V modules of
# the Debian kernel (hv_vmbus, hv_utils, hv_storvsc and their dependencies;
# tpm_crb too when it is a module) and the acceptance script as /init.
#
# usage: build-inner-initramfs.sh [--init SCRIPT] [OUT]
#   --init  use SCRIPT as /init instead of the acceptance script
#           (inner-init-boot.sh: boot to init, then ACPI power-off)
#   OUT     default $PV_LAB_CACHE/inner-initramfs.cpio.gz
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-lib.sh"

init=$here/inner-init.sh
if [ "${1:-}" = --init ]; then
	init=$2
	shift 2
fi
out=${1:-$PV_LAB_CACHE/inner-initramfs.cpio.gz}
lab_fetch_kernel
root=$(mktemp -d "${TMPDIR:-/tmp}/pv-lab-inner.XXXXXX")
trap 'rm -rf "$root"' EXIT

lab_busybox_root "$root"
# tpm_crb is built in on Debian's 6.1 kernels; lab_copy_modules skips built-ins.
lab_copy_modules "$root/lib/modules" hv_vmbus hv_utils hv_storvsc tpm_crb
install -m 755 "$init" "$root/init"
install -m 755 "$here/lab-poweroff.sh" "$root/sbin/poweroff"
lab_pack "$root" "$out"
lab_log "inner initramfs: $out ($(stat -c %s "$out") bytes; modules: $(tr '\n' ' ' <"$root/lib/modules/load-order"))"
echo "$out"

#!/bin/bash
# SPDX-License-Identifier: MIT
# Build the outer lab VM's initramfs: busybox-static, kvm-amd and its
# dependencies from the Debian kernel, the payload (a program run with
# /dev/kvm: pvrun or kvm-smoke) with its shared libraries, the inner kernel
# (the same Debian bzImage) and the inner initramfs.
#
# usage: build-outer-initramfs.sh --payload EXE --payload-args STR
#            [--inner-initramfs FILE] [--input-word W] [--no-inner-kernel]
#            [--extra-root DIR] [--pin MASK] --out FILE
#   --extra-root  files to add as they are (DIR/usr/share/x -> /usr/share/x),
#                 e.g. the firmware of another VMM used as the payload
#   --pin         run the payload under "taskset MASK" in the outer VM
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-lib.sh"

payload="" args="" inner="" out="" input="" inner_kernel=1 extra="" pin=""
while [ $# -gt 0 ]; do
	case "$1" in
	--payload) payload=$2; shift 2 ;;
	--payload-args) args=$2; shift 2 ;;
	--inner-initramfs) inner=$2; shift 2 ;;
	--input-word) input=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--no-inner-kernel) inner_kernel=0; shift ;;
	--extra-root) extra=$2; shift 2 ;;
	--pin) pin=$2; shift 2 ;;
	*) lab_die "build-outer-initramfs: unknown argument $1" ;;
	esac
done
[ -n "$payload" ] && [ -n "$out" ] || lab_die "build-outer-initramfs: --payload and --out are required"
[ -x "$payload" ] || lab_die "payload $payload is not an executable"

lab_fetch_kernel
root=$(mktemp -d "${TMPDIR:-/tmp}/pv-lab-outer.XXXXXX")
trap 'rm -rf "$root"' EXIT

lab_busybox_root "$root"
lab_copy_modules "$root/lab/modules" kvm-amd
lab_copy_exe "$root" "$payload" /lab/payload.bin
cat >"$root/lab/payload" <<'WRAP'
#!/bin/sh
/lab/payload.bin "$@"
rc=$?
echo "$rc" >/tmp/payload-rc
exit "$rc"
WRAP
chmod 755 "$root/lab/payload"
printf '%s\n' "$args" >"$root/lab/payload-args"
printf '%s\n' "$input" >"$root/lab/input-word"
printf '%s\n' "$pin" >"$root/lab/pin"
mkdir -p "$root/lab/inner"
[ "$inner_kernel" = 1 ] && cp "$LAB_VMLINUZ" "$root/lab/inner/bzImage"
if [ -n "$inner" ]; then
	[ -f "$inner" ] || lab_die "inner initramfs $inner not found"
	cp "$inner" "$root/lab/inner/initrd.img"
fi
if [ -n "$extra" ]; then
	[ -d "$extra" ] || lab_die "extra root $extra is not a directory"
	cp -a "$extra/." "$root/"
fi
install -m 755 "$here/outer-init.sh" "$root/init"
lab_pack "$root" "$out"
echo "$out"

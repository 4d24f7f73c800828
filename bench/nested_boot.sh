#!/bin/bash
# SPDX-License-Identifier: MIT
# nested_boot: Debian's stock kernel booted to /init and powered off, inside
# the nested lab (tests/nested), with pvrun as the inner VMM and then with
# QEMU as the inner VMM (the limit: `-M pc -nic none`, KVM, same kernel,
# same initramfs, same memory), alternating, in the same run. Prints each
# run's start-to-exit time (measured by the outer VM's clock from starting
# the VMM to its exit) and the inner kernel's uptime at /init, then the
# medians and the ratio pvrun / QEMU (< 1: pvrun is faster).
#
# usage: bench/nested_boot.sh [--build DIR] [--rounds N]
#   --build   libparavisor build directory with examples/pvrun (default build)
#   --rounds  pvrun/QEMU pairs (default 3; one pair takes about a minute)
# Needs what the lab needs (scripts/deps.sh) plus qemu-system-x86 and
# seabios on this machine (they are carried into the outer VM).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lab=$root/tests/nested
. "$lab/lab-lib.sh"

build=$root/build rounds=3
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	-h | --help) sed -n '3,15p' "$0"; exit 0 ;;
	*) lab_die "nested_boot: unknown argument $1 (see --help)" ;;
	esac
done
case "$rounds" in '' | *[!0-9]* | 0) lab_die "--rounds needs a positive whole number" ;; esac
pvrun=$build/examples/pvrun/pvrun
qemu=$(command -v qemu-system-x86_64) || lab_die "qemu-system-x86_64 missing"
[ -x "$pvrun" ] || lab_die "$pvrun not built"

# QEMU's firmware for -M pc with the default VGA, at Debian's paths (given
# with -L: the payload runs from /lab, so QEMU's paths relative to its
# binary do not apply).
extra=$(mktemp -d "${TMPDIR:-/tmp}/pv-bench-qemu.XXXXXX")
logs=$(mktemp -d "${TMPDIR:-/tmp}/pv-bench-logs.XXXXXX")
trap 'rm -rf "$extra" "$logs"' EXIT
for f in /usr/share/seabios/bios-256k.bin /usr/share/seabios/vgabios-stdvga.bin \
	/usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin; do
	[ -e "$f" ] || lab_die "$f missing (apt-get install qemu-system-x86 seabios)"
	mkdir -p "$extra$(dirname "$f")"
	cp -L "$f" "$extra$f"
done

cmdline="console=ttyS0 quiet panic=-1 tsc_early_khz=@TSC_KHZ@"
pvrun_args="--kernel @INNER_KERNEL@ --initrd @INNER_INITRD@ --cmdline '$cmdline' --device uart --device rtc --device pit --mem 512 --timeout 280"
qemu_args="-L /usr/share/seabios -L /usr/share/qemu -M pc -nic none -accel kvm -m 512 -display none -monitor none -serial stdio -no-reboot -kernel @INNER_KERNEL@ -initrd @INNER_INITRD@ -append '$cmdline'"

# run NAME PAYLOAD ARGS [EXTRA]: one boot-only lab run; prints
# "NAME <start-to-exit s> <inner uptime at /init s>" or fails.
run() {
	local name=$1 payload=$2 args=$3 log=$logs/$1.log
	if ! "$lab/run-lab.sh" --payload "$payload" --inner-init "$lab/inner-init-boot.sh" \
		--pvrun-args "$args" --success "lab-inner: RESULT PASS" --timeout 300 \
		${4:+--outer-extra "$4"} --log "$log.console" >"$log" 2>&1; then
		echo "nested_boot: the $name run failed; its output:" >&2
		tail -n 40 "$log" >&2
		return 1
	fi
	local span init
	span=$(sed -n 's/.*lab-outer: payload finished uptime=\([0-9.]*\) started=\([0-9.]*\).*/\1 \2/p' "$log" |
		head -n 1 | awk '{ printf "%.2f", $1 - $2 }')
	init=$(sed -n 's/.*lab-inner: init reached uptime=\([0-9.]*\).*/\1/p' "$log" | head -n 1)
	echo "$name ${span:-?} ${init:-?}"
}

results=$logs/results
: >"$results"
for i in $(seq 1 "$rounds"); do
	run pvrun "$pvrun" "$pvrun_args" >>"$results" || exit 1
	run qemu "$qemu" "$qemu_args" "$extra" >>"$results" || exit 1
	tail -n 2 "$results" | sed "s/^/nested_boot: round $i: /"
done
awk '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$1 == "pvrun" { p[++np] = $2; pi[np] = $3 }
	$1 == "qemu" { q[++nq] = $2; qi[nq] = $3 }
	END {
		mp = median(p, np); mq = median(q, nq)
		printf "nested_boot: start-to-exit median: pvrun %.2f s, QEMU %.2f s (limit); ratio pvrun/QEMU %.2f\n", mp, mq, mp / mq
		printf "nested_boot: inner kernel uptime at /init median: pvrun %.2f s, QEMU %.2f s\n", median(pi, np), median(qi, nq)
	}' "$results"

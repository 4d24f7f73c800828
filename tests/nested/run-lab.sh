#!/bin/bash
# SPDX-License-Identifier: MIT
# The nested lab runner: boots Debian's kernel in a QEMU TCG VM with an AMD
# CPU model that exposes SVM, loads kvm-amd there and runs a payload with
# /dev/kvm: pvrun (booting the same kernel with the inner initramfs on
# libparavisor) or, when no pvrun is available, the kvm-smoke program.
#
# usage: run-lab.sh [--pvrun-args "ARGS"] [--inner-initramfs FILE]
#                   [--timeout S] [--payload EXE] [--build DIR]
#                   [--success "MARKER"] [--log FILE] [--outer-extra DIR]
#
#   --pvrun-args   arguments for the payload; @INNER_KERNEL@, @INNER_INITRD@
#                  and @HOSTTIME@ are substituted inside the outer VM
#   --inner-initramfs  initramfs for the inner guest (default: built by
#                  build-inner-initramfs.sh when the payload is not kvm-smoke)
#   --inner-init   /init for that default initramfs (default: the
#                  acceptance script inner-init.sh; inner-init-boot.sh only
#                  boots to init and powers off)
#   --timeout      wall-clock limit for the whole run (default 180 s)
#   --payload      program to run in the outer VM, or "smoke" for kvm-smoke
#                  (default: BUILD/examples/pvrun/pvrun if it exists, else
#                  kvm-smoke)
#   --build        libparavisor build directory (default: ../../build)
#   --success      line that must appear for success (default: "lab-inner:
#                  RESULT PASS" for pvrun, "kvm-smoke: PASS" for kvm-smoke)
#   --log          keep the whole console log here
#   --outer-extra  directory tree added to the outer VM's root as it is
#                  (e.g. another VMM's firmware when the payload is that VMM)
#
# Prints both consoles (the inner one prefixed with "[inner] "). Exits 0 only
# if the success line appeared and the payload exited with status 0; 1 on
# failure; 124 on timeout ("lab: timed out after N s waiting for ...");
# 125 when the outer kernel reports a soft lockup or an RCU stall; 2 on
# setup errors.
#
# Environment: PV_LAB_SMP (outer VM CPUs, default 1: the two hangs seen with
# 2 CPUs were the outer VM's CPUs stalling each other, see README.md),
# PV_LAB_CPU (QEMU -cpu model, default EPYC), PV_LAB_ACCEL (default tcg),
# PV_LAB_CACHE (download cache), PV_LAB_SHUTDOWN_AFTER (pvrun's backstop),
# PV_LAB_PIN (a CPU mask: the payload runs under taskset in the outer VM).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-lib.sh"

pvrun_args="" inner="" inner_init="" timeout=180 payload="" build="" success="" log="" extra=""
while [ $# -gt 0 ]; do
	case "$1" in
	--pvrun-args) pvrun_args=$2; shift 2 ;;
	--inner-initramfs) inner=$2; shift 2 ;;
	--inner-init) inner_init=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--payload) payload=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--success) success=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--outer-extra) extra=$2; shift 2 ;;
	-h | --help) sed -n '3,40p' "$0"; exit 0 ;;
	*) lab_die "unknown argument $1 (see --help)" ;;
	esac
done
case "$timeout" in '' | *[!0-9]*) lab_die "--timeout needs whole seconds" ;; esac
build=${build:-$here/../../build}
command -v qemu-system-x86_64 >/dev/null || lab_die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"

t_start=$(date +%s.%N)
deadline=$(($(date +%s) + timeout))
elapsed() { echo "$(date +%s.%N) $t_start" | awk '{ printf "%.1f", $1 - $2 }'; }

lab_fetch_kernel
# Each run builds its initramfs images in a directory of its own, so that
# runs can overlap (ctest -j, two shells) without booting each other's.
mkdir -p "$PV_LAB_CACHE/run"
rundir=$(mktemp -d "$PV_LAB_CACHE/run/lab.XXXXXX") || lab_die "cannot create a run directory under $PV_LAB_CACHE/run"
trap 'rm -rf "$rundir"' EXIT

input_word=""
if [ -z "$payload" ] && [ -x "$build/examples/pvrun/pvrun" ]; then
	payload=$build/examples/pvrun/pvrun
fi
if [ -z "$payload" ] || [ "$payload" = smoke ]; then
	payload=$PV_LAB_CACHE/kvm-smoke
	if [ ! -x "$payload" ] || [ "$here/kvm-smoke.c" -nt "$payload" ]; then
		${CC:-cc} -static -O2 -Wall -Wextra -o "$payload" "$here/kvm-smoke.c" ||
			lab_die "cannot build kvm-smoke statically (libc6-dev provides libc.a)"
	fi
	success=${success:-kvm-smoke: PASS}
else
	[ -x "$payload" ] || lab_die "payload $payload not executable"
	success=${success:-lab-inner: RESULT PASS}
	input_word=labinput42
	if [ -z "$pvrun_args" ]; then
		pvrun_args="--kernel @INNER_KERNEL@ --initrd @INNER_INITRD@ --cmdline 'console=ttyS0 no_timer_check tsc_early_khz=@TSC_KHZ@ lab_host_time=@HOSTTIME@ quiet lab_input=$input_word' --device uart --device rtc --device vtpm --tpm-state /tmp/tpm --device vmbus --cpu-vendor-intel --shutdown-after ${PV_LAB_SHUTDOWN_AFTER:-150}"
	fi
	if [ -z "$inner" ]; then
		inner=$rundir/inner-initramfs.cpio.gz
		"$here/build-inner-initramfs.sh" ${inner_init:+--init "$inner_init"} "$inner" >/dev/null ||
			lab_die "building the inner initramfs failed"
	fi
fi

outer=$rundir/outer-initramfs.cpio.gz
"$here/build-outer-initramfs.sh" --payload "$payload" --payload-args "$pvrun_args" \
	${inner:+--inner-initramfs "$inner"} --input-word "$input_word" ${extra:+--extra-root "$extra"} \
	${PV_LAB_PIN:+--pin "$PV_LAB_PIN"} \
	$([ "$(basename "$payload")" = kvm-smoke ] && echo --no-inner-kernel) --out "$outer" >/dev/null ||
	lab_die "building the outer initramfs failed"
lab_log "payload $(basename "$payload"); initramfs ready after $(elapsed) s; booting the outer VM"

log=${log:-$PV_LAB_CACHE/run/console.log}
qemu_err=${log%.log}.qemu-stderr
: >"$log"
qemu-system-x86_64 -accel "${PV_LAB_ACCEL:-tcg}" -cpu "${PV_LAB_CPU:-EPYC}" -m 2048 -smp "${PV_LAB_SMP:-1}" \
	-display none -monitor none -serial stdio -no-reboot \
	-kernel "$LAB_VMLINUZ" -initrd "$outer" \
	-append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init softlockup_all_cpu_backtrace=1" \
	</dev/null >"$log" 2>"$qemu_err" &
qemu=$!
tail -n +1 -f "$log" &
tailer=$!
cleanup() {
	kill "$qemu" 2>/dev/null
	kill "$tailer" 2>/dev/null
	wait "$qemu" 2>/dev/null
	rm -rf "$rundir"
}
trap cleanup EXIT

stage="the outer kernel to reach /init"
t_init="" t_kvm="" t_end=""
while :; do
	if [ -z "$t_init" ] && grep -q '^lab-outer: init reached' "$log"; then
		t_init=$(elapsed)
		stage="/dev/kvm (loading kvm-amd)"
	fi
	if [ -z "$t_kvm" ] && grep -q '^lab-outer: /dev/kvm ready' "$log"; then
		t_kvm=$(elapsed)
		stage="the payload ($(basename "$payload")) to finish"
	fi
	if grep -q '^lab-outer: payload exit=' "$log"; then
		t_end=$(elapsed)
		break
	fi
	if ! kill -0 "$qemu" 2>/dev/null; then
		sleep 0.5
		grep -q '^lab-outer: payload exit=' "$log" && { t_end=$(elapsed); break; }
		echo "lab: the outer VM stopped while waiting for $stage"
		exit 1
	fi
	# A hung outer kernel never recovers: stop at once (after a few seconds
	# for the backtrace) instead of waiting for the deadline.
	if grep -qE 'soft lockup - CPU#|rcu: INFO: .* (self-)?detected stall' "$log"; then
		sleep 8
		echo "lab: the outer VM's kernel reports a hang (soft lockup or RCU stall) while waiting for $stage; see the backtrace above"
		exit 125
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		sleep 0.5
		echo "lab: timed out after $timeout s waiting for $stage"
		exit 124
	fi
	sleep 0.5
done
# Let the tail print the last lines, then stop the VM.
sleep 1
n_warn=$(grep -c "TCG doesn't support" "$qemu_err")
[ "$n_warn" -gt 0 ] && echo "lab: qemu printed $n_warn warnings about CPU features TCG lacks (see $qemu_err)"
grep -v "TCG doesn't support" "$qemu_err"
rc=$(sed -n 's/^lab-outer: payload exit=\([0-9]*\).*/\1/p' "$log" | head -n 1 | tr -d '\r')
guest_kvm=$(sed -n 's/^lab-outer: \/dev\/kvm ready uptime=\([0-9.]*\).*/\1/p' "$log" | head -n 1)
inner_init=$(sed -n 's/.*lab-inner: init reached uptime=\([0-9.]*\).*/\1/p' "$log" | head -n 1)
echo "lab: summary: wall time $(elapsed) s; outer VM /init at ${t_init:-?} s, /dev/kvm ready at ${t_kvm:-?} s wall (${guest_kvm:-?} s guest uptime); payload done at ${t_end:-?} s, exit ${rc:-?}${inner_init:+; inner guest reached /init at ${inner_init} s of its uptime}"
if grep -qF "$success" "$log" && [ "$rc" = 0 ]; then
	echo "lab: PASS ($success)"
	exit 0
fi
echo "lab: FAIL (payload exit ${rc:-?}; success line '$success' $(grep -qF "$success" "$log" && echo seen || echo "not seen"))"
exit 1

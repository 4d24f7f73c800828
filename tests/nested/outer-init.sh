#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the outer lab VM (QEMU TCG, AMD CPU model with SVM). Loads
# kvm-amd, reports when /dev/kvm works, runs the payload (pvrun or
# kvm-smoke) with the arguments in /lab/payload-args, prints its exit code
# and powers off. Lines it prints start with "lab-outer:"; the payload's
# output (the inner guest's console, for pvrun) is prefixed with "[inner] ".
#
# In /lab/payload-args, @HOSTTIME@ becomes the current Unix time (the outer
# VM's clock is the host's, read from QEMU's RTC), @INNER_KERNEL@ and
# @INNER_INITRD@ the paths of the inner kernel and initramfs, @TSC_KHZ@ the
# TSC frequency the outer kernel measured (for the inner kernel's
# tsc_early_khz=: exits are too slow in the nested guest for Linux to
# calibrate its TSC against the PM timer).
PATH=/bin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp
up() { cut -d' ' -f1 /proc/uptime; }
echo "lab-outer: init reached uptime=$(up)"

for m in $(cat /lab/modules/load-order); do
	insmod "/lab/modules/$m" || echo "lab-outer: insmod $m failed"
done
if [ -c /dev/kvm ]; then
	echo "lab-outer: /dev/kvm ready uptime=$(up)"
	p=/sys/module/kvm_amd/parameters
	echo "lab-outer: kvm_amd npt=$(cat $p/npt 2>/dev/null) nested=$(cat $p/nested 2>/dev/null) avic=$(cat $p/avic 2>/dev/null); cpus=$(grep -c ^processor /proc/cpuinfo)"
else
	echo "lab-outer: FAIL no /dev/kvm after loading kvm-amd (is SVM exposed? $(grep -c svm /proc/cpuinfo) cpus with svm)"
	echo "lab-outer: payload exit=127"
	poweroff -f
fi

# From here on the console shows every kernel message: a soft lockup or RCU
# stall report then comes with its backtrace.
echo 7 >/proc/sys/kernel/printk
args=$(cat /lab/payload-args 2>/dev/null)
tsc_khz=$(dmesg | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9][0-9][0-9]\) MHz.*/\1\2/p' | head -n 1)
echo "lab-outer: TSC ${tsc_khz:-unknown} kHz"
args=$(echo "$args" | sed -e "s|@HOSTTIME@|$(date +%s)|g" -e "s|@TSC_KHZ@|${tsc_khz:-0}|g" \
	-e "s|@INNER_KERNEL@|/lab/inner/bzImage|g" -e "s|@INNER_INITRD@|/lab/inner/initrd.img|g")
input=$(cat /lab/input-word 2>/dev/null)
# PV_LAB_PIN on the host: keep the payload on the outer CPUs of this mask.
pin=$(cat /lab/pin 2>/dev/null)
[ -n "$pin" ] && echo "lab-outer: payload pinned: taskset $pin"
echo "lab-outer: running payload: /lab/payload $args"
t0=$(up)
# Serial input for the inner acceptance script: when the inner guest prints
# "lab-inner: want-input", type one line "<word> <host unix time>" on
# pvrun's stdin (a fresh host time: the nested guest's clock runs slow).
rm -f /tmp/want-input /tmp/payload-rc
(
	[ -n "$input" ] || exit 0
	# Stop once the payload has finished (its wrapper writes payload-rc),
	# or this pipeline would never end.
	while [ ! -e /tmp/payload-rc ]; do
		sleep 1
		if [ -e /tmp/want-input ]; then
			rm -f /tmp/want-input
			echo "$input $(date +%s)"
		fi
	done
) | eval "${pin:+taskset $pin }/lab/payload $args" 2>&1 | while IFS= read -r line; do
	echo "[inner] $line"
	case "$line" in
	*"lab-inner: want-input"*) touch /tmp/want-input ;;
	*"lab-inner: waiting for the host's shutdown request"*)
		# pvrun turns SIGTERM into a request through the shutdown IC.
		pid=$(pidof payload.bin)
		echo "lab-outer: asking the payload (pid ${pid:-none}) for a guest shutdown: SIGTERM"
		[ -n "$pid" ] && kill -TERM $pid
		;;
	esac
done
echo "lab-outer: payload finished uptime=$(up) started=$t0"
# ash has no PIPESTATUS: the /lab/payload wrapper writes the status here.
rc=$(cat /tmp/payload-rc 2>/dev/null || echo 126)
echo "lab-outer: payload exit=$rc"
sync
poweroff -f

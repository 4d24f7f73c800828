#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the inner guest (the Debian kernel running on libparavisor's kvm
# port inside the lab VM). It loads the Hyper-V modules, then checks what
# issue #7 asks for and prints one line per check:
#   lab-inner: PASS <check>            or   lab-inner: FAIL <check>: <why>
# then waits for the host to shut it down through the shutdown IC. The
# kernel's orderly power-off runs /sbin/poweroff (lab-poweroff.sh), which
# prints the closing "lab-inner: RESULT PASS|FAIL" line and powers off
# through ACPI.
#
# Kernel command line parameters read here:
#   lab_host_time=<unix seconds>  host wall time when pvrun started
#   lab_input=<word>              word the host types on the serial input
#                                 (after "lab-inner: want-input", with its time)
#   lab_wait=<seconds>            how long to wait for devices (default 20)

PATH=/bin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp
: >/tmp/lab-fails

up() { cut -d' ' -f1 /proc/uptime; }
echo "lab-inner: init reached uptime=$(up) cpus=$(grep -c ^processor /proc/cpuinfo)"

arg() {
	for w in $(cat /proc/cmdline); do
		case "$w" in "$1"=*) echo "${w#*=}"; return ;; esac
	done
}
HOST_TIME=$(arg lab_host_time)
INPUT_WORD=$(arg lab_input)
WAIT=$(arg lab_wait)
WAIT=${WAIT:-20}

pass() { echo "lab-inner: PASS $1"; }
fail() {
	_check=$1
	shift
	echo "lab-inner: FAIL $_check: $*"
	echo "$_check" >>/tmp/lab-fails
}

for m in $(cat /lib/modules/load-order 2>/dev/null); do
	insmod "/lib/modules/$m" 2>/dev/null || echo "lab-inner: note: insmod $m failed"
done

# wait_for CMD...: retry a test for up to $WAIT seconds.
wait_for() {
	i=0
	while [ "$i" -lt "$WAIT" ]; do
		"$@" && return 0
		sleep 1
		i=$((i + 1))
	done
	"$@"
}

# --- VMBus devices with the offered class GUIDs, bound to hv_utils ---------
HEARTBEAT=57164f39-9115-4e78-ab55-382f3bd5422d
SHUTDOWN=0e0b6031-5213-4934-818b-38d90ced39db
TIMESYNC=9527e630-d0ae-497b-adce-e80ab0175caf

find_class() {
	for d in /sys/bus/vmbus/devices/*; do
		[ -f "$d/class_id" ] || continue
		if grep -qi "$1" "$d/class_id"; then
			echo "$d"
			return 0
		fi
	done
	return 1
}
has_class() { find_class "$1" >/dev/null; }

if wait_for test -d /sys/bus/vmbus/devices; then
	pass vmbus-bus
else
	fail vmbus-bus "no /sys/bus/vmbus/devices (hv_vmbus did not bind to the ACPI VMBus device)"
fi
for pair in heartbeat:$HEARTBEAT shutdown:$SHUTDOWN timesync:$TIMESYNC; do
	name=${pair%%:*}
	guid=${pair#*:}
	if wait_for has_class "$guid"; then
		pass "vmbus-offer-$name"
		dev=$(find_class "$guid")
		drv=$(readlink "$dev/driver" 2>/dev/null)
		case "$drv" in
		*/hv_utils) pass "hv_utils-bound-$name" ;;
		*) fail "hv_utils-bound-$name" "driver is '${drv:-none}'" ;;
		esac
	else
		fail "vmbus-offer-$name" "class $guid not under /sys/bus/vmbus/devices"
		fail "hv_utils-bound-$name" "no device"
	fi
done

# --- Serial: interrupt driven output and input ------------------------------
serial_irqs() {
	awk '/ttyS0|serial/ { s = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; else break; print s; exit }' /proc/interrupts
}
irq_line=$(grep -m1 '^0:' /proc/tty/driver/serial 2>/dev/null)
case "$irq_line" in
*irq:0*) fail serial-irq "ttyS0 has no IRQ: $irq_line" ;;
*irq:*) pass serial-irq ;;
*) fail serial-irq "no /proc/tty/driver/serial line for ttyS0" ;;
esac
before=$(serial_irqs)
i=0
while [ $i -lt 20 ]; do
	echo "lab-inner: serial output line $i" >/dev/ttyS0
	i=$((i + 1))
done
after=$(serial_irqs)
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; then
	pass serial-output-interrupts
else
	fail serial-output-interrupts "ttyS0 interrupt count ${before:-?} -> ${after:-?}"
fi
# On request the host types one line "<lab_input> <unix time>"; the time
# also serves the RTC check.
LINE_TIME=""
if [ -n "$INPUT_WORD" ]; then
	got=""
	stty -F /dev/ttyS0 -echo icanon 2>/dev/null
	j=0
	while [ $j -lt 3 ] && [ "$got" != "$INPUT_WORD" ]; do
		echo "lab-inner: want-input"
		line=""
		read -r -t 30 line </dev/ttyS0
		line=$(echo "$line" | tr -d '\r')
		got=${line%% *}
		LINE_TIME=${line#* }
		[ "$LINE_TIME" = "$line" ] && LINE_TIME=""
		j=$((j + 1))
	done
	RTC_AT_LINE=$(cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null)
	if [ "$got" = "$INPUT_WORD" ]; then
		pass serial-input
	else
		fail serial-input "expected '$INPUT_WORD', read '$got'"
	fi
else
	fail serial-input "no lab_input= on the command line"
fi

# --- RTC ---------------------------------------------------------------------
# Compare /dev/rtc0 with the host time typed on the serial line (at most a
# few seconds old), or else with lab_host_time + uptime.
if [ -c /dev/rtc0 ] && [ -r /sys/class/rtc/rtc0/since_epoch ]; then
	case "$LINE_TIME" in
	'' | *[!0-9]*)
		rtc=$(cat /sys/class/rtc/rtc0/since_epoch)
		now=$((${HOST_TIME:-0} + $(up | cut -d. -f1)))
		;;
	*)
		rtc=$RTC_AT_LINE
		now=$LINE_TIME
		;;
	esac
	if [ -n "$LINE_TIME$HOST_TIME" ]; then
		d=$((rtc - now))
		[ $d -lt 0 ] && d=$((-d))
		if [ $d -le 60 ]; then
			pass rtc-time
		else
			fail rtc-time "rtc0 $rtc vs host ~$now (off by $d s)"
		fi
	else
		fail rtc-time "no host time (lab_input line or lab_host_time=)"
	fi
else
	fail rtc-time "no /dev/rtc0"
fi

# --- TPM -----------------------------------------------------------------------
if wait_for test -d /sys/class/tpm/tpm0; then
	pass tpm0
else
	fail tpm0 "no /sys/class/tpm/tpm0"
fi
pcr=$(cat /sys/class/tpm/tpm0/pcr-sha256/0 2>/dev/null)
if [ ${#pcr} -eq 64 ]; then
	pass tpm-pcr-sha256-0
else
	fail tpm-pcr-sha256-0 "read '$pcr'"
fi
n=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)
if [ "$n" -eq 16 ]; then
	pass hwrng
else
	hw=/sys/class/misc/hw_random
	fail hwrng "read $n bytes from /dev/hwrng (node: $(ls /dev/hwrng 2>&1);" \
		"current: $(cat $hw/rng_current 2>&1); available: $(cat $hw/rng_available 2>&1);" \
		"dd: $(dd if=/dev/hwrng bs=16 count=1 2>&1 >/dev/null | head -n 1))"
fi

echo "lab-inner: checks done fails=$(wc -l </tmp/lab-fails) uptime=$(up)"
: >/tmp/lab-checks-done
echo "lab-inner: waiting for the host's shutdown request"
# The shutdown IC makes the kernel run /sbin/poweroff; keep pid 1 alive.
while true; do
	sleep 5
done

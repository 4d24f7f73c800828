#!/bin/sh
# SPDX-License-Identifier: MIT
# /sbin/poweroff of the inner guest. The kernel runs it when hv_utils gets
# a shutdown request (orderly_poweroff). It reports the last check and the
# overall result, then powers off through ACPI (S5).
PATH=/bin:/sbin
# The kernel starts this usermode helper with no output attached: talk to
# the console.
exec >/dev/console 2>&1 </dev/null
echo "lab-inner: PASS shutdown-ic-request"
fails=$(wc -l </tmp/lab-fails 2>/dev/null || echo 1)
if [ ! -e /tmp/lab-checks-done ]; then
	echo "lab-inner: FAIL checks-finished: the shutdown request came before the checks ended"
	fails=$((fails + 1))
	echo checks-finished >>/tmp/lab-fails
fi
if [ "$fails" -eq 0 ]; then
	echo "lab-inner: RESULT PASS"
else
	echo "lab-inner: RESULT FAIL ($fails failed: $(tr '\n' ' ' </tmp/lab-fails))"
fi
sync
exec /bin/busybox poweroff -f

#!/bin/sh
# SPDX-License-Identifier: MIT
# Minimal /init for a boot-only inner run: report reaching init, then power
# off through ACPI (busybox poweroff -f -> kernel S5 -> PM1a control).
PATH=/bin:/sbin
mount -t proc proc /proc
echo "lab-inner: init reached uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "lab-inner: RESULT PASS (boot to init)"
poweroff -f

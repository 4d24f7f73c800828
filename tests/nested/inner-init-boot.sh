#!/bin/sh
# SPDX-License-Identifier: MIT
# Minimal /init for a boot-only inner run: report reaching init, then power
# off through ACPI (busybox poweroff -f -> kernel S5 -> PM1a control).
PATH=/bin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
echo "lab-inner: init reached uptime=$(cut -d' ' -f1 /proc/uptime) cpus=$(grep -c ^processor /proc/cpuinfo)"
echo "lab-inner: initial APIC IDs: $(sed -n 's/^initial apicid[^0-9]*//p' /proc/cpuinfo | tr '\n' ' ')"
echo "lab-inner: RESULT PASS (boot to init)"
poweroff -f

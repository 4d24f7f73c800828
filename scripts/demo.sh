#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# THE main-job command of libparavisor (README "Quick start"). Run as root on
# Debian 12; installs its own dependencies, builds into build/ and runs the
# demo:
#   - with a usable /dev/kvm and examples/pvrun built: pvrun runs the bundled
#     demo test microkernel on the kvm port (real hardware virtualization);
#   - otherwise (no /dev/kvm, or pvrun / the demo image not built): the same
#     library on the mock port, which needs no hypervisor at all:
#     examples/mock_demo if it is built, else pvrun --port mock.
# The fallback is announced on stderr with the reason.
# Then the Linux demo (issue #7): Debian's stock kernel booted by pvrun with
# libparavisor providing every device, run through the nested lab
# (tests/nested/run-lab.sh: a QEMU TCG VM whose own kernel runs KVM), with
# one PASS/FAIL line per acceptance check and pvrun's clean exit on the
# guest's ACPI power-off (about 40 s; the first run downloads the kernel).
#
# usage: bash scripts/demo.sh [--mock | --kvm] [--no-linux] [--no-deps]
#   --mock     always run the mock-port demo
#   --kvm      require the kvm demo (fail instead of falling back)
#   --no-linux skip the Linux demo
# environment: PV_DEMO_IMAGE (guest image for pvrun), PV_JOBS (default 2)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

mode=auto
deps=1
linux=1
for a in "$@"; do
	case "$a" in
	--mock) mode=mock ;;
	--kvm) mode=kvm ;;
	--no-linux) linux=0 ;;
	--no-deps) deps=0 ;;
	-h | --help)
		awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"
		exit 0
		;;
	*)
		echo "demo.sh: unknown option $a (try --help)" >&2
		exit 2
		;;
	esac
done
jobs=${PV_JOBS:-2}

[ "$deps" -eq 1 ] && bash "$root/scripts/deps.sh"

echo "demo: building into build/"
mkdir -p "$root/build"
cmake -S "$root" -B "$root/build" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DPV_BUILD_TESTS=ON -DPV_SANITIZE=OFF -DPV_COVERAGE=OFF >"$root/build/configure.log" 2>&1 ||
	{ cat "$root/build/configure.log"; exit 1; }
cmake --build "$root/build" -j "$jobs" >"$root/build/demo-build.log" 2>&1 ||
	{ tail -n 60 "$root/build/demo-build.log"; echo "demo: build failed" >&2; exit 1; }

pvrun=$root/build/examples/pvrun/pvrun
mock_demo=$root/build/examples/mock_demo/mock_demo
# The bundled demo guest (tests/tmk/demo, built next to pvrun), unless
# PV_DEMO_IMAGE names another image.
image=${PV_DEMO_IMAGE:-$root/build/examples/pvrun/pvrun_demo.elf}
pvrun_args=(--image "$image" --device testdev --vcpus 2)

kvm_usable() {
	[ -c /dev/kvm ] || return 1
	# Opening it read-write is what the kvm port does first.
	(exec 3<>/dev/kvm) 2>/dev/null
}

reason=""
status=0
ran=0
if [ "$mode" != mock ]; then
	if ! kvm_usable; then
		reason="/dev/kvm is missing or not usable"
	elif [ ! -x "$pvrun" ]; then
		reason="examples/pvrun was not built"
	elif [ ! -f "$image" ]; then
		reason="the demo guest image $image is missing"
	else
		echo "demo: kvm port: pvrun --port kvm ${pvrun_args[*]}"
		"$pvrun" --port kvm "${pvrun_args[@]}" || status=$?
		ran=1
	fi
	if [ "$ran" = 0 ] && [ "$mode" = kvm ]; then
		echo "demo: cannot run the kvm demo: $reason" >&2
		exit 1
	fi
	[ "$ran" = 0 ] && echo "demo: falling back to the mock port: $reason" >&2
fi

if [ "$ran" = 0 ]; then
	if [ -x "$mock_demo" ]; then
		echo "demo: mock port: $mock_demo"
		"$mock_demo" || status=$?
	elif [ -x "$pvrun" ] && [ -f "$image" ]; then
		# pvrun on the mock port replays a demo-shaped exit script through the
		# real dispatcher (the mock cannot execute x86 code).
		echo "demo: mock port: pvrun --port mock ${pvrun_args[*]}"
		"$pvrun" --port mock "${pvrun_args[@]}" || status=$?
	else
		echo "demo: neither examples/mock_demo nor examples/pvrun with its demo image was built" >&2
		exit 1
	fi
fi

if [ "$linux" = 1 ]; then
	echo
	echo "demo: Linux guest: Debian's stock kernel on pvrun (UART, RTC, vTPM, VMBus with"
	echo "demo: heartbeat/shutdown/timesync), inside a QEMU TCG VM: tests/nested/run-lab.sh --build build"
	"$root/tests/nested/run-lab.sh" --build "$root/build" || status=$?
fi
exit "$status"

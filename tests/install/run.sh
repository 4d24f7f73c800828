#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# install_consumers: install the built library into a temporary prefix, then
# build and run two outside projects against it from a temporary directory:
# a CMake project using find_package(paravisor) and a Makefile project using
# pkg-config, each linking the shared and the static library.
#
# usage: run.sh <build dir> <this folder> [C compiler]
set -euo pipefail

build=$(cd "${1:?build dir}" && pwd)
here=$(cd "${2:?tests/install dir}" && pwd)
cc=${3:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pv-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
for f in include/paravisor/pv.h include/paravisor/version.h include/paravisor/config.h; do
	[ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
pcdir=$(dirname "$(find "$prefix" -name paravisor.pc | head -n1)")
cfgdir=$(dirname "$(find "$prefix" -name paravisorConfig.cmake | head -n1)")
[ -f "$pcdir/paravisor.pc" ] || { echo "FAIL: paravisor.pc not installed"; exit 1; }
[ -f "$cfgdir/paravisorConfigVersion.cmake" ] || { echo "FAIL: CMake package not installed"; exit 1; }
ls "$prefix"/lib*/libparavisor.a "$prefix"/lib*/libparavisor.so* >/dev/null

# The consumers are copied out of the tree: nothing but the prefix is visible.
mkdir -p "$tmp/src"
cp "$here/consumer.c" "$here/consumer_mock.inc" "$tmp/src/"
cp -r "$here/consumer_cmake" "$here/consumer_make" "$tmp/"

check_run() {
	local exe=$1 out
	if ! out=$("$exe" 2>&1); then
		echo "$out"
		echo "FAIL: $exe exited with an error"
		exit 1
	fi
	echo "$out" | sed 's/^/    /'
	echo "$out" | grep -q '^CONSUMER OK$' || { echo "FAIL: $exe did not report CONSUMER OK"; exit 1; }
}

echo "== CMake consumer: find_package(paravisor)"
cmake -S "$tmp/consumer_cmake" -B "$tmp/build-cmake" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_PREFIX_PATH="$prefix" -DPV_CONSUMER_SRC="$tmp/src" >"$tmp/cmake.log" 2>&1 ||
	{ cat "$tmp/cmake.log"; echo "FAIL: configure of the CMake consumer"; exit 1; }
cmake --build "$tmp/build-cmake" >"$tmp/cmake-build.log" 2>&1 ||
	{ cat "$tmp/cmake-build.log"; echo "FAIL: build of the CMake consumer"; exit 1; }
for exe in consumer_shared consumer_static; do
	echo "  $exe:"
	check_run "$tmp/build-cmake/$exe"
done
ldd "$tmp/build-cmake/consumer_shared" >"$tmp/ldd-shared.txt"
if grep -q "libparavisor.so.* => $prefix/" "$tmp/ldd-shared.txt"; then
	echo "  consumer_shared loads $(grep -o "$prefix/[^ ]*libparavisor.so[^ ]*" "$tmp/ldd-shared.txt")"
else
	cat "$tmp/ldd-shared.txt"
	echo "FAIL: consumer_shared does not load the installed libparavisor.so"
	exit 1
fi

echo "== Makefile consumer: pkg-config --cflags --libs paravisor"
echo "  cflags: $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags paravisor)"
echo "  libs:   $(PKG_CONFIG_PATH=$pcdir pkg-config --libs paravisor)"
echo "  static: $(PKG_CONFIG_PATH=$pcdir pkg-config --static --libs paravisor)"
PKG_CONFIG_PATH=$pcdir make -C "$tmp/consumer_make" CC="$cc" SRC="$tmp/src" >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log"; echo "FAIL: build of the Makefile consumer"; exit 1; }
for exe in consumer_shared consumer_static; do
	echo "  $exe:"
	check_run "$tmp/consumer_make/$exe"
done
ldd "$tmp/consumer_make/consumer_shared" >"$tmp/ldd-make-shared.txt"
grep -q "libparavisor.so.* => $prefix/" "$tmp/ldd-make-shared.txt" ||
	{ cat "$tmp/ldd-make-shared.txt"; echo "FAIL: the Makefile consumer_shared does not load the installed library"; exit 1; }
ldd "$tmp/consumer_make/consumer_static" >"$tmp/ldd-static.txt" || true
if grep -q "libparavisor.so" "$tmp/ldd-static.txt"; then
	echo "FAIL: consumer_static is linked to the shared library"
	exit 1
fi

echo "install_consumers: OK"

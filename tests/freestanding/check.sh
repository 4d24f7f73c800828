#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Freestanding check: compile every .c file of the library (lib/core with all
# its subfolders, lib/isolation, lib/vmbus, and every other lib/ component
# except lib/hosted) with
# -ffreestanding -nostdinc, allowing only the compiler's own <stdint.h>,
# <stddef.h> and <stdbool.h> besides the project headers, then link all the
# objects with a tiny freestanding start object (_start, memcpy, memset,
# memmove, memcmp) using -nostdlib -static. Any libc header or any undefined
# symbol fails the check.
#
# Hosted-only code is excluded by name: lib/hosted/ (the pthread/calloc
# platform table), any hosted/ subfolder (e.g. lib/devices/hosted/: fd
# backends, the libtpms vTPM) and files named *_hosted.c or hosted*.c.
#
# usage: check.sh <source dir> <build dir (for generated headers)> [compiler] [work dir]
set -euo pipefail

src=$(cd "${1:?source dir}" && pwd)
build=$(cd "${2:?build dir}" && pwd)
cc=${3:-cc}
work=${4:-$build/freestanding}

rm -rf "$work"
mkdir -p "$work/obj"

sysinc=$("$cc" -print-file-name=include)
if [ ! -f "$sysinc/stdint.h" ]; then
	echo "freestanding: cannot find the compiler's own headers (got '$sysinc')" >&2
	exit 1
fi
sysinc=$(cd "$sysinc" && pwd -P)

# Every library folder except lib/hosted: lib/core (with hv1/, x86emu/),
# lib/isolation, lib/vmbus, and the OS-free parts of lib/devices, lib/acpi,
# lib/boot and any later component.
dirs=()
for d in "$src"/lib/*/; do
	d=${d%/}
	[ "$(basename "$d")" = hosted ] && continue
	[ -d "$d" ] && dirs+=("$d")
done
mapfile -t files < <(find "${dirs[@]}" -name '*.c' ! -path '*/hosted/*' ! -name '*_hosted.c' \
	! -name 'hosted*.c' | LC_ALL=C sort)
if [ "${#files[@]}" -eq 0 ]; then
	echo "freestanding: no sources found under ${dirs[*]}" >&2
	exit 1
fi

cflags=(-std=c11 -O2 -ffreestanding -nostdinc -isystem "$sysinc" -fno-stack-protector
	-fno-asynchronous-unwind-tables -DPV_FREESTANDING=1
	-I"$src/include" -I"$build/include" -I"$src/lib"
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
	-Wcast-align -Wwrite-strings -Wvla -Wundef -Wno-unused-parameter)
# stdint-gcc.h and __stddef_max_align_t.h are gcc's and clang's parts of those headers.
allowed_sys="stdint.h stdint-gcc.h stddef.h __stddef_max_align_t.h stdbool.h"

# Compile in parallel (one job per core), then check each file's header list.
jobs=$(nproc 2>/dev/null || echo 2)
obj_of() {
	echo "$work/obj/$(echo "${1#"$src"/}" | tr '/' '_').o"
}
for f in "${files[@]}"; do
	obj=$(obj_of "$f")
	(
		if ! "$cc" "${cflags[@]}" -MD -MF "$obj.d" -c "$f" -o "$obj" 2>"$obj.err"; then
			touch "$obj.failed"
		fi
	) &
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
done
wait

fail=0
objs=()
for f in "${files[@]}"; do
	rel=${f#"$src"/}
	obj=$(obj_of "$f")
	cat "$obj.err" >&2
	if [ -e "$obj.failed" ]; then
		echo "freestanding: FAIL compile $rel" >&2
		fail=1
		continue
	fi
	objs+=("$obj")
	# Every header used must be a project header or one of the allowed compiler headers.
	for h in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$obj.d"); do
		[ "$h" = "$f" ] && continue
		case "$h" in *.c) continue ;; esac
		hp=$(cd "$(dirname "$h")" && pwd -P)/$(basename "$h")
		case "$hp" in
		"$src"/include/* | "$src"/lib/* | "$build"/include/*) ;;
		"$sysinc"/*)
			b=${hp#"$sysinc"/}
			case " $allowed_sys " in
			*" $b "*) ;;
			*)
				echo "freestanding: FAIL $rel includes compiler header <$b>" >&2
				fail=1
				;;
			esac
			;;
		*)
			echo "freestanding: FAIL $rel includes $hp (not a project or allowed header)" >&2
			fail=1
			;;
		esac
	done
done

# The start object: the only code outside the library in the final image.
cat >"$work/start.c" <<'EOF'
/* SPDX-License-Identifier: MIT */
/* Minimal freestanding environment for the link check. */
#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void _start(void);

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

void _start(void)
{
	for (;;)
		;
}
EOF
if ! "$cc" "${cflags[@]}" -fno-builtin -c "$work/start.c" -o "$work/start.o"; then
	echo "freestanding: FAIL compile start.c" >&2
	exit 1
fi

if [ "$fail" -ne 0 ]; then
	echo "freestanding: FAILED (see above)" >&2
	exit 1
fi

# Link everything into one static image; an undefined symbol is a link error.
# libgcc (compiler runtime helpers, not libc) is allowed.
if ! "$cc" -nostdlib -static -no-pie -Wl,-e,_start -Wl,--no-undefined -o "$work/freestanding.elf" \
	"$work/start.o" "${objs[@]}" -lgcc 2>"$work/link.log"; then
	cat "$work/link.log" >&2
	echo "freestanding: FAIL link (undefined symbols above are hosted dependencies)" >&2
	exit 1
fi
undef=$(nm -u "$work/freestanding.elf" || true)
if [ -n "$undef" ]; then
	echo "freestanding: FAIL undefined symbols in the image:" >&2
	echo "$undef" >&2
	exit 1
fi
echo "freestanding: OK: ${#objs[@]} files of ${dirs[*]#"$src"/} compiled with -ffreestanding" \
	"-nostdinc ($cc) and linked with -nostdlib"
for f in "${files[@]}"; do
	echo "  ${f#"$src"/}"
done

# SPDX-License-Identifier: MIT
# Shared helpers of the nested lab. Sourced by the other scripts, never run.
#
# Everything the lab needs comes from Debian packages: the kernel image is
# fetched with `apt-get download` (the package linux-image-amd64 currently
# depends on) and unpacked with `dpkg -x` into the cache directory
# $PV_LAB_CACHE (default ~/.cache/libparavisor-lab). busybox comes from
# busybox-static (/bin/busybox must be a static binary).

PV_LAB_CACHE=${PV_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libparavisor-lab}

lab_die() {
	echo "lab: $*" >&2
	exit 2
}

lab_log() {
	echo "lab: $*" >&2
}

# Print the name of the current Debian 6.1 kernel image package
# (linux-image-6.1.0-N-amd64), or the value of $PV_LAB_KERNEL_PKG. The
# answer of apt-cache (slow on a loaded machine) is kept for a day in
# $PV_LAB_CACHE/kernel-pkg.
lab_kernel_pkg() {
	if [ -n "${PV_LAB_KERNEL_PKG:-}" ]; then
		echo "$PV_LAB_KERNEL_PKG"
		return
	fi
	local pkg memo=$PV_LAB_CACHE/kernel-pkg
	if [ -n "$(find "$memo" -mmin -1440 2>/dev/null)" ]; then
		pkg=$(cat "$memo")
	fi
	if [ -z "${pkg:-}" ]; then
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[ -n "$pkg" ] || lab_die "cannot find the kernel package linux-image-amd64 depends on (apt-get update?)"
		mkdir -p "$PV_LAB_CACHE"
		echo "$pkg" >"$memo"
	fi
	echo "$pkg"
}

# Fetch and unpack the kernel package once. Sets LAB_KVER, LAB_KROOT,
# LAB_VMLINUZ and LAB_MODDIR.
lab_fetch_kernel() {
	local pkg deb
	pkg=$(lab_kernel_pkg)
	export PV_LAB_KERNEL_PKG=$pkg # the helper scripts run by the runner reuse it
	LAB_KVER=${pkg#linux-image-}
	LAB_KROOT="$PV_LAB_CACHE/$pkg"
	if [ ! -f "$LAB_KROOT/.unpacked" ]; then
		mkdir -p "$PV_LAB_CACHE/debs" "$LAB_KROOT"
		deb=$(ls "$PV_LAB_CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n 1)
		if [ -z "$deb" ]; then
			lab_log "downloading $pkg"
			(cd "$PV_LAB_CACHE/debs" && apt-get download "$pkg" >&2) ||
				lab_die "apt-get download $pkg failed"
			deb=$(ls "$PV_LAB_CACHE/debs/${pkg}_"*.deb | head -n 1)
		fi
		dpkg -x "$deb" "$LAB_KROOT" || lab_die "dpkg -x $deb failed"
		touch "$LAB_KROOT/.unpacked"
	fi
	LAB_VMLINUZ="$LAB_KROOT/boot/vmlinuz-$LAB_KVER"
	LAB_MODDIR="$LAB_KROOT/lib/modules/$LAB_KVER"
	[ -f "$LAB_VMLINUZ" ] || lab_die "no kernel image in $LAB_KROOT"
}

# Path of module NAME (.ko, .ko.xz or .ko.zst) under LAB_MODDIR.
lab_module_path() {
	local name=$1 alt
	alt=$(echo "$name" | tr '_-' '-_')
	find "$LAB_MODDIR/kernel" \( -name "$name.ko*" -o -name "$alt.ko*" \) | head -n 1
}

# Read the "depends=" field of a module file (compressed or not).
lab_module_deps() {
	local f=$1
	case "$f" in
	*.xz) xz -dc "$f" | strings -a ;;
	*.zst) zstd -dcq "$f" | strings -a ;;
	*) strings -a "$f" ;;
	esac | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# Copy modules NAMES... and their dependencies (decompressed) into DIR and
# write DIR/load-order: one file name a line, dependencies first.
lab_copy_modules() {
	local dir=$1
	shift
	mkdir -p "$dir"
	: >"$dir/load-order"
	local m
	for m in "$@"; do
		_lab_copy_one "$dir" "$m"
	done
}

_lab_copy_one() {
	local dir=$1 name=$2 f d base
	base=$(echo "$name" | tr '-' '_')
	grep -qx "$base.ko" "$dir/load-order" && return 0
	f=$(lab_module_path "$name")
	if [ -z "$f" ]; then
		# Built into this kernel?
		if grep -q "/$name.ko\$\|/$(echo "$name" | tr '_' '-').ko\$" "$LAB_MODDIR/modules.builtin" 2>/dev/null; then
			return 0
		fi
		lab_die "module $name not found in $LAB_MODDIR"
	fi
	for d in $(lab_module_deps "$f"); do
		_lab_copy_one "$dir" "$d"
	done
	case "$f" in
	*.xz) xz -dc "$f" >"$dir/$base.ko" ;;
	*.zst) zstd -dcq "$f" >"$dir/$base.ko" ;;
	*) cp "$f" "$dir/$base.ko" ;;
	esac
	echo "$base.ko" >>"$dir/load-order"
}

# Make a minimal busybox root in DIR: /bin/busybox and /bin/sh. The init
# scripts run "/bin/busybox --install -s /bin" first (hundreds of ln forks
# here cost tens of seconds on a loaded machine).
lab_busybox_root() {
	local dir=$1 bb
	bb=${PV_LAB_BUSYBOX:-/bin/busybox}
	[ -x "$bb" ] || lab_die "$bb missing (apt-get install busybox-static)"
	if file -L "$bb" 2>/dev/null | grep -q dynamically; then
		lab_die "$bb is dynamically linked; install busybox-static"
	fi
	mkdir -p "$dir/bin" "$dir/sbin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/etc" "$dir/run"
	cp "$bb" "$dir/bin/busybox"
	ln -s busybox "$dir/bin/sh"
}

# Copy a (possibly dynamic) executable and the shared libraries it needs
# into root DIR at DEST.
lab_copy_exe() {
	local root=$1 exe=$2 dest=$3 lib
	mkdir -p "$root/$(dirname "$dest")"
	cp "$exe" "$root/$dest"
	chmod 755 "$root/$dest"
	if ldd "$exe" >/dev/null 2>&1; then
		for lib in $(ldd "$exe" | grep -o '/[^ ]*'); do
			mkdir -p "$root/$(dirname "$lib")"
			cp -L "$lib" "$root/$lib"
		done
	fi
}

# Pack root DIR into a gzip-compressed newc cpio archive OUT. (Measured: an
# uncompressed archive is slower overall, QEMU's initrd loading under TCG
# costs more per byte than the guest kernel's gunzip.)
lab_pack() {
	local dir=$1 out=$2
	mkdir -p "$(dirname "$out")"
	(cd "$dir" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) |
		gzip -1 >"$out.tmp" || lab_die "packing $out failed"
	mv "$out.tmp" "$out"
}

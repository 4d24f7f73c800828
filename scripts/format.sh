#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# clang-format with the committed .clang-format.
# usage: bash scripts/format.sh --check [files...]   list files that are not formatted (exit 1 if any)
#        bash scripts/format.sh --fix <files...>     reformat the named files in place
# Without files, --check looks at every tracked .c/.h file. --fix never runs on
# the whole tree: reformat only files you own.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mode=${1:---check}
shift || true

case "$mode" in
--check)
	if [ "$#" -gt 0 ]; then
		files=("$@")
	else
		mapfile -t files < <(git ls-files '*.c' '*.h')
	fi
	bad=0
	for f in "${files[@]}"; do
		if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
			n=$(clang-format "$f" | diff "$f" - | grep -c '^<' || true)
			echo "not formatted: $f ($n lines differ)"
			bad=$((bad + 1))
		fi
	done
	echo "format: ${#files[@]} files checked, $bad not formatted"
	[ "$bad" -eq 0 ]
	;;
--fix)
	[ "$#" -gt 0 ] || { echo "format.sh --fix needs file names" >&2; exit 2; }
	clang-format -i "$@"
	;;
*)
	echo "usage: format.sh --check [files...] | --fix <files...>" >&2
	exit 2
	;;
esac

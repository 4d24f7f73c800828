#!/bin/bash
# SPDX-License-Identifier: MIT
# tpm2-tools session against examples/tpm_server (mssim TCTI): startup,
# getrandom, pcrread, pcrextend + pcrread (value checked), createprimary,
# NV define/write/read, then a server restart and the NV read again.
# Usage: tpm2_tools_session.sh <tpm_server binary>
set -u
SERVER=$1
WORK=$(mktemp -d /tmp/pv-tpm2-tools-XXXXXX)
PID=
fail() { echo "FAIL: $*"; [ -n "$PID" ] && kill "$PID" 2>/dev/null; cat "$WORK/server.log" 2>/dev/null; rm -rf "$WORK"; exit 1; }
start() {
	rm -f "$WORK/port"
	"$SERVER" --state "$WORK/state" --port 0 --port-file "$WORK/port" >>"$WORK/server.log" 2>&1 &
	PID=$!
	for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
	[ -s "$WORK/port" ] || fail "server did not start"
	T="mssim:host=127.0.0.1,port=$(cat "$WORK/port")"
}
stop() {
	kill -TERM "$PID"
	for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$PID" 2>/dev/null && fail "server did not stop"
	wait "$PID" || fail "server exit status $?"
	PID=
}
# Every client call gets a deadline: a server that stops answering is a
# clear failure naming the call, never a hung test.
tpm() {
	timeout 60 "$@"
	local rc=$?
	[ "$rc" -eq 124 ] && echo "FAIL: $1 timed out after 60 s (tpm_server not answering)" >&2
	return "$rc"
}
mkdir -p "$WORK/state"
start
tpm tpm2_startup -c -T "$T" || fail startup
R1=$(tpm tpm2_getrandom -T "$T" --hex 32) || fail getrandom
R2=$(tpm tpm2_getrandom -T "$T" --hex 32) || fail getrandom
[ ${#R1} -eq 64 ] || fail "getrandom length ${#R1}"
[ "$R1" != "$R2" ] || fail "getrandom repeated itself"
tpm tpm2_pcrread -T "$T" sha256:16 -o "$WORK/pcr0.bin" >/dev/null || fail pcrread
cmp -s "$WORK/pcr0.bin" <(head -c 32 /dev/zero) || fail "PCR16 not zero after startup"
DIG=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
tpm tpm2_pcrextend -T "$T" "16:sha256=$DIG" || fail pcrextend
tpm tpm2_pcrread -T "$T" sha256:16 -o "$WORK/pcr1.bin" >/dev/null || fail "pcrread after extend"
if command -v python3 >/dev/null; then
	EXP=$(python3 -c "import hashlib,sys; print(hashlib.sha256(bytes(32)+bytes.fromhex('$DIG')).hexdigest())")
	GOT=$(od -An -tx1 -v "$WORK/pcr1.bin" | tr -d ' \n')
	[ "$EXP" = "$GOT" ] || fail "PCR16 $GOT, expected $EXP"
else
	cmp -s "$WORK/pcr0.bin" "$WORK/pcr1.bin" && fail "PCR16 did not change"
fi
tpm tpm2_createprimary -T "$T" -C o -G ecc -c "$WORK/primary.ctx" >/dev/null || fail createprimary
tpm tpm2_flushcontext -T "$T" -t || fail flushcontext
head -c 32 /dev/urandom >"$WORK/nv.in"
tpm tpm2_nvdefine -T "$T" 0x1500016 -C o -s 32 -a "ownerread|ownerwrite" >/dev/null || fail nvdefine
tpm tpm2_nvwrite -T "$T" 0x1500016 -C o -i "$WORK/nv.in" || fail nvwrite
tpm tpm2_nvread -T "$T" 0x1500016 -C o -s 32 -o "$WORK/nv.out" || fail nvread
cmp -s "$WORK/nv.in" "$WORK/nv.out" || fail "NV read differs"
tpm tpm2_shutdown -T "$T" || fail shutdown
stop
# Restart: NV contents come back from the state directory.
start
tpm tpm2_startup -c -T "$T" || fail "startup after restart"
tpm tpm2_nvread -T "$T" 0x1500016 -C o -s 32 -o "$WORK/nv.out2" || fail "nvread after restart"
cmp -s "$WORK/nv.in" "$WORK/nv.out2" || fail "NV contents lost across restart"
tpm tpm2_pcrread -T "$T" sha256:16 -o "$WORK/pcr2.bin" >/dev/null || fail "pcrread after restart"
cmp -s "$WORK/pcr2.bin" <(head -c 32 /dev/zero) || fail "PCR16 not reset by the restart"
tpm tpm2_nvundefine -T "$T" 0x1500016 -C o || fail nvundefine
stop
ls "$WORK/state"/.tmp-* >/dev/null 2>&1 && fail "temporary state file left behind"
rm -rf "$WORK"
echo "PASS: tpm2-tools session against tpm_server"

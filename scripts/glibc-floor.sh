#!/usr/bin/env bash
# The oldest glibc a Linux binary runs on: the highest GLIBC_x.y symbol version it needs (the
# dynamic linker refuses to start it on an older glibc, "version `GLIBC_2.35' not found").
# With MAX it fails when the binary needs more than MAX: the release workflow checks that its
# Linux binaries run on the distributions README "Install" names. A binary linked against the
# build machine's own glibc needs that glibc's newest version of some symbols (`hypot` is
# GLIBC_2.35 since glibc 2.35), so the workflow links against an older one (cargo-zigbuild).
# Packed relative relocations (DT_RELR, build.rs) are the version GLIBC_ABI_DT_RELR: glibc 2.36.
# Usage: scripts/glibc-floor.sh BINARY [MAX]     e.g. scripts/glibc-floor.sh target/release/trailq 2.28
set -euo pipefail
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 BINARY [MAX]" >&2; exit 2; }
binary=$1
max=${2:-}
[ -f "$binary" ] || { echo "glibc-floor: no file $binary" >&2; exit 2; }
command -v readelf > /dev/null || { echo "glibc-floor: needs readelf (binutils)" >&2; exit 2; }
# The version-needs section lists every GLIBC_x.y the binary asks of libc, libm, libpthread….
versions=$(readelf --version-info --wide "$binary")
needed=$({
  grep -o 'GLIBC_[0-9][0-9.]*' <<< "$versions" | sed 's/^GLIBC_//'
  if grep -q 'GLIBC_ABI_DT_RELR' <<< "$versions"; then echo 2.36; fi
} | sort -u -V | tail -n 1)
[ -n "$needed" ] || { echo "glibc-floor: $binary needs no glibc symbol versions (static, or not a glibc binary)" >&2; exit 2; }
echo "$binary needs glibc $needed or later"
if [ -n "$max" ] && [ "$(printf '%s\n%s\n' "$needed" "$max" | sort -V | tail -n 1)" != "$max" ]; then
  echo "glibc-floor: $binary needs glibc $needed, newer than $max: it would not start on the older distributions README \"Install\" names" >&2
  exit 1
fi

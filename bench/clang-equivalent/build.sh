#!/bin/sh
# Compiles the C equivalents of tsbpf's objects with clang, as the build-time benchmark does
# (src/bench/build-timing.ts times exactly this command), into OUT_DIR (default: a temporary
# directory, printed; nothing built is committed). Needs clang and the kernel UAPI headers
# (linux-libc-dev). Check that the objects load with:
#   bpftool prog loadall OUT_DIR/sockaccel.o /sys/fs/bpf/<a directory you created>
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/tsbpf-clang-equivalent-XXXXXX")}
multiarch=/usr/include/$(uname -m | sed 's/^arm64$/aarch64/')-linux-gnu
mkdir -p "$out"
for name in sockaccel sockaccel-minimal; do
	clang -O2 -g -target bpf -I"$multiarch" -c "$here/$name.c" -o "$out/$name.o"
done
echo "$out"

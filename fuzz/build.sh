#!/bin/sh
# Build the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined)
# into fuzz/build/. Separate from the CMake build: only the recording readers
# and the core helpers they use are compiled in.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/build"
mkdir -p "$out"
CC=${CC:-clang}
hdf5_inc=$(pkg-config --cflags hdf5 2>/dev/null || echo "-I/usr/include/hdf5/serial")
hdf5_lib=$(pkg-config --libs hdf5 2>/dev/null || echo "-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5")
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c17
  -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -DNF_HAVE_HDF5=1
  -I$root/include -I$root/src/core -I$root/src/recording -I$root/src $hdf5_inc"
srcs="$root/src/core/status.c $root/src/core/alloc.c $root/src/core/npy.c $root/src/core/fileio.c
  $root/src/recording/*.c"
# The NWB seed writer is an ordinary program.
$CC -O1 -std=c17 -D_POSIX_C_SOURCE=200809L $hdf5_inc -o "$out/nwb_seed" "$here/nwb_seed.c" $hdf5_lib
for t in ${*:-abf ibw text npy nwb}; do
  $CC $flags -o "$out/fuzz_$t" "$here/fuzz_$t.c" $srcs $hdf5_lib -lm
  echo "built $out/fuzz_$t"
done

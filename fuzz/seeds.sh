#!/bin/sh
# Copy seed inputs from ../shared/data into a temporary corpus directory
# (shared data is never committed). Usage: fuzz/seeds.sh TARGET DIR
set -eu
t=$1; dir=$2
data=$(cd "$(dirname "$0")/../../shared/data" && pwd)
mkdir -p "$dir"
case $t in
  abf) # shrink each file to 2 sweeps of 500 samples so mutations reach the header
    python3 -c "
import struct, sys, glob, os
for f in glob.glob(sys.argv[1] + '/*.abf'):
    b = bytearray(open(f, 'rb').read())
    if b[:4] == b'ABF2':
        nch = struct.unpack_from('<q', b, 92 + 8)[0]
        blk = struct.unpack_from('<I', b, 76 + 160)[0]
        p = struct.unpack_from('<I', b, 76)[0] * 512
        struct.pack_into('<I', b, 12, 2)
        struct.pack_into('<i', b, p + 22, 500 * nch)
        struct.pack_into('<q', b, 76 + 168, 1000 * nch)
        b = b[:blk * 512 + 2000 * nch]
    else:
        nch = struct.unpack_from('<h', b, 120)[0]
        struct.pack_into('<i', b, 10, 1000 * nch)
        struct.pack_into('<i', b, 16, 2)
        struct.pack_into('<i', b, 138, 500 * nch)
        b = b[:struct.unpack_from('<i', b, 40)[0] * 512 + 2000 * nch]
    open(sys.argv[2] + '/' + os.path.basename(f), 'wb').write(b)
" "$data/abf" "$dir" ;;
  ibw) cp "$data"/ibw/*.ibw "$dir"/ ;;
  text) for f in "$data"/efel/basic/sagtrace_1.txt "$data"/efel/basic/current.txt; do head -c 4000 "$f" > "$dir/$(basename "$f")"; done ;;
  npy) # written by hand (NumPy format 1.0), no numpy needed
    python3 -c "
import struct, sys, math
def save(path, descr, shape, fmt, values):
    h = \"{'descr': '%s', 'fortran_order': False, 'shape': %s, }\" % (descr, shape)
    h += ' ' * (63 - (10 + len(h)) % 64) + chr(10)
    open(path, 'wb').write(b'\\x93NUMPY\\x01\\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<%d%s' % (len(values), fmt), *values))
t = [k * 0.1 for k in range(200)]
tv = [x for k in range(200) for x in (t[k], -65 + math.sin(t[k]))]
save(sys.argv[1] + '/tv.npy', '<f8', '(200, 2)', 'd', tv)
save(sys.argv[1] + '/v.npy', '<f4', '(200,)', 'f', [-65 + math.sin(x) for x in t])
save(sys.argv[1] + '/tiv.npy', '<i4', '(50, 3)', 'i', [k for k in range(150)])" "$dir" ;;
  nwb) # written by the tests' NWB writer (fuzz/nwb_seed.c, built by build.sh)
    "$(dirname "$0")/build/nwb_seed" "$dir" ;;
esac
ls "$dir" | wc -l

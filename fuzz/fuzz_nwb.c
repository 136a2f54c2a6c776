/* libFuzzer target: NWB files through libhdf5 (see README: crashes inside
 * libhdf5 itself are reported there, not fixed here). */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nf_fuzz_open(data, size, NF_FORMAT_NWB, ".nwb");
}

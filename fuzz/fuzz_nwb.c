/* libFuzzer target: NWB files through libhdf5 (see README: crashes inside
 * libhdf5 itself are reported there, not fixed here). The library normally
 * reads NWB in a child process; the fuzzer reads in process so that it sees
 * every crash. */
#include "fuzz_file.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setenv("NF_NWB_IN_PROCESS", "1", 1);
    return nf_fuzz_open(data, size, NF_FORMAT_NWB, ".nwb");
}

/* libFuzzer target: .npy recordings (header parsing in src/core/npy.c). */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nf_fuzz_open(data, size, NF_FORMAT_NPY, ".npy");
}

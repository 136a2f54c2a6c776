/* libFuzzer target: NWB files through libhdf5 (see README: crashes inside
 * libhdf5 itself are reported there, not fixed here). The library normally
 * reads NWB in a child process (nf__open_isolated); the fuzzer calls the
 * reader in process so that it sees every crash. */
#include "fuzz_file.h"
#include "rec_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    if (!nf_fuzz_write(data, size, ".nwb", path, sizeof path)) return 0;
    nf_recording_options o;
    nf_recording_options_default(&o);
    nf_recording *rec = NULL;
    if (nf__nwb_open(path, &o, &rec) == NF_OK && rec) nf__rec_validate(rec);
    nf_recording_destroy(rec);
    unlink(path);
    return 0;
}

/* libFuzzer target: the IBW v2/v5 reader on arbitrary bytes, alone and
 * paired with itself as the current wave. */
#include "rec_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nf_recording *rec = NULL;
    if (!nf__ibw_parse("fuzz.ibw", data, size, NULL, 0, NULL, &rec)) {
        nf__rec_validate(rec);
        nf_recording_destroy(rec);
    }
    /* split in two waves: V then I */
    size_t h = size / 2;
    if (!nf__ibw_parse("fuzz_v.ibw", data, h, data + h, size - h, "fuzz_i.ibw", &rec)) {
        nf__rec_validate(rec);
        nf_recording_destroy(rec);
    }
    return 0;
}

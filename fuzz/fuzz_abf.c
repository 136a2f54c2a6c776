/* libFuzzer target: the ABF1/ABF2 reader on arbitrary bytes. */
#include "rec_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nf_recording_options o;
    nf_recording_options_default(&o);
    nf_recording *rec = NULL;
    if (!nf__abf_parse("fuzz.abf", data, size, &o, &rec)) {
        nf__rec_validate(rec);
        nf_recording_destroy(rec);
    }
    return 0;
}

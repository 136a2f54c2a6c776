/* libFuzzer target: the text table reader, with header/default columns and
 * with an explicit column list. */
#include "rec_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1); /* the parser wants a NUL after the data */
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    nf_recording_options o;
    nf_recording_options_default(&o);
    nf_recording *rec = NULL;
    for (int pass = 0; pass < 2; pass++) {
        o.columns = pass == 1 ? "t[s] I[pA] V[mV]" : NULL;
        o.dt_ms = 0.1;
        if (!nf__text_parse("fuzz.txt", text, size, &o, &rec)) {
            nf__rec_validate(rec);
            nf_recording_destroy(rec);
        }
    }
    free(text);
    return 0;
}

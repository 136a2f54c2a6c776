/* Readers that open a path (libhdf5, nf_npy_read): the input goes to a
 * per-process temporary file first. */
#include "neurofit/recording.h"

#include <stdio.h>
#include <unistd.h>

/* The input as the file /tmp/nf_fuzz_<pid><ext> (path: its name); 0 when it
 * cannot be written. */
static inline int nf_fuzz_write(const uint8_t *data, size_t size, const char *ext, char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/nf_fuzz_%d%s", (int)getpid(), ext);
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    return 1;
}

static inline int nf_fuzz_open(const uint8_t *data, size_t size, nf_format f, const char *ext)
{
    char path[64];
    if (!nf_fuzz_write(data, size, ext, path, sizeof path)) return 0;
    nf_recording_options o;
    nf_recording_options_default(&o);
    o.format = f;
    o.dt_ms = 0.1;
    nf_recording *rec = NULL;
    if (!nf_recording_open(path, &o, &rec)) nf_recording_destroy(rec);
    if (f == NF_FORMAT_NPY) { /* and as a named 3-column table, and as rows of V */
        o.columns = "t I V";
        if (!nf_recording_open(path, &o, &rec)) nf_recording_destroy(rec);
        o.columns = NULL;
        o.npy_rows_are_sweeps = 1;
        if (!nf_recording_open(path, &o, &rec)) nf_recording_destroy(rec);
    }
    unlink(path);
    return 0;
}

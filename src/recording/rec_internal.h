/* Internals of the recording readers (src/recording/), in layers:
 *   recording.c          nf_recording_open: read, detect the format, dispatch,
 *                        validate
 *   abf.c ibw.c text.c   the readers (nwb.c run in a child by isolate.c)
 *   npy_rec.c nwb.c
 *   columns.c            column maps of tables (text.c, npy_rec.c)
 *   recording_common.c   bounded byte access to a file held in memory, sweep
 *                        allocation capped by the file size, unit conversion
 *                        and the final validation every reader goes through
 * Each file calls only the layers below it.
 *
 * Each binary reader has a parse entry point on a memory buffer, so that the
 * fuzz targets (fuzz/) exercise exactly the code nf_recording_open runs. */
#ifndef NF_REC_INTERNAL_H
#define NF_REC_INTERNAL_H

#include "internal.h"
#include "neurofit/recording.h"

#include <stddef.h>
#include <stdint.h>

/* ---- recording_common.c (and inline loads) ---- */

/* A file in memory; be = 1 for big-endian fields. */
typedef struct {
    const uint8_t *p;
    size_t n;
    int be;
} nf__bytes;

/* 1 when [off, off+len) lies inside b. */
static inline int nf__has(const nf__bytes *b, uint64_t off, uint64_t len)
{
    return off <= b->n && len <= b->n - off;
}

/* Loads; the caller has checked nf__has for the range. */
static inline uint16_t nf__u16(const nf__bytes *b, size_t off)
{
    const uint8_t *q = b->p + off;
    return b->be ? (uint16_t)(q[0] << 8 | q[1]) : (uint16_t)(q[1] << 8 | q[0]);
}
static inline uint32_t nf__u32(const nf__bytes *b, size_t off)
{
    const uint8_t *q = b->p + off;
    return b->be ? ((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3])
                 : ((uint32_t)q[3] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[1] << 8 | q[0]);
}
static inline uint64_t nf__u64(const nf__bytes *b, size_t off)
{
    uint64_t lo = nf__u32(b, off + (b->be ? 4 : 0)), hi = nf__u32(b, off + (b->be ? 0 : 4));
    return hi << 32 | lo;
}
static inline int16_t nf__i16(const nf__bytes *b, size_t off) { return (int16_t)nf__u16(b, off); }
static inline int32_t nf__i32(const nf__bytes *b, size_t off) { return (int32_t)nf__u32(b, off); }
float nf__f32(const nf__bytes *b, size_t off);
double nf__f64(const nf__bytes *b, size_t off);

/* Copy a fixed-size, maybe unterminated string field, trimming trailing blanks. */
void nf__field_str(char *dst, size_t cap, const uint8_t *src, size_t len);

/* A new empty recording for path. */
nf_status nf__rec_new(const char *path, nf_format f, nf_recording **rec);

/* Allocate rec->sweeps[n_sweeps]. The caller has checked the count against
 * the file size. */
nf_status nf__rec_sweeps(nf_recording *rec, int n_sweeps);

/* Allocate t, v (and i when with_i) of n samples for sweep s. */
nf_status nf__sweep_alloc(const nf_recording *rec, nf_sweep *s, int64_t n, int with_i);

/* Fill s->t with start + k * dt_ms and set s->dt_ms. */
void nf__sweep_grid(nf_sweep *s, double dt_ms);

/* Set s->dt_ms from a filled s->t: the mean step when every step is within
 * 0.1% of it (float32-rounded time columns pass), else 0 (irregular). */
void nf__sweep_detect_dt(nf_sweep *s);

/* Scale to mV / pA / ms from a unit string; fail (naming what) on an unknown
 * unit. An empty unit is taken as the default (scale 1) for V and I. */
nf_status nf__unit_v(const char *file, const char *what, const char *unit, double *scale);
nf_status nf__unit_i(const char *file, const char *what, const char *unit, double *scale);
nf_status nf__unit_t(const char *file, const char *what, const char *unit, double *scale);

/* Every sweep: n > 0, finite t, v, i, non-decreasing t (repeated time
 * points occur in real variable-step exports; going back never does). */
nf_status nf__rec_validate(const nf_recording *rec);

/* ---- the readers ---- */

/* Parsers on memory (file names only appear in messages). */
nf_status nf__abf_parse(const char *path, const uint8_t *data, size_t n,
                        const nf_recording_options *o, nf_recording **rec);
nf_status nf__ibw_parse(const char *path, const uint8_t *data, size_t n,
                        const uint8_t *cur, size_t ncur, const char *cur_path,
                        nf_recording **rec);
nf_status nf__text_parse(const char *path, const char *text, size_t n,
                         const nf_recording_options *o, nf_recording **rec);
nf_status nf__npy_open(const char *path,
                        const nf_recording_options *o, nf_recording **rec);
/* NWB goes through libhdf5, which reads from the file itself. */
nf_status nf__nwb_open(const char *path, const nf_recording_options *o, nf_recording **rec);

/* ---- isolate.c ---- */

/* A reader that opens its file itself. */
typedef nf_status (*nf__reader_fn)(const char *path, const nf_recording_options *o, nf_recording **rec);
/* Run reader in a forked child that sends the recording back (isolate.c): a
 * crash or hang of the reader (libhdf5) becomes an error naming the file. */
nf_status nf__open_isolated(nf__reader_fn reader, const char *path, const nf_recording_options *o,
                            nf_recording **rec);

/* Upper bound on the bytes one reader reads into memory (1 GiB). */
#define NF__REC_MAX_FILE ((size_t)1 << 30)

/* ---- columns.c ---- */

/* Column roles of a table (text, 2-D .npy): index of t, V and I (-1: absent)
 * and the scale of each to ms, mV, pA. */
typedef struct {
    int t, v, i, n_named;
    double ts, vs, is;
    char tu[16], vu[16], iu[16];
} nf__colmap;

/* Parse "t[s] I[pA] V[mV]" (blanks or commas between; names t/time, V/v/Vm,
 * I/i/current, '-' or 'x' skips a column). strict = 0 for a file header:
 * unknown names are skipped instead of failing. */
nf_status nf__colmap_parse(const char *path, const char *spec, int strict, nf__colmap *m);

/* Default roles for ncols columns when neither spec nor header names them:
 * one column V (with dt_ms), two t V; three or more must be named. */
nf_status nf__colmap_default(const char *path, int ncols, double dt_ms, nf__colmap *m);

/* One-sweep recording from column arrays of n samples (t may be NULL: then
 * the grid is k * dt_ms); values are scaled by m. */
nf_status nf__rec_from_columns(const char *path, nf_format f, const nf__colmap *m, const double *t,
                               const double *v, const double *i, int64_t n, double dt_ms,
                               nf_recording **rec);

/* Column separators of a table line: blank, tab, comma, semicolon, CR. */
static inline int nf__col_sep(char c) { return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '\r'; }

#endif

/* Current-clamp recordings read from files: Axon ABF1/ABF2, NWB 2.x (HDF5),
 * Igor IBW v2/v5, text tables and .npy arrays, all into one nf_recording.
 *
 * A recording is one or more sweeps. Each sweep holds n samples of
 *   t [n] ms   time of each sample (always filled, regular or not;
 *              non-decreasing: variable-step exports may repeat a time),
 *   v [n] mV   membrane potential,
 *   i [n] pA   injected current, recorded or rebuilt from the protocol
 *              (NULL when the file holds neither; see i_source),
 * plus the protocol epochs of the command waveform where the file has them.
 * Units are converted on reading (V, uV -> mV; A, nA, uA -> pA; s -> ms).
 *
 * Readers validate at the boundary: wrong magic, truncated or corrupt files,
 * section sizes the format does not allow, NaN samples, non-monotonic time
 * and V/I length mismatches fail with a message naming the file, the sweep
 * and the problem (nf_errmsg()). No allocation exceeds what the file size can
 * justify.
 *
 * Ownership: nf_recording_open allocates *rec and everything it points to;
 * nf_recording_destroy releases it all (NULL is fine). Option strings are only
 * read during the call.
 */
#ifndef NEUROFIT_RECORDING_H
#define NEUROFIT_RECORDING_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NF_FORMAT_AUTO = 0, /* by magic bytes, then by extension */
    NF_FORMAT_ABF,
    NF_FORMAT_NWB,
    NF_FORMAT_IBW,
    NF_FORMAT_TEXT,
    NF_FORMAT_NPY
} nf_format;

/* Name of a format ("abf", "nwb", "ibw", "text", "npy", "auto"). */
const char *nf_format_name(nf_format f);

typedef enum {
    NF_CURRENT_NONE = 0,  /* no current in the file: sweep.i is NULL */
    NF_CURRENT_RECORDED,  /* a recorded channel or stimulus series */
    NF_CURRENT_PROTOCOL   /* rebuilt from the protocol's epoch table */
} nf_current_source;

typedef enum {
    NF_EPOCH_STEP = 1,  /* constant level */
    NF_EPOCH_RAMP = 2,  /* linear from the previous level to level_pA */
    NF_EPOCH_PULSE = 3, /* pulse train: level_pA for width, previous level otherwise */
    NF_EPOCH_OTHER = 9  /* a type the reader does not rebuild (I is then not rebuilt) */
} nf_epoch_type;

/* One protocol epoch as played in one sweep (holding periods excluded). */
typedef struct {
    char name[4];         /* "A", "B", ... as in Clampex */
    nf_epoch_type type;
    int64_t first, end;   /* sample range [first, end) */
    double start_ms, end_ms;
    double level_pA;      /* the epoch's level in this sweep */
} nf_epoch;

#define NF_REC_NAME 64
#define NF_REC_MAX_CHANNELS 16

typedef struct {
    char name[NF_REC_NAME]; /* as in the file ("IN 0", "data", ...) */
    char unit[16];          /* as in the file ("mV", "volts", ...) */
} nf_channel;

typedef struct {
    int index;                  /* sweep number in the file, from 0 */
    int64_t n;                  /* samples */
    double *t;                  /* [n] ms, from start of the sweep */
    double *v;                  /* [n] mV */
    double *i;                  /* [n] pA, or NULL (i_source NF_CURRENT_NONE) */
    double dt_ms;               /* sample interval; 0 when the time grid is irregular */
    double start_ms;            /* sweep start relative to the recording start */
    nf_current_source i_source;
    int n_epochs;
    nf_epoch *epochs;           /* [n_epochs], NULL when none */
} nf_sweep;

typedef struct {
    char *path;
    nf_format format;
    char format_detail[64];      /* "ABF 2.6", "IBW v5 (big-endian)", ... */
    double rate_hz;              /* sampling rate; 0 when irregular */
    int n_channels;
    nf_channel channels[NF_REC_MAX_CHANNELS]; /* what the file holds */
    int v_channel;               /* index into channels of the voltage */
    int i_channel;               /* index of the recorded current, or -1 */
    char i_origin[NF_REC_NAME];  /* where I comes from ("protocol DAC 0 (Cmd 0)") */
    int n_sweeps;
    nf_sweep *sweeps;            /* [n_sweeps] */
} nf_recording;

typedef struct {
    nf_format format;         /* NF_FORMAT_AUTO: detect */
    /* Text and 2-D .npy: the columns, e.g. "t[s] I[pA] V[mV]" or "t,V" (names
     * t, V, I, and '-' or 'x' for a column to skip; units in brackets; default
     * units ms, mV, pA). NULL: from the text header, else "t V" or "t V I"
     * by the number of columns. */
    const char *columns;
    double dt_ms;             /* time step when there is no time column (1-D .npy) */
    /* npy_rows_are_sweeps (0 by default; `neurofit features` sets it):
     * without options.columns, a 2-D .npy array is [sweeps][samples] of V
     * every dt_ms, one sweep per row, instead of a [samples][columns] table. */
    int npy_rows_are_sweeps;
    /* IBW: the current wave paired with a voltage wave. NULL: the file whose
     * name has "_Ch0_" in place of "_Ch3_", when it exists. */
    const char *current_path;
    int v_channel;            /* ABF: ADC index of V; -1: first channel in mV or V.
                                 Other formats have one voltage: 0 or -1 */
    int i_channel;            /* ABF: ADC index of I; -1: first channel in pA, nA or A */
    /* Which current: NF_CURRENT_NONE (0, the default) the recorded one when
     * the file has it, else the one rebuilt from the protocol; NF_CURRENT_RECORDED
     * or NF_CURRENT_PROTOCOL: that one (ABF: the protocol's even when a
     * channel records the current), or an error naming the file. */
    nf_current_source current;
} nf_recording_options;

/* Defaults: automatic everything (format AUTO, channels -1). */
void nf_recording_options_default(nf_recording_options *o);

/* Read every sweep of path. opts may be NULL (defaults). */
nf_status nf_recording_open(const char *path, const nf_recording_options *opts,
                            nf_recording **rec);

void nf_recording_destroy(nf_recording *rec);

/* "step", "ramp", "pulse" or "other". */
const char *nf_epoch_type_name(nf_epoch_type t);

/* Total duration of a sweep in ms (t[n-1] - t[0] + dt). */
double nf_sweep_duration_ms(const nf_sweep *s);

typedef enum { NF_EXPORT_NPY = 0, NF_EXPORT_CSV = 1 } nf_export_format;

/* Write the sweeps of rec (sweeps[k] != 0; NULL: all) into dir as one output
 * set, committed atomically (meta.json last): sweeps/sweep_<index>.csv
 * ("t[ms],V[mV],I[pA]" header, %.17g, readable by nf_recording_open as it
 * is) or .npy (float64 [samples][t V (I)]), epochs.csv / epochs.npy (one row
 * per epoch of each sweep) and meta.json (source, channels, current, layout).
 * Values are written as the reader holds them, so they read back exactly. */
nf_status nf_recording_export(const nf_recording *rec, const unsigned char *sweeps, nf_export_format fmt,
                              const char *dir);

#ifdef __cplusplus
}
#endif
#endif

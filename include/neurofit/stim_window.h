/* The stimulus window of a sweep, found automatically: where the features
 * look (stim_start, stim_end) when none is given.
 *
 *  - A sweep with protocol epochs (ABF): the epoch whose level changes across
 *    the recording's sweeps (pyABF's convention for step protocols); when
 *    several do, the first, flagged ambiguous; when none does (one sweep, or
 *    a constant protocol), the step epoch furthest from the holding level.
 *    The window is the epoch's [start_ms, end_ms]: end_ms is the time of the
 *    first sample after the step, as eFEL's stim_end. With a recorded current
 *    as well, the window is checked against a step found in it (below) and
 *    flagged ambiguous when they differ by more than 1 ms.
 *  - A sweep with a current but no epochs (recorded, text, IBW, NWB): a step
 *    detector. The current is median-filtered over ~1 ms; its holding level
 *    is the median of the first 1% of the samples; its noise the robust
 *    standard deviation (1.4826 x MAD) of the unfiltered current's sample to
 *    sample differences / sqrt(2). The step is the longest run of filtered
 *    samples on one side of holding and further than max(5 noise /
 *    sqrt(filter width), 1% of the largest departure) from it (gaps
 *    shorter than ~2 ms bridged); it runs from its first sample to the
 *    first sample after it. Flagged ambiguous when
 *    another run is at least half as long, or the step is smaller than 10 x
 *    the filtered noise (noise / sqrt(filter width)).
 *  - Otherwise there is no window (NF_ENOTFOUND): give one.
 * `why` says which rule chose the window and, when ambiguous, what else it
 * could have been.
 */
#ifndef NEUROFIT_STIM_WINDOW_H
#define NEUROFIT_STIM_WINDOW_H

#include "neurofit/recording.h"
#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nf_stim_window_source {
    NF_STIM_WINDOW_EPOCH = 1,  /* a protocol epoch */
    NF_STIM_WINDOW_CURRENT = 2 /* a step found in the current */
} nf_stim_window_source;

typedef struct nf_stim_window {
    double start_ms, end_ms;      /* the window; end_ms is the first sample after the step */
    int64_t first, end;           /* the same as sample indices [first, end) */
    nf_stim_window_source source;
    char epoch[4];                /* the epoch's name ("B"), "" for a step in the current */
    double level_pA;              /* the step's level (epoch level, or the median in the window) */
    double holding_pA;            /* the level before it */
    int ambiguous;                /* 1: another choice was nearly as good (see why) */
    char why[256];                /* one line: the rule, and the alternative when ambiguous */
} nf_stim_window;

/* The window of sweep `sweep` of rec (epochs of all sweeps are compared). */
nf_status nf_stim_window_find(const nf_recording *rec, int sweep, nf_stim_window *out);

/* A step in a current alone: i [n] pA on t [n] ms (t NULL: sample k at k dt_ms). */
nf_status nf_stim_window_from_current(const double *t, double dt_ms, const double *i, int64_t n, nf_stim_window *out);

#ifdef __cplusplus
}
#endif
#endif

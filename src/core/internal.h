/* Library-internal helpers shared by every module (prefix nf__).
 * Not installed; never included by public headers. */
#ifndef NEUROFIT_INTERNAL_H
#define NEUROFIT_INTERNAL_H

#include "neurofit/status.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define NF__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NF__PRINTF(a, b)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Record a message for this thread (printf-style) and return s, so that a
 * failing path reads: return nf__fail(NF_EINVAL, "dt = %g ms must be > 0", dt); */
nf_status nf__fail(nf_status s, const char *fmt, ...) NF__PRINTF(2, 3);

/* Monotonic wall-clock seconds (timings, progress, checkpoint intervals). */
double nf__now_s(void);

/* Overflow-checked allocation of n * size bytes; NULL on overflow. */
void *nf__calloc(size_t n, size_t size);
void *nf__malloc_array(size_t n, size_t size);

/* The k-th smallest (0-based, k < n) of a[0..n) by quickselect; reorders a.
 * NaN-free input. */
double nf__kth_d(double *a, int64_t n, int64_t k);
float nf__kth_f(float *a, int64_t n, int64_t k);

/* Fault injection in the file layer (src/core/fileio.c), for tests only:
 * after nf__fault_arm(n, err, die) the n-th failable file operation (open
 * for writing, the writes to a file, finishing it, creating a stage, a
 * rename of a commit) fails with errno err, or with die the process _exits with NF__FAULT_EXIT
 * there, as if killed. n = 0 disarms; nf__fault_count() is the number of
 * operations counted since arming. Nothing else arms it. */
#define NF__FAULT_EXIT 86
void nf__fault_arm(long nth, int err, int die);
long nf__fault_count(void);

#ifdef __cplusplus
}
#endif
#endif

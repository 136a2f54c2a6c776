/* The library's one thread pool and parallel_for (internal, prefix nf__).
 *
 * A pool holds n_threads - 1 sleeping workers; the thread that calls
 * nf__parallel_for works too. Items [0, n_items) are handed out in chunks of
 * `grain` consecutive items from a shared counter, so which thread runs a
 * chunk depends on timing. Results do not depend on the thread count (or
 * the timing) when fn writes only the outputs of its own items and reads
 * nothing another chunk writes: every caller keeps to that.
 *
 * Ownership: one thread owns a pool and calls nf__parallel_for on it, one
 * call at a time (not reentrant: fn must not use the same pool).
 * nf__pool_destroy(NULL) is a no-op. Users: the CPU engine (engine/cpu.c,
 * blocks of simulations), the fit's starting guesses, the SBI runner's
 * prior draws and stimuli. */
#ifndef NEUROFIT_ENGINE_POOL_H
#define NEUROFIT_ENGINE_POOL_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf__pool nf__pool;

/* n_threads <= 0: one per online core, or this process's share of them
 * when several processes share the node (nf__pool_set_sharers). */
nf_status nf__pool_create(int n_threads, nf__pool **out);
/* n processes (the MPI layer's ranks on this node, src/dist) share this
 * node's cores: pools created with n_threads <= 0 take 1/n of them (at
 * least one thread). 1 (the default): all. */
void nf__pool_set_sharers(int n);
void nf__pool_destroy(nf__pool *p);
int nf__pool_threads(const nf__pool *p);

/* Items [begin, end) of one chunk; ctx is nf__parallel_for's. A status other
 * than NF_OK (with its message set by nf__fail on the calling thread) fails
 * the whole call. */
typedef nf_status (*nf__range_fn)(void *ctx, int64_t begin, int64_t end);

/* Run fn over [0, n_items) in chunks of grain (>= 1) items on every thread of
 * the pool, the caller's included; returns when all chunks are done. Every
 * chunk runs, also after a failure; the call returns NF_OK, or the status
 * and message of the failed chunk that starts first. */
nf_status nf__parallel_for(nf__pool *p, int64_t n_items, int64_t grain, nf__range_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif

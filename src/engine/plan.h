/* The CUDA host side as data: a plan of launches for one batch.
 *
 * The CUDA backend is a plan plus a thin executor. The plan (this file, pure
 * C, built and unit-tested on every machine) decides everything: how the
 * batch is split across devices (contiguous ranges of the global simulation
 * index), how each device's range is cut into launches that fit its memory,
 * which stream and kernel variant each launch uses, the launch shape
 * (blocks x threads), the bytes of every device buffer, every copy between
 * host and device (as 2-D copies, so that a slice of the host's
 * structure-of-arrays parameters goes up without repacking), and the kernel
 * arguments of each launch (nf__plan_bind). The executor
 * (kernels/engine_cuda.cu) only allocates, copies and launches what the plan
 * says; the host replay (tests/test_engine_plan.c) executes the same plan on
 * the CPU, running the kernel's own per-thread body for every (block, thread)
 * index, and must equal the CPU backend bit for bit.
 *
 * Ownership: a plan owns its launch and copy arrays (nf__plan_free); it
 * borrows the host arrays of the nf__kargs it was made from, whose addresses
 * its copies hold, so they must outlive it.
 */
#ifndef NEUROFIT_ENGINE_PLAN_H
#define NEUROFIT_ENGINE_PLAN_H

#include "neurofit/status.h"
#include "nf_kargs.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Device buffers of one (device, stream): one allocation each. */
typedef enum {
    NF__B_PAR,    /* [n_params][n] parameters of the launch's simulations */
    NF__B_INIT,   /* [n_state][n] initial state */
    NF__B_WAVES,  /* [rows][n_steps] the launch's window of waveform rows */
    NF__B_WIDX,   /* [n] waveform row of each simulation */
    NF__B_TARGET, /* [rows][n_obs] the launch's window of target rows */
    NF__B_TIDX,   /* [n] target row of each simulation */
    NF__B_REC,    /* [n][n_rec] recorded voltage */
    NF__B_SPKT,   /* [n][max_spikes] spike times */
    NF__B_SPKN,   /* [n] spike counts */
    NF__B_FIN,    /* [n_state][n] final state */
    NF__B_VALID,  /* [n] validity */
    NF__B_SSE,    /* [n] sums of squared errors */
    NF__B_COUNT
} nf__slot;

/* One host <-> device copy: rows x width bytes, rows host_pitch and
 * dev_pitch apart (cudaMemcpy2D's shape; rows = 1 is a plain copy). */
typedef struct nf__copy {
    int slot;          /* nf__slot of the launch's (device, stream) */
    int to_device;     /* 1: host -> device before the launch; 0: back after it */
    size_t dev_off;    /* bytes into the device buffer */
    const void *src;   /* host source (to_device) */
    void *dst;         /* host destination (!to_device) */
    size_t width;      /* bytes per row */
    size_t rows;
    size_t host_pitch; /* bytes between rows on the host */
    size_t dev_pitch;  /* bytes between rows on the device */
    void *home;        /* staged download (nf__plan_stage): the caller's array it ends in, else NULL */
    size_t home_pitch; /* bytes between its rows there */
} nf__copy;

typedef struct nf__launch {
    int device;      /* 0 .. n_devices-1 */
    int stream;      /* 0 .. n_streams-1 on its device; each has its own buffers */
    int variant;     /* variant of the body (kernels/variant_list.h; nf__variant_pick) */
    int64_t first;   /* batch index of the launch's simulation 0 */
    int64_t n;       /* simulations */
    uint32_t blocks; /* grid: blocks x threads >= n; thread (b, t) runs simulation b * threads + t */
    uint32_t threads;
    int64_t wave_lo, wave_rows;     /* waveform rows [lo, lo + rows) resident for the launch */
    int64_t target_lo, target_rows; /* target rows [lo, lo + rows) */
    int64_t copy_in, n_in;   /* its host -> device copies: copies[copy_in ..] */
    int64_t copy_out, n_out; /* its device -> host copies */
} nf__launch;

typedef struct nf__plan {
    int n_devices, n_streams;
    nf__launch *launches; /* in execution order per (device, stream) */
    int64_t n_launches;
    nf__copy *copies;
    int64_t n_copies;
    /* bytes of each buffer: bytes[(device * n_streams + stream) * NF__B_COUNT + slot] */
    size_t *bytes;
    size_t *device_bytes; /* [n_devices] total over its streams and slots */
    /* Resident inputs (nf__plan_opts.kept): the waveforms (0) and targets
     * (1) of the batch lie inside kept array res_kept[w] (-1: not
     * resident), res_off[w] bytes into it. Nothing is copied for them and no
     * buffer is sized; the kernels read the device copy, whose address on
     * plan device d the executor's side puts in res_base[2 * d + w] before
     * binding. */
    int res_kept[2];
    size_t res_off[2];
    void **res_base; /* [n_devices][2] */
} nf__plan;

/* A host array kept on the devices (nf_engine_keep). */
typedef struct nf__kept_range {
    const void *host;
    size_t bytes;
} nf__kept_range;

/* The kept array (index into kept) that holds the whole waveform (w = 0)
 * or target (w = 1) array of batch h, or -1: what nf__plan_make makes
 * resident (nf__plan.res_kept). */
int nf__plan_resident(const nf__kargs *h, int w, const nf__kept_range *kept, int n_kept);

typedef struct nf__plan_opts {
    int n_devices;         /* >= 1: the batch is split by simulation index into this many ranges */
    int n_streams;         /* >= 1 per device */
    const size_t *budget;  /* [n_devices] bytes each device may hold for this batch */
    const nf__kept_range *kept; /* [n_kept] arrays already on every device (may be NULL) */
    int n_kept;
    int threads_per_block; /* e.g. 128 */
} nf__plan_opts;

/* Plan the batch h (host pointers; params/init/final_state structure of
 * arrays with stride h->stride = h->n_sims) for a model with n_params
 * parameters and n_state state variables. NF_ENOMEM with a message when one
 * simulation does not fit a device's budget. */
nf_status nf__plan_make(const nf__kargs *h, int n_params, int n_state, const nf__plan_opts *o, nf__plan *out);
void nf__plan_free(nf__plan *p); /* NULL ok; leaves it empty */

/* Bytes of buffer slot of (device, stream). */
size_t nf__plan_slot_bytes(const nf__plan *p, int device, int stream, int slot);

/* The kernel arguments of launch L: h with its device buffers base[slot]
 * (base: NF__B_COUNT pointers of the launch's device and stream) and its
 * device's resident inputs (res_base). */
void nf__plan_bind(const nf__plan *p, int64_t L, const nf__kargs *h, void *const *base, nf__kargs *out);

/* ---- staging (the asynchronous executor) ----
 * A GPU copies asynchronously only from and to pinned host memory, and a
 * batch in flight must not depend on host memory that the next submit
 * reuses. Staging rewrites a plan so that every copy goes through one
 * buffer of its job: each upload whose source lies outside [own, own +
 * own_bytes) (the job's own pinned structure-of-arrays) is packed into it
 * at once, and each download lands in it, remembering its home (the
 * caller's array), where nf__plan_unstage puts it after the device is done.
 * Rows are packed (pitch = width), each copy 64-byte aligned. */
size_t nf__plan_stage_bytes(const nf__plan *p, const void *own, size_t own_bytes);
void nf__plan_stage(nf__plan *p, void *stage, const void *own, size_t own_bytes);
void nf__plan_unstage(const nf__plan *p);

#ifdef __cplusplus
}
#endif
#endif

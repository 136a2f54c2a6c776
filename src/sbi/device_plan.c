/* The SBI device path's bookkeeping in pure C (src/sbi/sbi_internal.h):
 * which piece of a fused batch runs in which buffer slot, its launch
 * arguments, and how its outputs come back into the batch's arrays.
 * kernels/sbi_cuda.cu executes it on a device; tests/test_sbi_device.c runs
 * the same functions with host buffers and the kernel's per-thread function
 * (the replay) and checks the result against the CPU backend bit for bit. */
#include "internal.h"
#include "sbi/sbi_internal.h"
#include "sbi_summary.h"

#include <string.h>

int64_t nf__sbi_sim_bytes(int64_t T, int64_t n_params, int64_t max_spikes)
{
    if (max_spikes < NF_SBI_SUMMARY_SPIKES) max_spikes = NF_SBI_SUMMARY_SPIKES;
    /* params, rec, spk_t, stim, spk_n, valid, sum */
    return 4 * n_params + 4 * T + 4 * max_spikes + 4 * T + 4 + 1 + 4 * NF_SBI_N_SUMMARIES;
}

int64_t nf__sbi_piece_size(int64_t T, int64_t n_params, int64_t max_spikes)
{
    const int64_t fit = NF__SBI_SLOT_BYTES / nf__sbi_sim_bytes(T, n_params, max_spikes);
    return fit < 1 ? 1 : (fit < NF__SBI_PIECE ? fit : NF__SBI_PIECE);
}

int64_t nf__sbi_piece_count(int64_t n_sims, int64_t piece) { return n_sims > 0 ? (n_sims + piece - 1) / piece : 0; }

nf__sbi_piece nf__sbi_piece_at(int64_t n_sims, int64_t piece, int64_t k)
{
    nf__sbi_piece pc;
    pc.first = k * piece;
    pc.n = n_sims - pc.first < piece ? n_sims - pc.first : piece;
    pc.slot = (int)(k & 1);
    return pc;
}

void nf__sbi_piece_bind(const nf__kargs *h, const nf__bf_const *bf, nf__sbi_piece pc, const nf__sbi_bufs *d,
                        int sums, nf__kargs *out)
{
    nf__kargs a = *h;
    a.n_sims = pc.n;
    a.sim_offset = h->sim_offset + pc.first;
    a.row0 = 0;
    a.params = d->params;
    a.init = NULL;
    a.stride = pc.n;
    a.waves = NULL;
    a.wave_idx = NULL;
    a.n_waves = 0;
    a.wave_lo = 0;
    a.bf = *bf;
    a.rec = h->rec ? d->rec : NULL;
    a.spk_t = h->spk_t ? d->spk_t : NULL;
    a.spk_n = h->spk_n ? d->spk_n : NULL;
    a.valid = h->valid ? d->valid : NULL;
    a.final_state = NULL;
    a.target = NULL;
    a.target_idx = NULL;
    a.sse = NULL;
    if (sums) { /* the summaries' inputs stay where the simulation ran */
        a.rec = d->rec;
        a.rec_every = 1;
        a.n_rec = h->n_steps;
        a.spk_t = d->spk_t;
        a.max_spikes = NF_SBI_SUMMARY_SPIKES;
        a.spk_n = d->spk_n;
    }
    *out = a;
}

void nf__sbi_piece_unpack(const nf__kargs *h, nf__sbi_piece pc, const nf__sbi_bufs *x, float *stim_rows, float *sums)
{
    if (sums) memcpy(sums + pc.first * NF_SBI_N_SUMMARIES, x->sum, sizeof(float) * (size_t)pc.n * NF_SBI_N_SUMMARIES);
    const int64_t T = h->n_steps;
    if (h->rec) nf__sbi_transpose(x->rec, h->n_rec, pc.n, h->rec + pc.first * h->n_rec);
    if (stim_rows) nf__sbi_transpose(x->stim, T, pc.n, stim_rows + pc.first * T);
    if (h->spk_t)
        memcpy(h->spk_t + pc.first * h->max_spikes, x->spk_t, sizeof(float) * (size_t)(pc.n * h->max_spikes));
    if (h->spk_n) memcpy(h->spk_n + pc.first, x->spk_n, sizeof(int32_t) * (size_t)pc.n);
    if (h->valid) memcpy(h->valid + pc.first, x->valid, (size_t)pc.n);
}

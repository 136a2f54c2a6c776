/* The launch plan of the CUDA backend (src/engine/plan.h): pure C, no CUDA. */
#include "engine/plan.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* cudaMalloc hands out whole 256-byte units at least: count them so. */
#define NF__ALIGN 256u

static size_t nf__round(size_t b) { return (b + NF__ALIGN - 1) / NF__ALIGN * NF__ALIGN; }

/* Bytes one simulation adds to each per-simulation buffer. */
static void nf__per_sim(const nf__kargs *h, int n_params, int n_state, size_t *per)
{
    memset(per, 0, sizeof(size_t) * NF__B_COUNT);
    per[NF__B_PAR] = sizeof(float) * (size_t)n_params;
    if (h->init) per[NF__B_INIT] = sizeof(float) * (size_t)n_state;
    if (h->wave_idx) per[NF__B_WIDX] = sizeof(int32_t);
    if (h->target_idx) per[NF__B_TIDX] = sizeof(int32_t);
    if (h->rec) per[NF__B_REC] = sizeof(float) * (size_t)h->n_rec;
    if (h->spk_t) per[NF__B_SPKT] = sizeof(float) * (size_t)h->max_spikes;
    if (h->spk_n) per[NF__B_SPKN] = sizeof(int32_t);
    if (h->final_state) per[NF__B_FIN] = sizeof(float) * (size_t)n_state;
    if (h->valid) per[NF__B_VALID] = 1;
    if (h->sse) per[NF__B_SSE] = sizeof(double);
}

/* Bytes of the inputs every launch reads whole (waveforms and targets). */
static void nf__resident(const nf__kargs *h, size_t *res)
{
    memset(res, 0, sizeof(size_t) * NF__B_COUNT);
    if (h->waves) res[NF__B_WAVES] = sizeof(float) * (size_t)h->n_waves * (size_t)h->n_steps;
    if (h->target) res[NF__B_TARGET] = sizeof(float) * (size_t)h->n_targets * (size_t)h->n_obs;
}

/* Device bytes of a stream's buffers holding m simulations. */
static size_t nf__stream_bytes(const size_t *per, const size_t *res, int64_t m)
{
    size_t t = 0;
    for (int k = 0; k < NF__B_COUNT; k++)
        if (per[k] || res[k]) t += nf__round(per[k] * (size_t)m + res[k]);
    return t;
}

typedef struct {
    nf__copy *v;
    int64_t n, cap;
} nf__copies;

static nf_status nf__push(nf__copies *c, nf__copy x)
{
    if (c->n == c->cap) {
        int64_t cap = c->cap ? 2 * c->cap : 64;
        nf__copy *p = realloc(c->v, sizeof *p * (size_t)cap);
        if (!p) return nf__fail(NF_ENOMEM, "plan: out of memory");
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = x;
    return NF_OK;
}

/* A copy of rows x width bytes; src for uploads, dst for downloads. */
static nf__copy nf__cp(int slot, int to_device, size_t dev_off, const void *host, size_t width, size_t rows,
                       size_t host_pitch, size_t dev_pitch)
{
    nf__copy c;
    c.slot = slot;
    c.to_device = to_device;
    c.dev_off = dev_off;
    c.src = to_device ? host : NULL;
    c.dst = to_device ? NULL : (void *)host;
    c.width = width;
    c.rows = rows;
    c.host_pitch = host_pitch;
    c.dev_pitch = dev_pitch;
    return c;
}

/* The copies of launch L (its inputs; then, from out_first on, its outputs). */
static nf_status nf__launch_copies(const nf__kargs *h, int n_params, int n_state, const nf__launch *L, int upload_resident,
                                   nf__copies *c)
{
    const size_t f = (size_t)L->first, m = (size_t)L->n, n = (size_t)h->n_sims, F = sizeof(float);
    nf_status s = NF_OK;
    /* inputs: a slice of the structure-of-arrays rows is one 2-D copy */
    if (!s) s = nf__push(c, nf__cp(NF__B_PAR, 1, 0, h->params + f, F * m, (size_t)n_params, F * n, F * m));
    if (!s && h->init) s = nf__push(c, nf__cp(NF__B_INIT, 1, 0, h->init + f, F * m, (size_t)n_state, F * n, F * m));
    if (!s && h->wave_idx) s = nf__push(c, nf__cp(NF__B_WIDX, 1, 0, h->wave_idx + f, 4 * m, 1, 4 * m, 4 * m));
    if (!s && h->target_idx) s = nf__push(c, nf__cp(NF__B_TIDX, 1, 0, h->target_idx + f, 4 * m, 1, 4 * m, 4 * m));
    if (!s && upload_resident && h->waves) {
        size_t b = F * (size_t)h->n_waves * (size_t)h->n_steps;
        s = nf__push(c, nf__cp(NF__B_WAVES, 1, 0, h->waves, b, 1, b, b));
    }
    if (!s && upload_resident && h->target) {
        size_t b = F * (size_t)h->n_targets * (size_t)h->n_obs;
        s = nf__push(c, nf__cp(NF__B_TARGET, 1, 0, h->target, b, 1, b, b));
    }
    return s;
}

static nf_status nf__launch_outputs(const nf__kargs *h, int n_state, const nf__launch *L, nf__copies *c)
{
    const size_t f = (size_t)L->first, m = (size_t)L->n, n = (size_t)h->n_sims, F = sizeof(float);
    nf_status s = NF_OK;
    if (!s && h->rec) {
        size_t w = F * (size_t)h->n_rec;
        s = nf__push(c, nf__cp(NF__B_REC, 0, 0, h->rec + f * (size_t)h->n_rec, w * m, 1, w * m, w * m));
    }
    if (!s && h->spk_t) {
        size_t w = F * (size_t)h->max_spikes;
        s = nf__push(c, nf__cp(NF__B_SPKT, 0, 0, h->spk_t + f * (size_t)h->max_spikes, w * m, 1, w * m, w * m));
    }
    if (!s && h->spk_n) s = nf__push(c, nf__cp(NF__B_SPKN, 0, 0, h->spk_n + f, 4 * m, 1, 4 * m, 4 * m));
    if (!s && h->final_state)
        s = nf__push(c, nf__cp(NF__B_FIN, 0, 0, h->final_state + f, F * m, (size_t)n_state, F * n, F * m));
    if (!s && h->valid) s = nf__push(c, nf__cp(NF__B_VALID, 0, 0, h->valid + f, m, 1, m, m));
    if (!s && h->sse) s = nf__push(c, nf__cp(NF__B_SSE, 0, 0, h->sse + f, 8 * m, 1, 8 * m, 8 * m));
    return s;
}

nf_status nf__plan_make(const nf__kargs *h, int n_params, int n_state, const nf__plan_opts *o, nf__plan *out)
{
    memset(out, 0, sizeof *out);
    const int D = o->n_devices, S = o->n_streams, TPB = o->threads_per_block;
    if (D < 1 || S < 1 || TPB < 1) return nf__fail(NF_EINVAL, "plan: need >= 1 device, stream and thread per block");
    const int64_t n = h->n_sims;
    size_t per[NF__B_COUNT], res[NF__B_COUNT];
    nf__per_sim(h, n_params, n_state, per);
    nf__resident(h, res);

    /* launch size per device: the most simulations a stream's buffers hold */
    int64_t *m_dev = malloc(sizeof(int64_t) * (size_t)D);
    out->bytes = calloc((size_t)D * (size_t)S * NF__B_COUNT, sizeof(size_t));
    out->device_bytes = calloc((size_t)D, sizeof(size_t));
    if (!m_dev || !out->bytes || !out->device_bytes) {
        free(m_dev);
        nf__plan_free(out);
        return nf__fail(NF_ENOMEM, "plan: out of memory");
    }
    out->n_devices = D;
    out->n_streams = S;
    int64_t n_launches = 0;
    for (int d = 0; d < D; d++) {
        const int64_t lo = n * d / D, hi = n * (d + 1) / D;
        const size_t stream_budget = o->budget[d] / (size_t)S;
        if (hi == lo) {
            m_dev[d] = 1;
            continue;
        }
        if (nf__stream_bytes(per, res, 1) > stream_budget) {
            size_t need = nf__stream_bytes(per, res, 1);
            free(m_dev);
            nf__plan_free(out);
            return nf__fail(NF_ENOMEM,
                            "device %d: one simulation needs %zu bytes of device memory (waveforms and targets "
                            "included), more than the %zu bytes available per stream",
                            d, need, stream_budget);
        }
        /* largest m with nf__stream_bytes(m) <= budget: bisection on a monotone function */
        int64_t a = 1, b = hi - lo;
        while (a < b) {
            int64_t mid = a + (b - a + 1) / 2;
            if (nf__stream_bytes(per, res, mid) <= stream_budget) a = mid;
            else b = mid - 1;
        }
        m_dev[d] = a;
        n_launches += (hi - lo + a - 1) / a;
    }

    out->launches = calloc((size_t)(n_launches > 0 ? n_launches : 1), sizeof(nf__launch));
    if (!out->launches) {
        free(m_dev);
        nf__plan_free(out);
        return nf__fail(NF_ENOMEM, "plan: out of memory");
    }
    nf__copies c = {0};
    nf_status s = NF_OK;
    for (int d = 0; d < D && !s; d++) {
        const int64_t lo = n * d / D, hi = n * (d + 1) / D;
        int64_t k = 0;
        for (int64_t f = lo; f < hi && !s; f += m_dev[d], k++) {
            nf__launch *L = &out->launches[out->n_launches++];
            L->device = d;
            L->stream = (int)(k % S);
            L->variant = 0;
            L->first = f;
            L->n = hi - f < m_dev[d] ? hi - f : m_dev[d];
            L->threads = (uint32_t)TPB;
            L->blocks = (uint32_t)((L->n + TPB - 1) / TPB);
            L->copy_in = c.n;
            s = nf__launch_copies(h, n_params, n_state, L, k < S, &c);
            L->n_in = c.n - L->copy_in;
            L->copy_out = c.n;
            if (!s) s = nf__launch_outputs(h, n_state, L, &c);
            L->n_out = c.n - L->copy_out;
            size_t *by = out->bytes + ((size_t)d * S + (size_t)L->stream) * NF__B_COUNT;
            for (int j = 0; j < NF__B_COUNT; j++) {
                size_t b = per[j] * (size_t)L->n + res[j];
                if (b > by[j]) by[j] = b;
            }
        }
        for (int q = 0; q < S * NF__B_COUNT; q++) out->device_bytes[d] += nf__round(out->bytes[(size_t)d * S * NF__B_COUNT + q]);
    }
    free(m_dev);
    out->copies = c.v;
    out->n_copies = c.n;
    if (s) nf__plan_free(out);
    return s;
}

void nf__plan_free(nf__plan *p)
{
    if (!p) return;
    free(p->launches);
    free(p->copies);
    free(p->bytes);
    free(p->device_bytes);
    memset(p, 0, sizeof *p);
}

size_t nf__plan_slot_bytes(const nf__plan *p, int device, int stream, int slot)
{
    return p->bytes[((size_t)device * p->n_streams + (size_t)stream) * NF__B_COUNT + (size_t)slot];
}

void nf__plan_bind(const nf__plan *p, int64_t li, const nf__kargs *h, void *const *base, nf__kargs *a)
{
    const nf__launch *L = &p->launches[li];
    *a = *h;
    a->n_sims = L->n;
    a->sim_offset = h->sim_offset + L->first;
    a->row0 = h->row0 + L->first;
    a->stride = L->n;
    a->params = (const float *)base[NF__B_PAR];
    a->init = h->init ? (const float *)base[NF__B_INIT] : NULL;
    a->waves = h->waves ? (const float *)base[NF__B_WAVES] : NULL;
    a->wave_idx = h->wave_idx ? (const int32_t *)base[NF__B_WIDX] : NULL;
    a->target = h->target ? (const float *)base[NF__B_TARGET] : NULL;
    a->target_idx = h->target_idx ? (const int32_t *)base[NF__B_TIDX] : NULL;
    a->rec = h->rec ? (float *)base[NF__B_REC] : NULL;
    a->spk_t = h->spk_t ? (float *)base[NF__B_SPKT] : NULL;
    a->spk_n = h->spk_n ? (int32_t *)base[NF__B_SPKN] : NULL;
    a->final_state = h->final_state ? (float *)base[NF__B_FIN] : NULL;
    a->valid = h->valid ? (uint8_t *)base[NF__B_VALID] : NULL;
    a->sse = h->sse ? (double *)base[NF__B_SSE] : NULL;
}

/* The launch plan of the CUDA backend (src/engine/plan.h): pure C, no CUDA.
 *
 * Memory: every buffer a launch needs is sized for that launch. Parameters,
 * states and outputs hold the launch's simulations; waveforms and targets
 * hold the launch's window of rows: the one shared row, the launch's own
 * rows (one per simulation), or the span of rows its simulations' indices
 * name. A launch takes as many simulations as fit the stream's share of the
 * device budget, counting each buffer at the largest size any launch of that
 * stream needs (buffers are allocated once per stream and reused), so the
 * sum over a device's buffers never exceeds its budget. */
#include "engine/plan.h"

#include "engine/backend.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* cudaMalloc hands out whole 256-byte units at least: count them so. */
#define NF__ALIGN 256u

static size_t nf__round(size_t b) { return (b + NF__ALIGN - 1) / NF__ALIGN * NF__ALIGN; }

/* Rows of a row-structured input (waveforms or targets). */
typedef struct {
    const char *base;   /* host rows, NULL: absent */
    const int32_t *idx; /* [n_sims] batch rows, or NULL */
    int64_t n_rows;
    size_t row_bytes;
} nf__rows;

/* The rows [*lo, *lo + *n) simulations first .. first+m-1 read. */
static void nf__window(const nf__rows *r, int64_t row0, int64_t first, int64_t m, int64_t *lo, int64_t *n)
{
    if (!r->base) {
        *lo = 0;
        *n = 0;
    } else if (r->idx) {
        int32_t a = r->idx[first], b = a;
        for (int64_t i = first + 1; i < first + m; i++) {
            a = r->idx[i] < a ? r->idx[i] : a;
            b = r->idx[i] > b ? r->idx[i] : b;
        }
        *lo = a;
        *n = (int64_t)b - a + 1;
    } else if (r->n_rows == 1) {
        *lo = 0;
        *n = 1;
    } else {
        *lo = row0 + first;
        *n = m;
    }
}

typedef struct {
    const nf__kargs *h;
    int n_params, n_state;
    size_t per[NF__B_COUNT]; /* bytes one simulation adds to each buffer */
    nf__rows waves, target;
} nf__shape;

int nf__plan_resident(const nf__kargs *h, int w, const nf__kept_range *kept, int n_kept)
{
    const char *a = (const char *)(w ? (const void *)h->target : (const void *)h->waves);
    const size_t n = w ? sizeof(float) * (size_t)h->n_targets * (size_t)h->n_obs
                       : sizeof(float) * (size_t)h->n_waves * (size_t)h->n_steps;
    for (int k = 0; a && k < n_kept; k++) {
        const char *lo = (const char *)kept[k].host;
        if (a >= lo && a + n <= lo + kept[k].bytes) return k;
    }
    return -1;
}

static void nf__shape_init(nf__shape *s, const nf__kargs *h, int n_params, int n_state)
{
    memset(s, 0, sizeof *s);
    s->h = h;
    s->n_params = n_params;
    s->n_state = n_state;
    size_t *per = s->per;
    per[NF__B_PAR] = sizeof(float) * (size_t)n_params;
    if (h->init) per[NF__B_INIT] = sizeof(float) * (size_t)n_state;
    if (h->waves && h->wave_idx) per[NF__B_WIDX] = sizeof(int32_t);
    if (h->target && h->target_idx) per[NF__B_TIDX] = sizeof(int32_t);
    if (h->rec) per[NF__B_REC] = sizeof(float) * (size_t)h->n_rec;
    if (h->spk_t) per[NF__B_SPKT] = sizeof(float) * (size_t)h->max_spikes;
    if (h->spk_n) per[NF__B_SPKN] = sizeof(int32_t);
    if (h->final_state) per[NF__B_FIN] = sizeof(float) * (size_t)n_state;
    if (h->valid) per[NF__B_VALID] = 1;
    if (h->sse) per[NF__B_SSE] = sizeof(double);
    s->waves.base = (const char *)h->waves;
    s->waves.idx = h->wave_idx;
    s->waves.n_rows = h->n_waves;
    s->waves.row_bytes = sizeof(float) * (size_t)h->n_steps;
    s->target.base = (const char *)h->target;
    s->target.idx = h->target_idx;
    s->target.n_rows = h->n_targets;
    s->target.row_bytes = sizeof(float) * (size_t)h->n_obs;
}

/* Bytes of each buffer for simulations first .. first+m-1 (resident
 * inputs: none; their nf__rows have no base). */
static void nf__need(const nf__shape *s, int64_t first, int64_t m, size_t *need)
{
    int64_t lo, rows;
    for (int k = 0; k < NF__B_COUNT; k++) need[k] = s->per[k] * (size_t)m;
    nf__window(&s->waves, s->h->row0, first, m, &lo, &rows);
    need[NF__B_WAVES] = (size_t)rows * s->waves.row_bytes;
    nf__window(&s->target, s->h->row0, first, m, &lo, &rows);
    need[NF__B_TARGET] = (size_t)rows * s->target.row_bytes;
}

/* Device bytes of a stream's buffers, each at least cap, holding need. */
static size_t nf__total(const size_t *cap, const size_t *need)
{
    size_t t = 0;
    for (int k = 0; k < NF__B_COUNT; k++) t += nf__round(need[k] > cap[k] ? need[k] : cap[k]);
    return t;
}

typedef struct {
    nf__copy *v;
    int64_t n, cap;
} nf__copies;

static nf_status nf__push(nf__copies *c, int slot, int to_device, size_t dev_off, const void *host, size_t width,
                          size_t rows, size_t host_pitch, size_t dev_pitch)
{
    if (c->n == c->cap) {
        int64_t cap = c->cap ? 2 * c->cap : 64;
        nf__copy *p = realloc(c->v, sizeof *p * (size_t)cap);
        if (!p) return nf__fail(NF_ENOMEM, "plan: out of memory");
        c->v = p;
        c->cap = cap;
    }
    nf__copy *x = &c->v[c->n++];
    x->slot = slot;
    x->to_device = to_device;
    x->dev_off = dev_off;
    x->src = to_device ? host : NULL;
    x->dst = to_device ? NULL : (void *)host;
    x->width = width;
    x->rows = rows;
    x->host_pitch = host_pitch;
    x->dev_pitch = dev_pitch;
    x->home = NULL;
    x->home_pitch = 0;
    return NF_OK;
}

/* A plain copy of bytes b. */
#define NF__FLAT(b) (b), 1, (b), (b)

/* Uploads of launch L; the waveform and target windows only when the stream
 * does not hold them already (have: [lo, rows] resident per input). */
static nf_status nf__inputs(const nf__shape *sh, const nf__launch *L, int64_t *have_w, int64_t *have_t,
                            nf__copies *c)
{
    const nf__kargs *h = sh->h;
    const size_t f = (size_t)L->first, m = (size_t)L->n, n = (size_t)h->n_sims, F = sizeof(float);
    nf_status s = nf__push(c, NF__B_PAR, 1, 0, h->params + f, F * m, (size_t)sh->n_params, F * n, F * m);
    if (!s && h->init) s = nf__push(c, NF__B_INIT, 1, 0, h->init + f, F * m, (size_t)sh->n_state, F * n, F * m);
    if (!s && sh->per[NF__B_WIDX]) s = nf__push(c, NF__B_WIDX, 1, 0, h->wave_idx + f, NF__FLAT(4 * m));
    if (!s && sh->per[NF__B_TIDX]) s = nf__push(c, NF__B_TIDX, 1, 0, h->target_idx + f, NF__FLAT(4 * m));
    if (!s && sh->waves.base && (have_w[0] != L->wave_lo || have_w[1] != L->wave_rows)) {
        s = nf__push(c, NF__B_WAVES, 1, 0, sh->waves.base + (size_t)L->wave_lo * sh->waves.row_bytes,
                     NF__FLAT((size_t)L->wave_rows * sh->waves.row_bytes));
        have_w[0] = L->wave_lo;
        have_w[1] = L->wave_rows;
    }
    if (!s && sh->target.base && (have_t[0] != L->target_lo || have_t[1] != L->target_rows)) {
        s = nf__push(c, NF__B_TARGET, 1, 0, sh->target.base + (size_t)L->target_lo * sh->target.row_bytes,
                     NF__FLAT((size_t)L->target_rows * sh->target.row_bytes));
        have_t[0] = L->target_lo;
        have_t[1] = L->target_rows;
    }
    return s;
}

/* Downloads of launch L into the host's outputs. */
static nf_status nf__outputs(const nf__shape *sh, const nf__launch *L, nf__copies *c)
{
    const nf__kargs *h = sh->h;
    const size_t f = (size_t)L->first, m = (size_t)L->n, n = (size_t)h->n_sims, F = sizeof(float);
    nf_status s = NF_OK;
    if (!s && h->rec) s = nf__push(c, NF__B_REC, 0, 0, h->rec + f * (size_t)h->n_rec, NF__FLAT(F * (size_t)h->n_rec * m));
    if (!s && h->spk_t)
        s = nf__push(c, NF__B_SPKT, 0, 0, h->spk_t + f * (size_t)h->max_spikes, NF__FLAT(F * (size_t)h->max_spikes * m));
    if (!s && h->spk_n) s = nf__push(c, NF__B_SPKN, 0, 0, h->spk_n + f, NF__FLAT(4 * m));
    if (!s && h->final_state)
        s = nf__push(c, NF__B_FIN, 0, 0, h->final_state + f, F * m, (size_t)sh->n_state, F * n, F * m);
    if (!s && h->valid) s = nf__push(c, NF__B_VALID, 0, 0, h->valid + f, NF__FLAT(m));
    if (!s && h->sse) s = nf__push(c, NF__B_SSE, 0, 0, h->sse + f, NF__FLAT(8 * m));
    return s;
}

/* The most simulations from first on (at most max) that fit the stream's
 * buffers (cap: their sizes so far) within budget; 0 when not even one. */
static int64_t nf__fit(const nf__shape *sh, const size_t *cap, int64_t first, int64_t max, size_t budget)
{
    size_t need[NF__B_COUNT];
    nf__need(sh, first, 1, need);
    if (nf__total(cap, need) > budget) return 0;
    int64_t a = 1, b = max;
    while (a < b) {
        int64_t mid = a + (b - a + 1) / 2;
        nf__need(sh, first, mid, need);
        if (nf__total(cap, need) <= budget) a = mid;
        else b = mid - 1;
    }
    return a;
}

static nf_status nf__grow(nf__plan *p, int64_t *cap)
{
    if (p->n_launches < *cap) return NF_OK;
    int64_t c = *cap ? 2 * *cap : 16;
    nf__launch *l = realloc(p->launches, sizeof *l * (size_t)c);
    if (!l) return nf__fail(NF_ENOMEM, "plan: out of memory");
    p->launches = l;
    *cap = c;
    return NF_OK;
}

nf_status nf__plan_make(const nf__kargs *h, int n_params, int n_state, const nf__plan_opts *o, nf__plan *out)
{
    memset(out, 0, sizeof *out);
    const int D = o->n_devices, S = o->n_streams, TPB = o->threads_per_block;
    if (D < 1 || S < 1 || TPB < 1) return nf__fail(NF_EINVAL, "plan: need >= 1 device, stream and thread per block");
    nf__shape sh;
    nf__shape_init(&sh, h, n_params, n_state);
    const int variant = nf__variant_pick(h);
    out->n_devices = D;
    out->n_streams = S;
    /* resident inputs: the whole array inside a kept one; then no rows to copy */
    out->res_kept[0] = nf__plan_resident(h, 0, o->kept, o->n_kept);
    out->res_kept[1] = nf__plan_resident(h, 1, o->kept, o->n_kept);
    for (int w = 0; w < 2; w++) {
        const int k = out->res_kept[w];
        const char *arr = w ? (const char *)h->target : (const char *)h->waves;
        out->res_off[w] = k >= 0 ? (size_t)(arr - (const char *)o->kept[k].host) : 0;
    }
    if (out->res_kept[0] >= 0) sh.waves.base = NULL;
    if (out->res_kept[1] >= 0) sh.target.base = NULL;
    out->bytes = calloc((size_t)D * (size_t)S * NF__B_COUNT, sizeof(size_t));
    out->device_bytes = calloc((size_t)D, sizeof(size_t));
    out->res_base = calloc(2 * (size_t)D, sizeof(void *));
    /* resident windows per stream: waveforms [lo, rows], targets [lo, rows] */
    int64_t *have = malloc(sizeof(int64_t) * 4 * (size_t)S);
    if (!out->bytes || !out->device_bytes || !out->res_base || !have) {
        free(have);
        nf__plan_free(out);
        return nf__fail(NF_ENOMEM, "plan: out of memory");
    }
    nf__copies c = {0};
    int64_t cap_launches = 0;
    nf_status s = NF_OK;
    for (int d = 0; d < D && !s; d++) {
        const int64_t lo = h->n_sims * d / D, hi = h->n_sims * (d + 1) / D;
        const size_t stream_budget = o->budget[d] / (size_t)S;
        size_t *caps = out->bytes + (size_t)d * S * NF__B_COUNT; /* [stream][slot], grown launch by launch */
        for (int q = 0; q < 4 * S; q++) have[q] = -1;
        int64_t k = 0;
        for (int64_t f = lo; f < hi && !s; f += out->launches[out->n_launches - 1].n, k++) {
            const int q = (int)(k % S);
            size_t *cap = caps + (size_t)q * NF__B_COUNT;
            const int64_t m = nf__fit(&sh, cap, f, hi - f, stream_budget);
            if (m == 0) {
                size_t need[NF__B_COUNT], zero[NF__B_COUNT] = {0};
                nf__need(&sh, f, 1, need);
                s = nf__fail(NF_ENOMEM,
                             "device %d: one simulation (%lld) needs %zu bytes of device memory with its waveform "
                             "and target rows, more than the %zu bytes available per stream",
                             d, (long long)f, nf__total(zero, need), stream_budget);
                break;
            }
            if ((s = nf__grow(out, &cap_launches))) break;
            nf__launch *L = &out->launches[out->n_launches++];
            memset(L, 0, sizeof *L);
            L->device = d;
            L->stream = q;
            L->variant = variant;
            L->first = f;
            L->n = m;
            L->threads = (uint32_t)TPB;
            L->blocks = (uint32_t)((m + TPB - 1) / TPB);
            nf__window(&sh.waves, h->row0, f, m, &L->wave_lo, &L->wave_rows);
            nf__window(&sh.target, h->row0, f, m, &L->target_lo, &L->target_rows);
            size_t need[NF__B_COUNT];
            nf__need(&sh, f, m, need);
            for (int j = 0; j < NF__B_COUNT; j++) cap[j] = need[j] > cap[j] ? need[j] : cap[j];
            L->copy_in = c.n;
            s = nf__inputs(&sh, L, have + 4 * q, have + 4 * q + 2, &c);
            L->n_in = c.n - L->copy_in;
            L->copy_out = c.n;
            if (!s) s = nf__outputs(&sh, L, &c);
            L->n_out = c.n - L->copy_out;
        }
        for (int j = 0; j < S * NF__B_COUNT; j++) out->device_bytes[d] += nf__round(caps[j]);
    }
    free(have);
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
    free(p->res_base);
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
    a->wave_lo = L->wave_lo;
    if (h->waves && p->res_kept[0] >= 0) { /* the whole array, on the device */
        a->waves = (const float *)((const char *)p->res_base[2 * L->device] + p->res_off[0]);
        a->wave_lo = 0;
    }
    a->wave_idx = h->waves && h->wave_idx ? (const int32_t *)base[NF__B_WIDX] : NULL;
    a->target = h->target ? (const float *)base[NF__B_TARGET] : NULL;
    a->target_lo = L->target_lo;
    if (h->target && p->res_kept[1] >= 0) {
        a->target = (const float *)((const char *)p->res_base[2 * L->device + 1] + p->res_off[1]);
        a->target_lo = 0;
    }
    a->target_idx = h->target && h->target_idx ? (const int32_t *)base[NF__B_TIDX] : NULL;
    a->rec = h->rec ? (float *)base[NF__B_REC] : NULL;
    a->spk_t = h->spk_t ? (float *)base[NF__B_SPKT] : NULL;
    a->spk_n = h->spk_n ? (int32_t *)base[NF__B_SPKN] : NULL;
    a->final_state = h->final_state ? (float *)base[NF__B_FIN] : NULL;
    a->valid = h->valid ? (uint8_t *)base[NF__B_VALID] : NULL;
    a->sse = h->sse ? (double *)base[NF__B_SSE] : NULL;
}

/* ---- staging ---------------------------------------------------------------- */

static size_t nf__up64(size_t b) { return (b + 63) / 64 * 64; }

static void nf__copy2d(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t rows)
{
    for (size_t r = 0; r < rows; r++) memcpy((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
}

/* 1 when copy x goes through the staging buffer. */
static int nf__staged(const nf__copy *x, const void *own, size_t own_bytes)
{
    if (!x->to_device) return 1;
    const char *s = (const char *)x->src, *o = (const char *)own;
    return !(o && s >= o && s < o + own_bytes);
}

size_t nf__plan_stage_bytes(const nf__plan *p, const void *own, size_t own_bytes)
{
    size_t b = 0;
    for (int64_t k = 0; k < p->n_copies; k++)
        if (nf__staged(&p->copies[k], own, own_bytes)) b += nf__up64(p->copies[k].width * p->copies[k].rows);
    return b;
}

void nf__plan_stage(nf__plan *p, void *stage, const void *own, size_t own_bytes)
{
    char *at = (char *)stage;
    for (int64_t k = 0; k < p->n_copies; k++) {
        nf__copy *x = &p->copies[k];
        if (!nf__staged(x, own, own_bytes)) continue;
        if (x->to_device) {
            nf__copy2d(at, x->width, x->src, x->host_pitch, x->width, x->rows);
            x->src = at;
        } else {
            x->home = x->dst;
            x->home_pitch = x->host_pitch;
            x->dst = at;
        }
        x->host_pitch = x->width;
        at += nf__up64(x->width * x->rows);
    }
}

void nf__plan_unstage(const nf__plan *p)
{
    for (int64_t k = 0; k < p->n_copies; k++) {
        const nf__copy *x = &p->copies[k];
        if (!x->to_device && x->home) nf__copy2d(x->home, x->home_pitch, x->dst, x->host_pitch, x->width, x->rows);
    }
}

/* The simulate-one-block body, shared by the CPU backend and the CUDA kernel.
 *
 * Included once per (model, variant) with NF_M defined to the model's name
 * (e.g. lif6) and NF_V to the variant (kernels/variant_list.h: NF_V_REC,
 * NF_V_OBS, NF_V_NOISE, NF_V_WAVE its launch-constant settings); it defines
 *     void nf__sim_<model>_<variant>(const nf__kargs *a, int64_t i0, int64_t nl)
 * which simulates neurons i0 .. i0+nl-1 (nl <= NF_LANES) over all steps.
 * On the GPU NF_LANES is 1 and each thread calls it for its own neuron; on the
 * CPU NF_LANES neurons advance side by side so the lane loops vectorise.
 * Lanes at or beyond nl repeat neuron i0+nl-1 and are never stored.
 *
 * Variant settings beyond kernels/variant_list.h's, for the SBI device path
 * (kernels/sbi_cuda.cu, one lane): wave 2 generates the bayesflow-lif
 * stimulus in the loop (a->bf, kernels/sbi_stim.h), rec 4 records every
 * sample step-major (rec [n_steps][n_sims]).
 *
 * Per step: draw the stimulus, advance the model, note spikes and validity,
 * observe the new sample (record, score: kernels/sim_observe.h). What the
 * variant fixes is removed by #if; step counters are 32-bit (n_steps <=
 * 2^30, nf_batch_validate); validity is one running predicate per lane (the
 * GPU keeps the NaN-propagating maximum of |V|, one max.NaN per step; the
 * CPU or-s the lanes' !(|V| <= v_limit): the same answer, "every sample
 * finite and within v_limit"); spike counts and times are written only on
 * the steps where a lane spikes. Parameters are loaded and derived constants
 * computed once; per-lane state lives in local structure-of-arrays buffers.
 *
 * Intrinsic noise: a model whose header defines NF_<model>_NOISE to 1 gets one
 * standard normal per step as a fourth argument of its step function,
 *     int nf_<model>_step(const c *, state *, float i_pA, float z).
 * The draws come from Philox stream NF_RNG_INTRINSIC keyed by (seed, global
 * simulation index, step), like the stimulus noise, so they are the same on
 * both backends and for any thread count or batch split.
 *
 * Tags in comments (nf:every, nf:rare, nf:when) mark branches taken on some
 * steps only, for scripts/ptx-count.
 */
#ifndef NF_M
#error "define NF_M before including sim_body.h"
#endif
#ifndef NF_V
#error "define NF_V (the variant) before including sim_body.h"
#endif

#define NF__FN NF_CAT(NF_CAT3(nf__sim_, NF_M, _), NF_V)
#define NF__PAR NF_CAT3(nf_, NF_M, _par)
#define NF__STATE NF_CAT3(nf_, NF_M, _state)
#define NF__CONST NF_CAT3(nf_, NF_M, _const)
#define NF__PLIST NF_CAT3(NF_, NF_M, _PARAMS)
#define NF__SLIST NF_CAT3(NF_, NF_M, _STATE)
#define NF__CLIST NF_CAT3(NF_, NF_M, _CONST)

/* SoA lane buffers, loads and stores generated from the X lists. */
#define NF__SBUF(name, unit, doc) float sb_##name[NF_LANES];
#define NF__CBUF(name) float cb_##name[NF_LANES];
#define NF__SLOAD(name, unit, doc) st.name = sb_##name[l];
#define NF__SSTORE(name, unit, doc) sb_##name[l] = st.name;
#define NF__CLOAD(name) cs.name = cb_##name[l];
#define NF__CSTORE(name) cb_##name[l] = cs.name;
#define NF__PGLOAD(name, unit, def, lo, hi, vlo, vhi, doc) \
    p.name = NF_LDG(a->params + (k++) * a->stride + gi);
#define NF__SGLOAD(name, unit, doc) st.name = NF_LDG(a->init + (k++) * a->stride + gi);
#define NF__SGSTORE(name, unit, doc) a->final_state[(k++) * a->stride + gi] = sb_##name[l];

/* undefined NF_<model>_NOISE counts as 0 in #if */
#if NF_CAT3(NF_, NF_M, _NOISE)
#define NF__NOISE 1
#define NF__STEP(cs, st, i, z) NF_CAT3(nf_, NF_M, _step)(cs, st, i, z)
#else
#define NF__NOISE 0
#define NF__STEP(cs, st, i, z) NF_CAT3(nf_, NF_M, _step)(cs, st, i)
#endif

NF_HD NF_BODY_ATTR void NF__FN(const nf__kargs *NF_RESTRICT a, int64_t i0, int64_t nl)
{
    NF__SLIST(NF__SBUF)
    NF__CLIST(NF__CBUF)
    float vo[NF_LANES];        /* voltage of the sample, mV */
    NF_VALID_T vchk[NF_LANES]; /* validity so far (NF_VALID_*, nf_kernel.h) */
    int32_t nspk[NF_LANES];    /* spikes so far */
#if NF_LANES > 1
    float cur[NF_LANES]; /* each lane's stimulus sample of the step, pA */
#if NF_V_SPKT
    int32_t spk[NF_LANES]; /* the step's spikes */
    int32_t nst[NF_LANES]; /* spike times stored so far (the lane loop counts the spikes) */
#endif
#endif
#if NF_V_WAVE != 2 /* wave 2 generates the stimulus: no rows */
    const float *wrow[NF_LANES];
#endif
#if NF_V_NOISE
    float ou[NF_LANES]; /* OU noise state, pA */
    float nz[4][NF_LANES];
#endif
#if NF__NOISE
    float zi[4][NF_LANES]; /* intrinsic noise draws of the current 4-step block */
#endif
#if (NF_V_WAVE == 2 || NF_V_REC == 4) && NF_LANES > 1
#error "the generated stimulus (wave 2) and step-major records (rec 4) are one-lane (device) settings"
#endif
#if NF_V_WAVE == 2
    nf__bf_gen bg[NF_LANES]; /* each lane's stimulus generator (kernels/sbi_stim.h) */
#endif
    nf__obs o;
    const int32_t T = (int32_t)a->n_steps;
#if NF_LANES > 1
    for (int l = 0; l < NF_LANES; l++) cur[l] = 0.0f; /* no waveform: zero current */
#endif

    o.rec_on = a->rec != 0;
    o.obs_on = a->target != 0;
    o.rec_next = o.rec_j = o.obs_next = o.obs_j = 0;
    o.last = T - 1;
    o.flush_at = T - 1 < 63 ? T - 1 : 63;
    o.tshared = 0;
    for (int l = 0; l < NF_LANES; l++) {
        int64_t gi = i0 + (l < nl ? l : nl - 1);
        NF__PAR p;
        NF__STATE st;
        NF__CONST cs;
        int k = 0;
        NF__PLIST(NF__PGLOAD)
        NF_CAT3(nf_, NF_M, _prepare)(&p, &a->env, &cs);
        if (a->init) {
            k = 0;
            NF__SLIST(NF__SGLOAD)
        } else {
            NF_CAT3(nf_, NF_M, _init)(&p, &st);
        }
        NF__SLIST(NF__SSTORE)
        NF__CLIST(NF__CSTORE)
        /* rows are numbered in the batch (gi in the launch); a launch holds
         * the window of rows from wave_lo / target_lo on */
#if NF_V_WAVE != 2
        int64_t wr = a->wave_idx ? a->wave_idx[gi] : (a->n_waves == 1 ? 0 : a->row0 + gi);
        wrow[l] = a->waves ? a->waves + (wr - a->wave_lo) * a->n_steps : 0;
#endif
        int64_t tr = a->target_idx ? a->target_idx[gi] : (a->n_targets == 1 ? 0 : a->row0 + gi);
        o.trow[l] = a->target ? a->target + (tr - a->target_lo) * a->n_obs : 0;
#if NF_V_REC == 4
        o.rrow[l] = a->rec ? a->rec + gi : 0; /* step-major: sample j at j * n_sims + gi */
#else
        o.rrow[l] = a->rec ? a->rec + gi * a->n_rec : 0;
#endif
#if NF_V_WAVE == 2
        nf__bf_begin(&a->bf, (uint64_t)(a->sim_offset + gi), &bg[l]);
#endif
#if NF_V_NOISE
        ou[l] = 0.0f;
        for (int q = 0; q < 4; q++) nz[q][l] = 0.0f; /* drawn at every 4th step from step 0 on */
#endif
#if NF__NOISE
        for (int q = 0; q < 4; q++) zi[q][l] = 0.0f;
#endif
        nspk[l] = 0;
#if NF_LANES > 1 && NF_V_SPKT
        nst[l] = 0;
#endif
        o.sse[l] = 0.0;
        o.ssef[l] = 0.0f;
    }

    /* sample 0 */
    for (int l = 0; l < NF_LANES; l++) {
        NF__STATE st;
        NF__CONST cs;
        NF__SLIST(NF__SLOAD)
        NF__CLIST(NF__CLOAD)
        float v = NF_CAT3(nf_, NF_M, _observe)(&cs, &st);
        vo[l] = v;
        vchk[l] = NF_VALID_INIT(v, a->v_limit);
    }
#if NF_LANES > 1
    /* one waveform or target row for every lane: read it once per step */
    const float *wshared = 0;
    if (a->waves && !a->wave_idx && a->n_waves == 1) wshared = a->waves;
    if (a->waves && nl == 1) wshared = wrow[0];
    if (a->target && !a->target_idx && a->n_targets == 1) o.tshared = a->target;
    if (a->target && nl == 1) o.tshared = o.trow[0];
#endif
#if NF_V_NOISE == 3
    const int ou_on = a->ou_on;
#elif NF_V_NOISE
    const int ou_on = 1;
#endif
#if NF_V_WAVE == 3
    const int wave_on = a->waves != 0;
#else
    const int wave_on = NF_V_WAVE;
#endif
    (void)wave_on;
    NF_CAT(nf__observe_, NF_V)(&o, a, vo, nl, 0);

    int32_t n = 1;
#if NF_LANES > 1 && !NF_V_REC && !NF_V_OBS && !NF_V_NOISE && !NF_V_SPKT && !NF__NOISE && NF_V_WAVE == 1
    if (wshared) {
        /* spike counts under one waveform: a perfect loop nest, whose steps
         * the compiler interleaves for a block of lanes (two steps per visit
         * of its state), as it does in a plain loop */
        for (int32_t s = 0; s < T - 1; s++) {
            const float i_pA = NF_LDG(wshared + s);
            for (int l = 0; l < NF_LANES; l++) {
                NF__STATE st;
                NF__CONST cs;
                NF__SLIST(NF__SLOAD)
                NF__CLIST(NF__CLOAD)
                const int32_t sp = NF__STEP(&cs, &st, i_pA, 0.0f);
                const float v = NF_CAT3(nf_, NF_M, _observe)(&cs, &st);
                NF__SLIST(NF__SSTORE)
                vchk[l] = NF_VALID_ACC(vchk[l], v, a->v_limit);
                nspk[l] += sp;
            }
        }
        n = T;
    }
#endif
#if NF_V_SPKT == 3
    const int times = a->spk_t != 0;
#else
    const int times = NF_V_SPKT;
#endif
    (void)times;

    NF_ROLLED
    for (; n < T; n++) {
        const int32_t s = n - 1; /* the step s -> n, driven by the stimulus of sample s */
        (void)s;
        /* ---- stimulus ---- */
#if NF_V_NOISE || NF__NOISE
        const int q = s & 3; /* the draw of a 4-step Philox block */
#endif
#if NF_V_NOISE
        if (ou_on) {          /* nf:when noise */
            if (q == 0) {     /* nf:every 4 */
                for (int l = 0; l < NF_LANES; l++) {
                    float z[4];
                    int64_t gi = a->sim_offset + i0 + (l < nl ? l : nl - 1);
                    nf_rng_normal4(a->seed, NF_RNG_STIMULUS, (uint64_t)gi, (uint32_t)(s >> 2), z);
                    nz[0][l] = z[0];
                    nz[1][l] = z[1];
                    nz[2][l] = z[2];
                    nz[3][l] = z[3];
                }
            }
        }
        /* stationary OU start: x_0 = sd z_0, then x_s = a x_{s-1} + sd b z_s */
        const float ou_k = s == 0 ? 0.0f : a->ou_a;
        const float ou_s = s == 0 ? a->ou_sd : a->ou_sd * a->ou_b;
#endif
#if NF__NOISE
        if (q == 0) { /* nf:every 4 */
            for (int l = 0; l < NF_LANES; l++) {
                float z[4];
                int64_t gi = a->sim_offset + i0 + (l < nl ? l : nl - 1);
                nf_rng_normal4(a->seed, NF_RNG_INTRINSIC, (uint64_t)gi, (uint32_t)(s >> 2), z);
                zi[0][l] = z[0];
                zi[1][l] = z[1];
                zi[2][l] = z[2];
                zi[3][l] = z[3];
            }
        }
#endif
#if NF_LANES > 1
        /* the CPU: each lane's stimulus sample, here, so that the lane loop of
         * the step vectorises (a shared row broadcast, then the noise) */
#if NF_V_WAVE
        if (wave_on) {
            if (wshared) {
                const float c = NF_LDG(wshared + s);
                for (int l = 0; l < NF_LANES; l++) cur[l] = c;
            } else {
                for (int l = 0; l < NF_LANES; l++) cur[l] = NF_LDG(wrow[l] + s);
            }
        }
#endif
#if NF_V_NOISE
        if (ou_on) {
            for (int l = 0; l < NF_LANES; l++) {
                const float z = q == 0 ? nz[0][l] : (q == 1 ? nz[1][l] : (q == 2 ? nz[2][l] : nz[3][l]));
                const float x = ou_k * ou[l] + ou_s * z;
                ou[l] = x;
                cur[l] = (wave_on ? cur[l] : 0.0f) + a->ou_mean + x;
            }
        }
#endif
#endif

        /* ---- the step, lane by lane ---- */
        int32_t any = 0;
        (void)any;
        for (int l = 0; l < NF_LANES; l++) {
            NF__STATE st;
            NF__CONST cs;
            NF__SLIST(NF__SLOAD)
            NF__CLIST(NF__CLOAD)
#if NF_LANES > 1
            const float c = cur[l]; /* pA */
#else
            /* the GPU: the thread's stimulus sample */
            float c = 0.0f;
#if NF_V_WAVE == 2
            c = nf__bf_next(&a->bf, &bg[l], s); /* generated in the loop, no row */
#elif NF_V_WAVE
            if (wave_on) /* nf:when wave */
                c = NF_LDG(NF__SEQ(wrow, l, s));
#endif
#if NF_V_NOISE
            if (ou_on) { /* nf:when noise */
                /* selects, not nz[q][l]: a dynamic index would put nz in GPU local memory */
                const float z = q == 0 ? nz[0][l] : (q == 1 ? nz[1][l] : (q == 2 ? nz[2][l] : nz[3][l]));
                const float x = ou_k * ou[l] + ou_s * z;
                ou[l] = x;
                c = (wave_on ? c : 0.0f) + a->ou_mean + x;
            }
#endif
#endif
#if NF__NOISE
            const float zl = q == 0 ? zi[0][l] : (q == 1 ? zi[1][l] : (q == 2 ? zi[2][l] : zi[3][l]));
#else
            const float zl = 0.0f;
#endif
            const int32_t sp = NF__STEP(&cs, &st, c, zl);
            (void)zl;
            NF__SLIST(NF__SSTORE)
            const float v = NF_CAT3(nf_, NF_M, _observe)(&cs, &st);
            vo[l] = v;
            vchk[l] = NF_VALID_ACC(vchk[l], v, a->v_limit);
#if NF_LANES > 1
            nspk[l] += sp; /* the CPU counts in the lane loop (vectorised) */
#if NF_V_SPKT
            spk[l] = sp;
            any |= sp;
#endif
#else
            any = sp; /* the GPU counts on spiking steps only */
#endif
        }
        /* ---- spikes ---- */
#if NF_LANES == 1
        if (any) { /* nf:rare */
            nspk[0] += 1;
#if NF_V_SPKT
            const int32_t k = nspk[0] - 1;
            if (times && k < a->max_spikes) a->spk_t[i0 * a->max_spikes + k] = (float)(NF_I2D(n) * (double)a->env.dt);
#endif
        }
#elif NF_V_SPKT
        if (times && any) { /* nf:rare */
            /* this step's spike times */
            const float t_ms = (float)(NF_I2D(n) * (double)a->env.dt);
            for (int l = 0; l < NF_LANES; l++) {
                const int32_t k = nst[l];
                nst[l] += spk[l];
                if (spk[l] && l < nl && k < a->max_spikes) a->spk_t[(i0 + l) * a->max_spikes + k] = t_ms;
            }
        }
#endif
        /* ---- observe sample n ---- */
        NF_CAT(nf__observe_, NF_V)(&o, a, vo, nl, n);
    }

    for (int l = 0; l < NF_LANES && l < nl; l++) {
        int64_t i = i0 + l, gi = i;
        if (a->spk_n) a->spk_n[i] = nspk[l];
        if (a->spk_t) /* NaN after the last spike, the same on every backend */
            for (int32_t k = nspk[l]; k < a->max_spikes; k++) a->spk_t[i * a->max_spikes + k] = NF_I2F(0x7fc00000);
        if (a->valid) a->valid[i] = (uint8_t)NF_VALID_END(vchk[l], a->v_limit);
        if (a->sse) a->sse[i] = o.sse[l];
        if (a->final_state) {
            int k = 0;
            NF__SLIST(NF__SGSTORE)
        }
    }
}

#if NF_LANES == 1
/* One GPU thread's work, with the kernel's own index arithmetic: simulation
 * block * block_dim + thread of the launch. The CUDA kernels
 * (kernels/engine_cuda.cu) are this call; the host replay
 * (tests/test_engine_plan.c) calls it for every (block, thread) of a plan. */
NF_HD void NF_CAT(NF_CAT3(nf__thread_, NF_M, _), NF_V)(const nf__kargs *NF_RESTRICT a, uint32_t block,
                                                        uint32_t block_dim, uint32_t thread)
{
    const int64_t i = (int64_t)block * block_dim + thread;
    if (i < a->n_sims) NF__FN(a, i, 1);
}
#endif

#undef NF__FN
#undef NF__PAR
#undef NF__STATE
#undef NF__CONST
#undef NF__PLIST
#undef NF__SLIST
#undef NF__CLIST
#undef NF__SBUF
#undef NF__CBUF
#undef NF__SLOAD
#undef NF__SSTORE
#undef NF__CLOAD
#undef NF__CSTORE
#undef NF__PGLOAD
#undef NF__SGLOAD
#undef NF__SGSTORE
#undef NF__NOISE
#undef NF__STEP
#undef NF_M

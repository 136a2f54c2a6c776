/* The phases of an SBC run on the BayesFlow LIF problem (nf_sbc_lif_run,
 * src/sbc/lif_problem.c), for the MPI layer (src/dist/dist_sbi.c), which runs
 * them on ranges of draws: every reference row and every test case depends
 * on its global index only, so any split gives nf_sbc_lif_run's result. */
#ifndef NEUROFIT_SBC_LIF_H
#define NEUROFIT_SBC_LIF_H

#include "neurofit/sbc.h"

/* nf_sbc_lif_run's checks of o. */
nf_status nf__sbc_lif_check(const nf_sbc_lif_opts *o);

/* Reference rows [first, first+n): theta rt [n][6] and summaries rs
 * [n][nf_sbc_lif_n_summaries(o->with_stimulus)]. */
nf_status nf__sbc_lif_reference(nf_engine *e, const nf_sbc_lif_opts *o, int64_t first, int64_t n, float *rt,
                                 float *rs);

/* Test cases [first, first+n) against the estimator abc: their truths tt
 * [n][6], posterior draws post [n][L][6] and predictive coverage ppc [n];
 * the wall seconds of each part are added to tm (may be NULL). */
nf_status nf__sbc_lif_cases(nf_engine *e, const nf_sbc_lif_opts *o, const nf_abc *abc, int64_t first, int64_t n,
                            float *tt, float *post, double *ppc, nf_sbc_lif_times *tm);

/* The SBC analysis of M cases (tt, post, ppc as above). */
nf_status nf__sbc_lif_analyse(const nf_sbc_lif_opts *o, const float *tt, const float *post, const double *ppc,
                              nf_sbc_result **out);

#endif

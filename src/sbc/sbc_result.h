/* The SBC result record shared by sbc.c (analysis) and sbc_out.c (JSON, SVG). */
#ifndef NEUROFIT_SBC_RESULT_H
#define NEUROFIT_SBC_RESULT_H

#include "neurofit/sbc.h"

struct nf_sbc_result {
    int64_t M, L;
    int d;
    char **names, **units;       /* [d] owned copies */
    float *theta;                /* [M][d] */
    double *mean, *sd;           /* [M][d] posterior mean and sd */
    int32_t *ranks;              /* [M][d] */
    double *prior_var;           /* [d] */
    nf_sbc_param_stats *stats;   /* [d] */
    /* ECDF band */
    int n_points;
    int32_t *band_j, *band_lo, *band_hi; /* [n_points] */
    int32_t *ecdf;               /* [d][n_points] counts #{rank < j} */
    double gamma, level;
    /* rank histogram */
    int n_bins;
    int32_t *bin_edge;           /* [n_bins + 1]: bin b holds ranks bin_edge[b] .. bin_edge[b+1]-1 */
    int32_t *hist;               /* [d][n_bins] */
    int32_t *hist_lo, *hist_hi;  /* [n_bins] pointwise 95 % count range */
    /* predictive check */
    double *ppc;                 /* [M] or NULL */
    double ppc_level, ppc_mean;
};

#endif

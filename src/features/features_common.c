/* What the feature computations share (below efel.c and simple.c, above
 * nothing but the context layout): storing a feature's values in the
 * context's pool, or marking it missing. */
#include "features/features_internal.h"

double *nf__put(struct nf_features *f, int id, int64_t n)
{
    nf__result *r = &f->res[id];
    r->off = f->pool_n;
    r->n = n;
    r->missing = 0;
    r->reason = "";
    f->pool_n += n;
    return f->pool + r->off;
}

void nf__missing(struct nf_features *f, int id, const char *reason)
{
    nf__result *r = &f->res[id];
    r->off = 0;
    r->n = 0;
    r->missing = 1;
    r->reason = reason;
}

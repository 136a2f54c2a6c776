/* Priors for SBI training sets (include/neurofit/sbi.h): per-parameter
 * families, constraints by rejection or a named repair rule, the short and
 * JSON spec forms, and counter-based sampling.
 *
 * Draw (sim, attempt, parameter j) is one Philox4x32-10 block of stream
 * NF_RNG_PRIOR at block = attempt * n_params + j: its four words make two
 * 53-bit uniforms in (0, 1) (one for uniform families and the truncated
 * normal's inverse CDF, both for Box-Muller). Sampling is done in double and
 * rounded to float once, as the study's numpy code does. */
#include "neurofit/sbi.h"

#include "internal.h"
#include "nf_philox.h"
#include "sbi/sbi_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NF__MAX_PARAMS 64
#define NF__MAX_CONSTRAINTS 32

struct nf_prior {
    const nf_model *model;
    nf_prior_dim dim[NF__MAX_PARAMS];
    int n_con;
    int con_lhs[NF__MAX_CONSTRAINTS], con_rhs[NF__MAX_CONSTRAINTS];
    nf_constraint_mode mode;
    char repair[32];
    int64_t max_tries;
};

static const char *const nf__family_names[] = {"uniform", "loguniform", "normal", "truncnormal",
                                               "fixed"};

const char *nf_prior_family_name(nf_prior_family f)
{
    return (unsigned)f < 5 ? nf__family_names[f] : "?";
}

nf_status nf_prior_family_parse(const char *s, nf_prior_family *out)
{
    for (int i = 0; i < 5; i++)
        if (s && strcmp(s, nf__family_names[i]) == 0) {
            *out = (nf_prior_family)i;
            return NF_OK;
        }
    return nf__fail(NF_EINVAL,
                    "unknown prior family '%s' (known: uniform, loguniform, normal, truncnormal, fixed)",
                    s ? s : "(null)");
}

/* ---- normal distribution helpers (double) ------------------------------- */

double nf__norm_cdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }

/* Inverse of the standard normal CDF: Acklam's rational approximation
 * (relative error 1.2e-9) refined by one Halley step on erfc, which brings it
 * to double precision over (0, 1). */
double nf__norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        double q = sqrt(-2 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = nf__norm_cdf(x) - p;
    double u = e * 2.50662827463100050242 * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

/* Standard normal density. */
static double nf__norm_pdf(double x) { return 0.39894228040143267794 * exp(-0.5 * x * x); }

/* ---- create / set -------------------------------------------------------- */

nf_status nf_prior_create(const nf_model *m, nf_prior **out)
{
    *out = NULL;
    if (!m) return nf__fail(NF_EINVAL, "prior: model is NULL");
    if (m->n_params > NF__MAX_PARAMS)
        return nf__fail(NF_ERANGE, "prior: model %s has %d parameters (max %d)", m->name, m->n_params,
                        NF__MAX_PARAMS);
    nf_prior *p = nf__calloc(1, sizeof *p);
    if (!p) return nf__fail(NF_ENOMEM, "prior: out of memory");
    p->model = m;
    for (int i = 0; i < m->n_params; i++) {
        p->dim[i].family = NF_PRIOR_FIXED;
        p->dim[i].a = m->params[i].def;
        p->dim[i].lo = p->dim[i].hi = m->params[i].def;
    }
    p->max_tries = 10000;
    *out = p;
    return NF_OK;
}

void nf_prior_destroy(nf_prior *p) { free(p); }

static nf_status nf__param(const nf_prior *p, const char *name, int *idx)
{
    *idx = name ? nf_model_param_index(p->model, name) : -1;
    if (*idx >= 0) return NF_OK;
    char known[512] = "";
    size_t len = 0;
    for (int i = 0; i < p->model->n_params; i++) {
        int n = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", p->model->params[i].name);
        if (n > 0 && (size_t)n < sizeof known - len) len += (size_t)n;
    }
    return nf__fail(NF_EINVAL, "prior: model %s has no parameter '%s' (parameters: %s)", p->model->name,
                    name ? name : "(null)", known);
}

nf_status nf_prior_set(nf_prior *p, const char *param, const nf_prior_dim *dim)
{
    int i;
    nf_status s = nf__param(p, param, &i);
    if (s) return s;
    nf_prior_dim d = *dim;
    const char *fam = nf_prior_family_name(d.family);
    if ((unsigned)d.family > NF_PRIOR_FIXED) return nf__fail(NF_EINVAL, "prior %s: bad family %d", param, (int)d.family);
    if (!isfinite(d.a) || (d.family != NF_PRIOR_FIXED && !isfinite(d.b)))
        return nf__fail(NF_ENAN, "prior %s=%s: parameters must be finite numbers", param, fam);
    switch (d.family) {
    case NF_PRIOR_UNIFORM:
    case NF_PRIOR_LOGUNIFORM:
        if (!(d.a < d.b))
            return nf__fail(NF_EINVAL, "prior %s=%s: lower bound %g must be < upper bound %g", param, fam, d.a, d.b);
        if (d.family == NF_PRIOR_LOGUNIFORM && !(d.a > 0))
            return nf__fail(NF_EINVAL, "prior %s=loguniform: lower bound %g must be > 0", param, d.a);
        d.lo = d.a;
        d.hi = d.b;
        break;
    case NF_PRIOR_NORMAL:
        if (!(d.b > 0)) return nf__fail(NF_EINVAL, "prior %s=normal: sd %g must be > 0", param, d.b);
        d.lo = -INFINITY;
        d.hi = INFINITY;
        break;
    case NF_PRIOR_TRUNCNORMAL: {
        if (!(d.b > 0)) return nf__fail(NF_EINVAL, "prior %s=truncnormal: sd %g must be > 0", param, d.b);
        if (isnan(d.lo) || isnan(d.hi) || !(d.lo < d.hi))
            return nf__fail(NF_EINVAL, "prior %s=truncnormal: lower bound %g must be < upper bound %g", param,
                            d.lo, d.hi);
        double mass = nf__norm_cdf((d.hi - d.a) / d.b) - nf__norm_cdf((d.lo - d.a) / d.b);
        if (!(mass > 1e-12))
            return nf__fail(NF_ERANGE,
                            "prior %s=truncnormal: [%g, %g] holds %.3g of N(%g, %g^2); move the bounds or the mean",
                            param, d.lo, d.hi, mass, d.a, d.b);
        break;
    }
    case NF_PRIOR_FIXED:
        d.b = 0;
        d.lo = d.hi = d.a;
        break;
    }
    const nf_param_info *pi = &p->model->params[i];
    if (d.lo < pi->valid_lo || d.hi > pi->valid_hi) {
        if (d.family != NF_PRIOR_NORMAL)
            return nf__fail(NF_ERANGE, "prior %s: support [%g, %g] leaves the model's valid range [%g, %g] %s",
                            param, d.lo, d.hi, pi->valid_lo, pi->valid_hi, pi->unit);
    }
    p->dim[i] = d;
    return NF_OK;
}

nf_status nf_prior_add_constraint(nf_prior *p, const char *lhs, const char *rhs)
{
    int a, b;
    nf_status s = nf__param(p, lhs, &a);
    if (!s) s = nf__param(p, rhs, &b);
    if (s) return s;
    if (a == b) return nf__fail(NF_EINVAL, "constraint %s < %s can never hold", lhs, rhs);
    if (p->n_con >= NF__MAX_CONSTRAINTS)
        return nf__fail(NF_ERANGE, "too many constraints (max %d)", NF__MAX_CONSTRAINTS);
    p->con_lhs[p->n_con] = a;
    p->con_rhs[p->n_con] = b;
    p->n_con++;
    return NF_OK;
}

nf_status nf_prior_set_repair(nf_prior *p, const char *rule)
{
    if (!rule || !strcmp(rule, "reject")) {
        p->mode = NF_CONSTRAINT_REJECT;
        p->repair[0] = '\0';
        return NF_OK;
    }
    if (strcmp(rule, "bayesflow-lif") != 0)
        return nf__fail(NF_EINVAL, "unknown repair rule '%s' (known: reject, bayesflow-lif)", rule);
    const char *need[] = {"V_res", "E_L", "V_th"};
    for (int k = 0; k < 3; k++)
        if (nf_model_param_index(p->model, need[k]) < 0)
            return nf__fail(NF_EINVAL, "repair rule bayesflow-lif needs parameter %s; model %s has none", need[k],
                            p->model->name);
    p->mode = NF_CONSTRAINT_REPAIR;
    snprintf(p->repair, sizeof p->repair, "%s", rule);
    return NF_OK;
}

nf_status nf_prior_set_max_tries(nf_prior *p, int64_t max_tries)
{
    /* attempt * n_params + j must fit the 32-bit Philox block counter */
    int64_t cap = (int64_t)(UINT32_MAX / (uint32_t)(p->model->n_params + 1));
    if (max_tries < 1 || max_tries > cap)
        return nf__fail(NF_EINVAL, "max tries %lld must be in 1..%lld", (long long)max_tries, (long long)cap);
    p->max_tries = max_tries;
    return NF_OK;
}

/* ---- getters ------------------------------------------------------------- */

const nf_model *nf_prior_model(const nf_prior *p) { return p->model; }

int nf_prior_dim_count(const nf_prior *p)
{
    int d = 0;
    for (int i = 0; i < p->model->n_params; i++) d += p->dim[i].family != NF_PRIOR_FIXED;
    return d;
}

int nf_prior_param_of(const nf_prior *p, int j)
{
    for (int i = 0; i < p->model->n_params; i++)
        if (p->dim[i].family != NF_PRIOR_FIXED && j-- == 0) return i;
    return -1;
}

nf_prior_dim nf_prior_get(const nf_prior *p, int i) { return p->dim[i]; }

/* Mean and variance of one family (unconstrained). */
static void nf__moments(const nf_prior_dim *d, double *mean, double *var)
{
    switch (d->family) {
    case NF_PRIOR_UNIFORM:
        *mean = 0.5 * (d->a + d->b);
        *var = (d->b - d->a) * (d->b - d->a) / 12.0;
        return;
    case NF_PRIOR_LOGUNIFORM: {
        double l = log(d->b / d->a);
        *mean = (d->b - d->a) / l;
        *var = (d->b * d->b - d->a * d->a) / (2.0 * l) - *mean * *mean;
        return;
    }
    case NF_PRIOR_NORMAL:
        *mean = d->a;
        *var = d->b * d->b;
        return;
    case NF_PRIOR_TRUNCNORMAL: {
        double al = (d->lo - d->a) / d->b, be = (d->hi - d->a) / d->b;
        double z = nf__norm_cdf(be) - nf__norm_cdf(al);
        double pa = nf__norm_pdf(al), pb = nf__norm_pdf(be);
        double m = (pa - pb) / z;
        double t = (isfinite(al) ? al * pa : 0) - (isfinite(be) ? be * pb : 0);
        *mean = d->a + d->b * m;
        *var = d->b * d->b * (1 + t / z - m * m);
        return;
    }
    case NF_PRIOR_FIXED:
        *mean = d->a;
        *var = 0;
        return;
    }
}

double nf_prior_mean(const nf_prior *p, int j)
{
    double m = NAN, v;
    int i = nf_prior_param_of(p, j);
    if (i >= 0) nf__moments(&p->dim[i], &m, &v);
    return m;
}

double nf_prior_variance(const nf_prior *p, int j)
{
    double m, v = NAN;
    int i = nf_prior_param_of(p, j);
    if (i >= 0) nf__moments(&p->dim[i], &m, &v);
    return v;
}

/* ---- parsing ------------------------------------------------------------- */

/* "A<B" (spaces allowed) into two names; 0 when s is not a constraint. */
static int nf__split_constraint(const char *s, char *lhs, char *rhs, size_t cap)
{
    const char *lt = strchr(s, '<');
    if (!lt) return 0;
    const char *a = s, *ae = lt, *b = lt + 1, *be = s + strlen(s);
    while (a < ae && isspace((unsigned char)*a)) a++;
    while (ae > a && isspace((unsigned char)ae[-1])) ae--;
    while (b < be && isspace((unsigned char)*b)) b++;
    while (be > b && isspace((unsigned char)be[-1])) be--;
    if ((size_t)(ae - a) >= cap || (size_t)(be - b) >= cap) return 0;
    memcpy(lhs, a, (size_t)(ae - a));
    lhs[ae - a] = '\0';
    memcpy(rhs, b, (size_t)(be - b));
    rhs[be - b] = '\0';
    return 1;
}

static nf_status nf__parse_constraint(nf_prior *p, const char *item)
{
    char lhs[64], rhs[64];
    if (!nf__split_constraint(item, lhs, rhs, sizeof lhs) || !lhs[0] || !rhs[0])
        return nf__fail(NF_EINVAL, "constraint '%s': expected NAME<NAME", item);
    return nf_prior_add_constraint(p, lhs, rhs);
}

/* One short-form item: NAME=family:numbers, A<B, or repair=RULE. */
static nf_status nf__parse_item(nf_prior *p, const char *item)
{
    if (strchr(item, '<')) return nf__parse_constraint(p, item);
    const char *eq = strchr(item, '=');
    if (!eq) return nf__fail(NF_EINVAL, "prior '%s': expected NAME=FAMILY:ARGS or A<B", item);
    char name[64];
    size_t nl = (size_t)(eq - item);
    if (nl == 0 || nl >= sizeof name) return nf__fail(NF_EINVAL, "prior '%s': bad parameter name", item);
    memcpy(name, item, nl);
    name[nl] = '\0';
    if (!strcmp(name, "repair")) return nf_prior_set_repair(p, eq + 1);
    const char *colon = strchr(eq + 1, ':');
    char fam[32];
    size_t fl = colon ? (size_t)(colon - eq - 1) : strlen(eq + 1);
    if (fl >= sizeof fam) fl = sizeof fam - 1;
    memcpy(fam, eq + 1, fl);
    fam[fl] = '\0';
    nf_prior_dim d = {0};
    nf_status s = nf_prior_family_parse(fam, &d.family);
    if (s) return nf__fail(s, "prior %s: unknown prior family '%s' (known: uniform, loguniform, normal, "
                              "truncnormal, fixed)", name, fam);
    double v[4] = {0, 0, 0, 0};
    int nv = 0;
    if (colon) {
        const char *q = colon + 1;
        while (*q) {
            char *end;
            if (nv == 4) return nf__fail(NF_EINVAL, "prior %s: too many numbers in '%s'", name, item);
            v[nv] = strtod(q, &end);
            if (end == q) return nf__fail(NF_EINVAL, "prior %s: '%s' is not a number", name, q);
            nv++;
            q = end;
            if (*q == ',') q++;
            else if (*q) return nf__fail(NF_EINVAL, "prior %s: unexpected '%s'", name, q);
        }
    }
    static const int need[] = {2, 2, 2, 4, 1};
    if (nv != need[d.family])
        return nf__fail(NF_EINVAL, "prior %s=%s takes %d numbers (%s), got %d", name, fam, need[d.family],
                        d.family == NF_PRIOR_TRUNCNORMAL ? "mean,sd,lo,hi"
                        : d.family == NF_PRIOR_NORMAL    ? "mean,sd"
                        : d.family == NF_PRIOR_FIXED     ? "value"
                                                         : "lo,hi",
                        nv);
    d.a = v[0];
    d.b = nv > 1 ? v[1] : 0;
    if (d.family == NF_PRIOR_TRUNCNORMAL) {
        d.lo = v[2];
        d.hi = v[3];
    }
    return nf_prior_set(p, name, &d);
}

nf_status nf_prior_parse(nf_prior *p, const char *spec)
{
    if (!spec) return nf__fail(NF_EINVAL, "prior: empty spec");
    const char *s = spec;
    char item[256];
    while (*s) {
        while (*s && (isspace((unsigned char)*s) || *s == ';')) s++;
        if (!*s) break;
        size_t n = 0;
        while (s[n] && !isspace((unsigned char)s[n]) && s[n] != ';') n++;
        if (n >= sizeof item) return nf__fail(NF_EINVAL, "prior: item too long: %.40s...", s);
        memcpy(item, s, n);
        item[n] = '\0';
        nf_status st = nf__parse_item(p, item);
        if (st) return st;
        s += n;
    }
    return NF_OK;
}

static nf_status nf__json_num(const cJSON *o, const char *param, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return nf__fail(NF_EINVAL, "prior %s: missing number \"%s\"", param, key);
    *out = v->valuedouble;
    return NF_OK;
}

nf_status nf_prior_parse_json(nf_prior *p, const char *text)
{
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return nf__fail(NF_EFORMAT, "prior JSON does not parse near '%.30s'", at ? at : "");
    }
    nf_status s = NF_OK;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
    if (params && !cJSON_IsObject(params)) s = nf__fail(NF_EFORMAT, "prior JSON: \"params\" must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, params)
    {
        if (s) break;
        const char *name = it->string;
        if (!cJSON_IsObject(it)) {
            s = nf__fail(NF_EFORMAT, "prior %s: expected an object with \"family\"", name);
            break;
        }
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "family");
        nf_prior_dim d = {0};
        const char *fs = cJSON_IsString(f) ? f->valuestring : "(missing)";
        if ((s = nf_prior_family_parse(fs, &d.family))) {
            s = nf__fail(s, "prior %s: unknown prior family '%s' (known: uniform, loguniform, normal, "
                            "truncnormal, fixed)", name, fs);
            break;
        }
        switch (d.family) {
        case NF_PRIOR_UNIFORM:
        case NF_PRIOR_LOGUNIFORM:
            if (!(s = nf__json_num(it, name, "lo", &d.a))) s = nf__json_num(it, name, "hi", &d.b);
            break;
        case NF_PRIOR_NORMAL:
            if (!(s = nf__json_num(it, name, "mean", &d.a))) s = nf__json_num(it, name, "sd", &d.b);
            break;
        case NF_PRIOR_TRUNCNORMAL:
            if (!(s = nf__json_num(it, name, "mean", &d.a)) && !(s = nf__json_num(it, name, "sd", &d.b)) &&
                !(s = nf__json_num(it, name, "lo", &d.lo)))
                s = nf__json_num(it, name, "hi", &d.hi);
            break;
        case NF_PRIOR_FIXED:
            s = nf__json_num(it, name, "value", &d.a);
            break;
        }
        if (!s) s = nf_prior_set(p, name, &d);
    }
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(root, "constraints");
    if (!s && cons) {
        if (!cJSON_IsArray(cons)) s = nf__fail(NF_EFORMAT, "prior JSON: \"constraints\" must be an array of \"A < B\"");
        cJSON_ArrayForEach(it, cons)
        {
            if (s) break;
            if (!cJSON_IsString(it)) s = nf__fail(NF_EFORMAT, "prior JSON: constraints must be strings \"A < B\"");
            else s = nf__parse_constraint(p, it->valuestring);
        }
    }
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(root, "repair");
    if (!s && rep) {
        if (!cJSON_IsString(rep)) s = nf__fail(NF_EFORMAT, "prior JSON: \"repair\" must be a string");
        else s = nf_prior_set_repair(p, rep->valuestring);
    }
    cJSON_Delete(root);
    return s;
}

cJSON *nf__prior_json(const nf_prior *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *params = cJSON_AddObjectToObject(o, "params");
    cJSON *order = cJSON_AddArrayToObject(o, "order");
    for (int i = 0; i < p->model->n_params; i++) {
        const nf_prior_dim *d = &p->dim[i];
        cJSON *e = cJSON_AddObjectToObject(params, p->model->params[i].name);
        cJSON_AddStringToObject(e, "family", nf_prior_family_name(d->family));
        switch (d->family) {
        case NF_PRIOR_UNIFORM:
        case NF_PRIOR_LOGUNIFORM:
            cJSON_AddNumberToObject(e, "lo", d->a);
            cJSON_AddNumberToObject(e, "hi", d->b);
            break;
        case NF_PRIOR_NORMAL:
        case NF_PRIOR_TRUNCNORMAL:
            cJSON_AddNumberToObject(e, "mean", d->a);
            cJSON_AddNumberToObject(e, "sd", d->b);
            if (d->family == NF_PRIOR_TRUNCNORMAL) {
                cJSON_AddNumberToObject(e, "lo", d->lo);
                cJSON_AddNumberToObject(e, "hi", d->hi);
            }
            break;
        case NF_PRIOR_FIXED:
            cJSON_AddNumberToObject(e, "value", d->a);
            break;
        }
        cJSON_AddStringToObject(e, "unit", p->model->params[i].unit);
        if (d->family != NF_PRIOR_FIXED) cJSON_AddItemToArray(order, cJSON_CreateString(p->model->params[i].name));
    }
    cJSON *cons = cJSON_AddArrayToObject(o, "constraints");
    for (int c = 0; c < p->n_con; c++) {
        char buf[160];
        snprintf(buf, sizeof buf, "%s < %s", p->model->params[p->con_lhs[c]].name,
                 p->model->params[p->con_rhs[c]].name);
        cJSON_AddItemToArray(cons, cJSON_CreateString(buf));
    }
    cJSON_AddStringToObject(o, "repair", p->mode == NF_CONSTRAINT_REPAIR ? p->repair : "reject");
    cJSON_AddNumberToObject(o, "max_tries", (double)p->max_tries);
    return o;
}

char *nf_prior_to_json(const nf_prior *p)
{
    cJSON *o = nf__prior_json(p);
    char *s = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* ---- sampling ------------------------------------------------------------ */

double nf__u53_block(uint64_t seed, uint32_t stream, uint64_t sim, uint32_t block, double *u2)
{
    nf_u32x4 c = {block, stream, (uint32_t)sim, (uint32_t)(sim >> 32)};
    nf_u32x4 r = nf_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    if (u2) *u2 = nf__u53(r.z, r.w);
    return nf__u53(r.x, r.y);
}

static double nf__draw(const nf_prior_dim *d, uint64_t seed, uint64_t sim, uint32_t block)
{
    double u2, u = nf__u53_block(seed, NF_RNG_PRIOR, sim, block, &u2);
    switch (d->family) {
    case NF_PRIOR_UNIFORM:
        return d->a + (d->b - d->a) * u;
    case NF_PRIOR_LOGUNIFORM:
        return exp(log(d->a) + (log(d->b) - log(d->a)) * u);
    case NF_PRIOR_NORMAL:
        return d->a + d->b * sqrt(-2.0 * log(u)) * cos(6.283185307179586477 * u2);
    case NF_PRIOR_TRUNCNORMAL: {
        /* Invert the CDF on the side of the mean where the interval lies, so
         * that far-tail intervals keep their precision. */
        double al = (d->lo - d->a) / d->b, be = (d->hi - d->a) / d->b;
        double x;
        if (al > 0) {
            double pb = nf__norm_cdf(-be), pa = nf__norm_cdf(-al);
            x = -nf__norm_quantile(pb + u * (pa - pb));
        } else {
            double pa = nf__norm_cdf(al), pb = nf__norm_cdf(be);
            x = nf__norm_quantile(pa + u * (pb - pa));
        }
        x = d->a + d->b * x;
        return x < d->lo ? d->lo : (x > d->hi ? d->hi : x);
    }
    case NF_PRIOR_FIXED:
        break;
    }
    return d->a;
}

static double nf__clip(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* The BayesFlow LIF study's repair, in its order. */
static void nf__repair_bayesflow(const nf_prior *p, double *v)
{
    const nf_model *m = p->model;
    int vres = nf_model_param_index(m, "V_res"), el = nf_model_param_index(m, "E_L"),
        vth = nf_model_param_index(m, "V_th");
    if (v[vres] >= v[el]) v[vres] = nf__clip(v[el] - 2.0, p->dim[vres].lo, p->dim[vres].hi);
    if (v[el] >= v[vth]) v[el] = nf__clip(v[vth] - 5.0, p->dim[el].lo, p->dim[el].hi);
}

/* Index of the first constraint the draw violates (compared after rounding
 * to float, as stored), -1 when none; NF__OUT_OF_RANGE when a value leaves
 * the model's valid range (possible with normal priors). */
#define NF__OUT_OF_RANGE (-2)
static int nf__violated(const nf_prior *p, const double *v)
{
    for (int j = 0; j < p->model->n_params; j++)
        if (!(v[j] >= p->model->params[j].valid_lo && v[j] <= p->model->params[j].valid_hi)) return NF__OUT_OF_RANGE;
    for (int c = 0; c < p->n_con; c++)
        if (!((float)v[p->con_lhs[c]] < (float)v[p->con_rhs[c]])) return c;
    return -1;
}

nf_status nf_prior_sample(const nf_prior *p, uint64_t seed, int64_t first, int64_t n, float *theta,
                          float *params)
{
    const nf_model *m = p->model;
    const int np = m->n_params, d = nf_prior_dim_count(p);
    if (first < 0 || n < 0) return nf__fail(NF_EINVAL, "prior sample: range [%lld, +%lld) invalid", (long long)first, (long long)n);
    /* A constraint whose sides' supports cannot overlap rejects everything. */
    for (int c = 0; c < p->n_con; c++) {
        const nf_prior_dim *a = &p->dim[p->con_lhs[c]], *b = &p->dim[p->con_rhs[c]];
        if (a->lo >= b->hi)
            return nf__fail(NF_ERANGE, "constraint %s < %s can never hold: %s >= %g but %s <= %g",
                            m->params[p->con_lhs[c]].name, m->params[p->con_rhs[c]].name,
                            m->params[p->con_lhs[c]].name, a->lo, m->params[p->con_rhs[c]].name, b->hi);
    }
    double v[NF__MAX_PARAMS];
    for (int64_t i = 0; i < n; i++) {
        uint64_t sim = (uint64_t)(first + i);
        int64_t a = 0;
        int bad = -1;
        for (; a < p->max_tries; a++) {
            for (int j = 0; j < np; j++) v[j] = nf__draw(&p->dim[j], seed, sim, (uint32_t)(a * np + j));
            if (p->mode == NF_CONSTRAINT_REPAIR) nf__repair_bayesflow(p, v);
            bad = nf__violated(p, v);
            if (bad == -1) break;
        }
        if (bad == NF__OUT_OF_RANGE)
            return nf__fail(NF_ERANGE,
                            "%lld consecutive prior draws (simulation %lld) left the model's valid parameter range; "
                            "narrow the normal priors",
                            (long long)p->max_tries, (long long)sim);
        if (bad >= 0)
            return nf__fail(NF_ERANGE,
                            "constraint %s < %s rejected %lld consecutive prior draws (simulation %lld); "
                            "the prior and the constraints (nearly) exclude each other",
                            m->params[p->con_lhs[bad]].name, m->params[p->con_rhs[bad]].name,
                            (long long)p->max_tries, (long long)sim);
        for (int j = 0, k = 0; j < np; j++) {
            if (params) params[i * np + j] = (float)v[j];
            if (p->dim[j].family != NF_PRIOR_FIXED) theta[i * d + k++] = (float)v[j];
        }
    }
    return NF_OK;
}

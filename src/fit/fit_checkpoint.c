/* Checkpoints of a fit pass (fit_pass.c): the searches of one model saved
 * as a snapshot directory (each optimiser's complete state, the convergence
 * curves and the best points by the reported score) that state.json points
 * at, and the fingerprint that ties a checkpoint to its run. A resumed run
 * ends with exactly the result of an uninterrupted one. */
#include "neurofit/fit.h"

#include "fit_internal.h"
#include "internal.h"
#include "neurofit/fileio.h"
#include "rng.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

nf_status nf__fit_ckpt_save(const char *root, uint64_t fingerprint, int mi, const nf__fit_slot *slots, int R,
                            int final, const nf__fit_counts *counts, char *cur_dir, size_t cap)
{
    char name[64], dir[4096], p[4096];
    if (final)
        snprintf(name, sizeof name, "m%d_final", mi);
    else
    {
        /* total generations over the recordings: grows every iteration, also across a resume */
        long long gens = 0;
        for (int r = 0; r < R; r++)
            gens += nf_optim_generation(slots[r].opt);
        snprintf(name, sizeof name, "m%d_g%lld", mi, gens);
    }
    if (!strcmp(name, cur_dir))
        return NF_OK; /* nothing new since the last snapshot */
    nf_status s = nf_path_join(dir, sizeof dir, root, name);
    if (s)
        return s;
    nf_remove_tree(dir);
    if ((s = nf_mkdir_p(dir)))
        return s;
    for (int r = 0; r < R; r++) {
        char f[32];
        snprintf(f, sizeof f, "opt_%d.bin", r);
        if ((s = nf_path_join(p, sizeof p, dir, f)) || (s = nf_optim_save(slots[r].opt, p)))
            return s;
    }
    if ((s = nf_path_join(p, sizeof p, dir, "conv.bin")))
        return s;
    nf_commit_file cf;
    if ((s = nf_file_commit_open(&cf, p)))
        return s;
    int ok = 1;
    for (int r = 0; r < R; r++) {
        int32_t n = slots[r].n_conv;
        ok &= fwrite(&n, sizeof n, 1, cf.fp) == 1;
        if (n)
            ok &= fwrite(slots[r].conv, sizeof(double), (size_t)n, cf.fp) == (size_t)n;
        /* the best point by the reported score (the optimiser keeps its own by the search's) */
        ok &= fwrite(slots[r].best_x, sizeof slots[r].best_x, 1, cf.fp) == 1;
    }
    if ((s = nf_file_commit_close(&cf, ok)))
        return s;
    if (!ok)
        return nf__fail(NF_EIO, "checkpoint %s: write failed", p);

    char state[512];
    snprintf(state, sizeof state,
             "{\"format\": \"neurofit-fit-checkpoint\", \"version\": 2, \"fingerprint\": \"%016llx\",\n"
             " \"model_index\": %d, \"snapshot\": \"%s\", \"simulations\": %lld, \"neuron_steps\": %.17g}\n",
             (unsigned long long)fingerprint, final ? mi + 1 : mi, final ? "" : name, (long long)counts->sims,
             counts->steps);
    if ((s = nf_path_join(p, sizeof p, root, "state.json")) || (s = nf_file_write_string(p, state)))
        return s;
    if (cur_dir[0] && strncmp(cur_dir, name, strlen(name))) {
        char old[4096];
        if (nf_path_join(old, sizeof old, root, cur_dir) == NF_OK)
            nf_remove_tree(old);
    }
    snprintf(cur_dir, cap, "%s", final ? "" : name);
    return NF_OK;
}

nf_status nf__fit_ckpt_load(const char *root, const char *name, nf__fit_slot *slots, int R)
{
    char dir[4096], p[4096];
    nf_status s = nf_path_join(dir, sizeof dir, root, name);
    if (s)
        return s;
    for (int r = 0; r < R; r++) {
        char f[32];
        snprintf(f, sizeof f, "opt_%d.bin", r);
        if ((s = nf_path_join(p, sizeof p, dir, f)) || (s = nf_optim_load(&slots[r].opt, p)))
            return s;
    }
    if ((s = nf_path_join(p, sizeof p, dir, "conv.bin")))
        return s;
    FILE *fp = fopen(p, "rb");
    if (!fp)
        return nf__fail(NF_EIO, "checkpoint %s: %s", p, strerror(errno));
    for (int r = 0; r < R; r++) {
        int32_t n;
        if (fread(&n, sizeof n, 1, fp) != 1 || n < 0 || n > (1 << 26)) {
            fclose(fp);
            return nf__fail(NF_EFORMAT, "checkpoint %s: corrupt convergence record %d", p, r);
        }
        if (n > 0) {
            slots[r].conv = malloc(sizeof(double) * (size_t)n);
            if (!slots[r].conv) {
                fclose(fp);
                return nf__fail(NF_ENOMEM, "checkpoint %s: out of memory", p);
            }
            slots[r].cap_conv = n;
        }
        for (int32_t k = 0; k < n; k++)
            if (fread(&slots[r].conv[slots[r].n_conv++], sizeof(double), 1, fp) != 1) {
                fclose(fp);
                return nf__fail(NF_EFORMAT, "checkpoint %s: truncated", p);
            }
        slots[r].best = n ? slots[r].conv[n - 1] : INFINITY;
        if (fread(slots[r].best_x, sizeof slots[r].best_x, 1, fp) != 1) {
            fclose(fp);
            return nf__fail(NF_EFORMAT, "checkpoint %s: truncated", p);
        }
    }
    fclose(fp);
    return NF_OK;
}

/* Only the names nf__fit_ckpt_save makes: "" or m<model>_g<generations> of
 * model mi (no path separators, no "..", no other spelling). */
static int snapshot_name_ok(const char *name, int mi)
{
    if (!name[0])
        return 1;
    int m;
    long long g;
    char canon[64];
    if (strlen(name) >= sizeof canon || sscanf(name, "m%d_g%lld", &m, &g) != 2 || m != mi || g < 0)
        return 0;
    snprintf(canon, sizeof canon, "m%d_g%lld", m, g);
    return !strcmp(canon, name);
}

nf_status nf__fit_ckpt_state(const char *root, uint64_t fingerprint, int M, int *mi, char *snap, size_t cap,
                             nf__fit_counts *counts)
{
    char p[4096];
    nf_status s = nf_path_join(p, sizeof p, root, "state.json");
    if (s)
        return s;
    FILE *fp = fopen(p, "rb");
    if (!fp)
        return nf__fail(NF_ENOTFOUND, "--resume: no checkpoint in %s (state.json missing)", root);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    const cJSON *fp_j = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
    const cJSON *mi_j = cJSON_GetObjectItemCaseSensitive(j, "model_index");
    const cJSON *sn_j = cJSON_GetObjectItemCaseSensitive(j, "snapshot");
    if (!j || !cJSON_IsString(fp_j) || !cJSON_IsNumber(mi_j) || !cJSON_IsString(sn_j)) {
        cJSON_Delete(j);
        return nf__fail(NF_EFORMAT, "checkpoint %s is corrupt", p);
    }
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)fingerprint);
    if (strcmp(fp_j->valuestring, want)) {
        cJSON_Delete(j);
        return nf__fail(NF_EINVAL,
                        "checkpoint %s belongs to a different run (other recordings, models or "
                        "options); use another --out or drop --resume", p);
    }
    *mi = mi_j->valueint;
    snprintf(snap, cap, "%s", sn_j->valuestring);
    const cJSON *sims_j = cJSON_GetObjectItemCaseSensitive(j, "simulations");
    const cJSON *steps_j = cJSON_GetObjectItemCaseSensitive(j, "neuron_steps");
    *counts = (nf__fit_counts){0};
    if (cJSON_IsNumber(sims_j) && sims_j->valuedouble >= 0 && sims_j->valuedouble < 9e15)
        counts->sims = (int64_t)sims_j->valuedouble;
    if (cJSON_IsNumber(steps_j) && steps_j->valuedouble >= 0 && isfinite(steps_j->valuedouble))
        counts->steps = steps_j->valuedouble;
    int name_ok = snapshot_name_ok(sn_j->valuestring, *mi);
    cJSON_Delete(j);
    if (*mi < 0 || *mi > M)
        return nf__fail(NF_EFORMAT, "checkpoint %s: model index %d out of range", p, *mi);
    char q[128];
    if (!name_ok) /* a snapshot is removed later: never a path of someone else's */
        return nf__fail(NF_EFORMAT, "checkpoint %s: \"%s\" is not a snapshot name this fit makes", p,
                        nf_excerpt(q, sizeof q, snap, (size_t)-1));
    return NF_OK;
}

int nf__fit_ckpt_exists(const char *root)
{
    char p[4096];
    return nf_path_join(p, sizeof p, root, "state.json") == NF_OK && access(p, F_OK) == 0;
}

void nf__fit_ckpt_clear(const char *root)
{
    char p[4096];
    if (nf_path_join(p, sizeof p, root, "state.json") == NF_OK)
        unlink(p);
}

uint64_t nf__fit_fingerprint(const nf_fit_options *o, const nf__fit_in *in, const nf_model *const *models, int M,
                             const int *gidx, int G)
{
    uint64_t h = NF__FNV1A_INIT;
    /* the checkpoint layout and the score definition: a checkpoint of an
     * older neurofit is "a different run", never misread */
    static const char layout[] = "fit-checkpoint 3: groups; conv + best_x; count sigma";
    h = nf__fnv1a(h, layout, sizeof layout);
    const double count_sigma = NF_FIT_COUNT_SIGMA;
    h = nf__fnv1a(h, &count_sigma, sizeof count_sigma);
    for (int i = 0; i < M; i++)
        h = nf__fnv1a(h, models[i]->name, strlen(models[i]->name) + 1);
    int32_t ints[4] = {(int32_t)o->optimizer, o->popsize, o->restarts, G};
    h = nf__fnv1a(h, ints, sizeof ints);
    int32_t b = (int32_t)o->bounds;
    h = nf__fnv1a(h, &b, sizeof b);
    double d[10] = {o->weights.rmse, o->weights.features, o->weights.spikes, o->threshold_mV,
                    o->gamma_window_ms, (double)o->budget, o->rmse_cut_ms, in->ob->w[NF__T_EFEL], o->w_fi,
                    o->w_passive};
    h = nf__fnv1a(h, d, sizeof d);
    h = nf__fnv1a(h, &o->seed, sizeof o->seed);
    for (int k = 0; k < in->ob->n_efel; k++)
        h = nf__fnv1a(h, &in->ob->efel_ids[k], sizeof in->ob->efel_ids[k]);
    if (o->n_starts > 0) {
        h = nf__fnv1a(h, &o->start_sigma, sizeof o->start_sigma);
        for (int k = 0; k < o->n_starts; k++) {
            const nf_fit_start *st = &o->starts[k];
            const nf_model *m = nf_model_find(st->model);
            h = nf__fnv1a(h, st->model, strlen(st->model) + 1);
            h = nf__fnv1a(h, &st->target, sizeof st->target);
            h = nf__fnv1a(h, st->params, sizeof(double) * (size_t)(m ? m->n_params : 0));
            if (st->sigma != 0)
                h = nf__fnv1a(h, &st->sigma, sizeof st->sigma);
        }
    }
    for (int u = 0; u < G; u++) {
        const nf__fit_grp *g = &in->groups[gidx[u]];
        int32_t gn[2] = {g->n, g->n_train};
        h = nf__fnv1a(h, gn, sizeof gn);
        for (int k = 0; k < g->n; k++) {
            const nf_fit_target *t = &in->tg[g->sw[k]];
            const nf__fit_tgt *p = &in->prep[g->sw[k]];
            double td[3] = {t->dt_ms, p->s0, p->s1};
            h = nf__fnv1a(h, td, sizeof td);
            h = nf__fnv1a(h, &t->n, sizeof t->n);
            h = nf__fnv1a(h, t->v, sizeof(float) * (size_t)t->n);
            h = nf__fnv1a(h, t->i, sizeof(float) * (size_t)t->n);
        }
    }
    return h;
}

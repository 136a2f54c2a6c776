/* Checkpoints of a fit pass (fit_pass.c), which runs all its models at once:
 * state.json (version 3) says for each model where its searches are: in a
 * snapshot directory g<generations> (every running model's searches, saved
 * between generations: each optimiser's complete state, the convergence
 * curves, the best points by the reported score, the simulations so far),
 * finished in m<model>_final, or not saved (it starts afresh). The
 * fingerprint ties a checkpoint to its run. A resumed run ends with exactly
 * the result of an uninterrupted one. */
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

/* Model mi's searches slots[0..G) into the directory dir: opt_<mi>_<g>.bin
 * (each optimiser's state), conv_<mi>.bin (the counts, then per search its
 * convergence curve and its best point by the reported score). */
static nf_status save_model(const char *dir, int mi, const nf__fit_slot *slots, int G, const nf__fit_counts *counts)
{
    char p[4096];
    nf_status s;
    for (int r = 0; r < G; r++) {
        char f[48];
        snprintf(f, sizeof f, "opt_%d_%d.bin", mi, r);
        if ((s = nf_path_join(p, sizeof p, dir, f)) || (s = nf_optim_save(slots[r].opt, p)))
            return s;
    }
    char f[32];
    snprintf(f, sizeof f, "conv_%d.bin", mi);
    if ((s = nf_path_join(p, sizeof p, dir, f)))
        return s;
    nf_commit_file cf;
    if ((s = nf_file_commit_open(&cf, p)))
        return s;
    int ok = fwrite(&counts->sims, sizeof counts->sims, 1, cf.fp) == 1;
    ok &= fwrite(&counts->steps, sizeof counts->steps, 1, cf.fp) == 1;
    for (int r = 0; r < G; r++) {
        int32_t n = slots[r].n_conv;
        ok &= fwrite(&n, sizeof n, 1, cf.fp) == 1;
        if (n)
            ok &= fwrite(slots[r].conv, sizeof(double), (size_t)n, cf.fp) == (size_t)n;
        /* the best point by the reported score (the optimiser keeps its own by the search's) */
        ok &= fwrite(slots[r].best_x, sizeof slots[r].best_x, 1, cf.fp) == 1;
    }
    if ((s = nf_file_commit_close(&cf, ok)))
        return s;
    return ok ? NF_OK : nf__fail(NF_EIO, "checkpoint %s: write failed", p);
}

/* root/<name>, emptied and made again */
static nf_status fresh_dir(const char *root, const char *name, char *dir, size_t cap)
{
    nf_status s = nf_path_join(dir, cap, root, name);
    if (s)
        return s;
    nf_remove_tree(dir);
    return nf_mkdir_p(dir);
}

/* root/state.json from ck: the commit of a checkpoint */
static nf_status write_state(const char *root, uint64_t fingerprint, const nf__fit_ckpt *ck)
{
    static const char *const place[] = {"fresh", "snapshot", "final"};
    size_t cap = 256 + 16 * (size_t)ck->M, n = 0;
    char *text = malloc(cap), p[4096];
    if (!text)
        return nf__fail(NF_ENOMEM, "checkpoint: out of memory");
    n += (size_t)snprintf(text + n, cap - n,
                          "{\"format\": \"neurofit-fit-checkpoint\", \"version\": 3, \"fingerprint\": \"%016llx\",\n"
                          " \"models\": [",
                          (unsigned long long)fingerprint);
    for (int mi = 0; mi < ck->M; mi++)
        n += (size_t)snprintf(text + n, cap - n, "%s\"%s\"", mi ? ", " : "", place[ck->where[mi]]);
    snprintf(text + n, cap - n, "], \"snapshot\": \"%s\"}\n", ck->snap);
    nf_status s = nf_path_join(p, sizeof p, root, "state.json");
    if (!s)
        s = nf_file_write_string(p, text);
    free(text);
    return s;
}

nf_status nf__fit_ckpt_snapshot(const char *root, uint64_t fingerprint, nf__fit_ckpt *ck,
                                nf__fit_slot *const *slots, const nf__fit_counts *counts, int G, long long gens)
{
    char name[64], dir[4096];
    snprintf(name, sizeof name, "g%lld", gens);
    if (!strcmp(name, ck->snap))
        return NF_OK; /* nothing new since the last snapshot */
    nf_status s = fresh_dir(root, name, dir, sizeof dir);
    for (int mi = 0; mi < ck->M && !s; mi++)
        if (slots[mi])
            s = save_model(dir, mi, slots[mi], G, &counts[mi]);
    if (s)
        return s;
    nf__fit_ckpt next = *ck;
    snprintf(next.snap, sizeof next.snap, "%s", name);
    uint8_t *where = malloc((size_t)ck->M + 1);
    if (!where)
        return nf__fail(NF_ENOMEM, "checkpoint: out of memory");
    for (int mi = 0; mi < ck->M; mi++)
        where[mi] = slots[mi] ? NF__CK_SNAPSHOT : ck->where[mi] == NF__CK_FINAL ? NF__CK_FINAL : NF__CK_FRESH;
    next.where = where;
    s = write_state(root, fingerprint, &next);
    if (!s) {
        char old[4096];
        if (ck->snap[0] && nf_path_join(old, sizeof old, root, ck->snap) == NF_OK)
            nf_remove_tree(old);
        memcpy(ck->where, where, (size_t)ck->M);
        memcpy(ck->snap, next.snap, sizeof ck->snap);
    }
    free(where);
    return s;
}

nf_status nf__fit_ckpt_final(const char *root, uint64_t fingerprint, nf__fit_ckpt *ck, int mi,
                             const nf__fit_slot *slots, int G, const nf__fit_counts *counts)
{
    char name[64], dir[4096];
    snprintf(name, sizeof name, "m%d_final", mi);
    nf_status s = fresh_dir(root, name, dir, sizeof dir);
    if (!s)
        s = save_model(dir, mi, slots, G, counts);
    if (s)
        return s;
    uint8_t was = ck->where[mi];
    ck->where[mi] = NF__CK_FINAL;
    if ((s = write_state(root, fingerprint, ck)))
        ck->where[mi] = was;
    return s;
}

nf_status nf__fit_ckpt_load(const char *root, const nf__fit_ckpt *ck, int mi, nf__fit_slot *slots, int G,
                            nf__fit_counts *counts)
{
    char name[64], dir[4096], p[4096];
    if (ck->where[mi] == NF__CK_FINAL)
        snprintf(name, sizeof name, "m%d_final", mi);
    else
        snprintf(name, sizeof name, "%s", ck->snap);
    nf_status s = nf_path_join(dir, sizeof dir, root, name);
    if (s)
        return s;
    for (int r = 0; r < G; r++) {
        char f[48];
        snprintf(f, sizeof f, "opt_%d_%d.bin", mi, r);
        if ((s = nf_path_join(p, sizeof p, dir, f)) || (s = nf_optim_load(&slots[r].opt, p)))
            return s;
    }
    char f[32];
    snprintf(f, sizeof f, "conv_%d.bin", mi);
    if ((s = nf_path_join(p, sizeof p, dir, f)))
        return s;
    FILE *fp = fopen(p, "rb");
    if (!fp)
        return nf__fail(NF_EIO, "checkpoint %s: %s", p, strerror(errno));
    if (fread(&counts->sims, sizeof counts->sims, 1, fp) != 1 ||
        fread(&counts->steps, sizeof counts->steps, 1, fp) != 1 || counts->sims < 0 || !(counts->steps >= 0) ||
        !isfinite(counts->steps)) {
        fclose(fp);
        return nf__fail(NF_EFORMAT, "checkpoint %s: corrupt counts", p);
    }
    for (int r = 0; r < G; r++) {
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

/* Only the names nf__fit_ckpt_snapshot makes: "" or g<generations> (no path
 * separators, no "..", no other spelling). */
static int snapshot_name_ok(const char *name)
{
    if (!name[0])
        return 1;
    long long g;
    char canon[64];
    if (strlen(name) >= sizeof canon || sscanf(name, "g%lld", &g) != 1 || g < 0)
        return 0;
    snprintf(canon, sizeof canon, "g%lld", g);
    return !strcmp(canon, name);
}

nf_status nf__fit_ckpt_state(const char *root, uint64_t fingerprint, nf__fit_ckpt *ck)
{
    char p[4096];
    nf_status s = nf_path_join(p, sizeof p, root, "state.json");
    if (s)
        return s;
    FILE *fp = fopen(p, "rb");
    if (!fp)
        return nf__fail(NF_ENOTFOUND, "--resume: no checkpoint in %s (state.json missing)", root);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    const cJSON *ver_j = cJSON_GetObjectItemCaseSensitive(j, "version");
    const cJSON *fp_j = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
    const cJSON *sn_j = cJSON_GetObjectItemCaseSensitive(j, "snapshot");
    const cJSON *mo_j = cJSON_GetObjectItemCaseSensitive(j, "models");
    if (j && cJSON_IsNumber(ver_j) && ver_j->valuedouble != 3) {
        /* version 2 saved one model at a time: its snapshots cannot say where the others were */
        int v = (int)ver_j->valuedouble;
        cJSON_Delete(j);
        return nf__fail(NF_EFORMAT,
                        "checkpoint %s was written by %s neurofit (checkpoint version %d; this one reads version 3) "
                        "and cannot be resumed; drop --resume and use --force (or another --out) to fit again",
                        p, v < 3 ? "an earlier" : "a later", v);
    }
    if (!j || !cJSON_IsString(fp_j) || !cJSON_IsString(sn_j) || !cJSON_IsArray(mo_j)) {
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
    snprintf(ck->snap, sizeof ck->snap, "%s", sn_j->valuestring);
    int name_ok = snapshot_name_ok(sn_j->valuestring) && strlen(sn_j->valuestring) < sizeof ck->snap;
    char q[128];
    if (!name_ok) { /* a snapshot is removed later: never a path of someone else's */
        nf_excerpt(q, sizeof q, sn_j->valuestring, (size_t)-1);
        cJSON_Delete(j);
        return nf__fail(NF_EFORMAT, "checkpoint %s: \"%s\" is not a snapshot name this fit makes", p, q);
    }
    int ok = cJSON_GetArraySize(mo_j) == ck->M;
    for (int mi = 0; ok && mi < ck->M; mi++) {
        const cJSON *w = cJSON_GetArrayItem(mo_j, mi);
        const char *ws = cJSON_IsString(w) ? w->valuestring : "";
        ck->where[mi] = !strcmp(ws, "final") ? NF__CK_FINAL : !strcmp(ws, "snapshot") ? NF__CK_SNAPSHOT : NF__CK_FRESH;
        ok = !strcmp(ws, "final") || (!strcmp(ws, "snapshot") && ck->snap[0]) || !strcmp(ws, "fresh");
    }
    cJSON_Delete(j);
    if (!ok)
        return nf__fail(NF_EFORMAT, "checkpoint %s: its models' places are corrupt", p);
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
    static const char layout[] = "fit-checkpoint 4: the models at once; counts per model; groups; conv + best_x; "
                                 "count sigma";
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

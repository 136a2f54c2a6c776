/* Reading the recordings of `neurofit fit` and `neurofit predict`: the
 * selected sweeps of files (or of a manifest's cells, or the embedded
 * example), cut to a time window, with a current from a file when given,
 * grouped into cells and marked fitted or held out (cli/fit_load.h). */
#include "cli/fit_load.h"

#include "cli/cli_util.h"
#include "neurofit/stim_window.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CMD (L->cmd)
#define MAX_TARGETS 65536

void nf_cli_loaded_free(nf_cli_loaded *L)
{
    for (int k = 0; k < L->n; k++) {
        free(L->bufs[2 * k]);
        free(L->bufs[2 * k + 1]);
        free(L->names[k]);
        free(L->why[k]);
    }
    for (int g = 0; g < L->n_groups; g++)
        free(L->g_name[g]);
    free(L->t);
    free(L->bufs);
    free(L->names);
    free(L->why);
    free(L->file_sweep);
    free(L->g_name);
    free(L->group);
    free(L->test);
}

/* The group named name (created when new, or always when fresh: a file's
 * own group); -1 when out of memory. */
static int group_of(nf_cli_loaded *L, const char *name, int fresh)
{
    for (int g = 0; g < L->n_groups && !fresh; g++)
        if (!strcmp(L->g_name[g], name))
            return g;
    if (L->n_groups % 64 == 0) {
        char **gn = realloc(L->g_name, sizeof *gn * ((size_t)L->n_groups + 64));
        if (!gn)
            return -1;
        L->g_name = gn;
    }
    if (!(L->g_name[L->n_groups] = strdup(name)))
        return -1;
    return L->n_groups++;
}

/* Append a target that owns fv, fi (freed on failure too) and a copy of name,
 * in group g with role test. */
static int add_owned(nf_cli_loaded *L, const char *name, float *fv, float *fi, int64_t n, double dt, int g, int test,
                     int file_sweep)
{
    char *nm = strdup(name);
    if (L->n == MAX_TARGETS) {
        free(fv), free(fi), free(nm);
        return nf_cli_error(CMD, NF_EXIT_USAGE, "more than %d sweeps", MAX_TARGETS);
    }
    if (L->n % 64 == 0) {
        size_t cap = (size_t)L->n + 64;
        nf_fit_target *t = realloc(L->t, cap * sizeof *t);
        if (t)
            L->t = t;
        float **b = realloc(L->bufs, 2 * cap * sizeof *b);
        if (b)
            L->bufs = b;
        char **names = realloc(L->names, cap * sizeof *names);
        if (names)
            L->names = names;
        char **why = realloc(L->why, cap * sizeof *why);
        if (why)
            L->why = why;
        int *gr = realloc(L->group, cap * sizeof *gr);
        if (gr)
            L->group = gr;
        int *fs = realloc(L->file_sweep, cap * sizeof *fs);
        if (fs)
            L->file_sweep = fs;
        uint8_t *te = realloc(L->test, cap);
        if (te)
            L->test = te;
        if (!t || !b || !names || !why || !gr || !fs || !te) {
            free(fv), free(fi), free(nm);
            return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        }
    }
    if (!fv || !fi || !nm) {
        free(fv), free(fi), free(nm);
        return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory for %s", name);
    }
    L->bufs[2 * L->n] = fv;
    L->bufs[2 * L->n + 1] = fi;
    L->names[L->n] = nm;
    L->why[L->n] = NULL;
    L->group[L->n] = g;
    L->test[L->n] = (uint8_t)test;
    L->file_sweep[L->n] = file_sweep;
    L->t[L->n] = (nf_fit_target){.name = nm, .v = fv, .i = fi, .n = n, .dt_ms = dt};
    L->n++;
    return 0;
}



/* The stimulus window of the last sweep added when none is given
 * (nf_stim_window_find): stated on stderr once per file and whenever it
 * changes or is ambiguous, and in results.json (the target's stim_window);
 * a sweep without one keeps 0, 0 (nf_fit then finds it in the current). */
static void auto_window(nf_cli_loaded *L, const nf_recording *rec, int s, int quiet, char *last, size_t cap)
{
    nf_fit_target *t = &L->t[L->n - 1];
    nf_stim_window w;
    if (nf_stim_window_find(rec, s, &w)) {
        if (!quiet)
            fprintf(stderr, "neurofit %s: %s sweep %d: no stimulus window: %s\n", CMD, rec->path, s, nf_errmsg());
        return;
    }
    t->stim_start_ms = w.start_ms;
    t->stim_end_ms = w.end_ms;
    t->stim_window = L->why[L->n - 1] = strdup(w.why); /* NULL (left out) if out of memory */
    char line[512];
    snprintf(line, sizeof line, "%g-%g ms from %s", w.start_ms, w.end_ms, w.why);
    if (!quiet && strcmp(line, last))
        fprintf(stderr, "neurofit %s: %s%s sweep %d: stimulus window %s\n", CMD, w.ambiguous ? "warning: " : "",
                rec->path, s, line);
    snprintf(last, cap, "%s", line);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

/* Held-out positions of a group of n sweeps for a fraction f: round(f n)
 * (at least 1, at most n - 1) spread evenly, floor((k + 0.5) n / h). */
static void holdout_fraction(double f, int n, uint8_t *test)
{
    int h = (int)lround(f * n);
    h = h < 1 ? 1 : h > n - 1 ? n - 1 : h;
    memset(test, 0, (size_t)n);
    for (int k = 0; k < h && n > 1; k++)
        test[(int)floor((k + 0.5) * n / h)] = 1;
}

/* Load the selected sweeps of path into group g (-1: one group per sweep, or
 * per file named after it; see lo->by_sweep), held out by lo->holdout
 * (test_all: every sweep held out, a manifest's test row). */
int nf_cli_load_file(nf_cli_loaded *L, const char *path, const nf_cli_load_opts *lo, const char *cell, int test_all,
                     const char *current)
{
    char last_window[512] = "";
    nf_recording *rec = NULL;
    nf_recording_options ro = *lo->ro;
    const int ibw = ends_with(path, ".ibw");
    if (current && ibw) {
        ro.current_path = current; /* the IBW reader pairs the waves */
        current = NULL;
    } else if (!current && ro.current_path && !ibw) {
        current = ro.current_path; /* --current FILE for a format without wave pairs */
        ro.current_path = NULL;
    }
    if (nf_recording_open(path, &ro, &rec))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
    unsigned char *mask = malloc((size_t)rec->n_sweeps), *hold = malloc((size_t)rec->n_sweeps);
    int rc = mask && hold ? 0 : nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!rc && nf_cli_parse_sweeps(CMD, lo->sweeps, rec->n_sweeps, mask, path))
        rc = NF_EXIT_USAGE;
    int n_sel = 0;
    for (int s = 0; !rc && s < rec->n_sweeps; s++)
        n_sel += mask[s];
    if (hold)
        memset(hold, 0, (size_t)rec->n_sweeps);
    double frac = 0;
    if (!rc && lo->holdout) {
        if (nf_cli_parse_double(lo->holdout, &frac) && frac > 0 && frac < 1) {
            uint8_t *t = calloc((size_t)(n_sel > 0 ? n_sel : 1), 1);
            if (!t)
                rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
            else {
                holdout_fraction(frac, n_sel, t);
                for (int s = 0, k = 0; s < rec->n_sweeps; s++)
                    if (mask[s])
                        hold[s] = t[k++];
                free(t);
            }
        } else if (nf_cli_parse_indices(CMD, "--holdout", lo->holdout, rec->n_sweeps, hold, path)) {
            rc = NF_EXIT_USAGE;
        } else {
            for (int s = 0; s < rec->n_sweeps && !rc; s++)
                if (hold[s] && !mask[s])
                    rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--holdout: %s sweep %d is not among the selected sweeps (--sweeps %s)",
                                      path, s, lo->sweeps);
        }
    }
    /* a current file: one row for every sweep, or one per selected sweep */
    float *cur = NULL;
    int64_t cur_rows = 0;
    int first = 1, file_group = -1;
    for (int s = 0, k = 0; s < rec->n_sweeps && !rc; s++) {
        if (!mask[s])
            continue;
        const nf_sweep *sw = &rec->sweeps[s];
        if (current && first &&
            (rc = nf_cli_read_waves(CMD, "--current", current, sw->n, n_sel, &cur, &cur_rows)))
            break;
        first = 0;
        const float *fi_src = NULL;
        if (cur) {
            if (sw->n != rec->sweeps[0].n) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--current %s: %s sweep %d has %lld samples, the current %lld",
                                  current, path, sw->index, (long long)sw->n, (long long)rec->sweeps[0].n);
                break;
            }
            fi_src = cur + (cur_rows > 1 ? (size_t)k * (size_t)sw->n : 0);
        } else if (!sw->i) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE,
                              "%s sweep %d: no injected current (neither recorded nor rebuilt from a protocol); "
                              "a fit needs the stimulus: give it with --current FILE", path, sw->index);
            break;
        }
        if (!(sw->dt_ms > 0)) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s sweep %d: irregular time grid; fitting needs a fixed sample "
                              "interval", path, sw->index);
            break;
        }
        /* --time: the samples in [t0, t1] */
        int64_t a = 0, b = sw->n;
        if (lo->t1 > lo->t0) {
            a = (int64_t)ceil(lo->t0 / sw->dt_ms - 1e-9);
            b = (int64_t)floor(lo->t1 / sw->dt_ms + 1e-9) + 1;
            a = a < 0 ? 0 : a;
            b = b > sw->n ? sw->n : b;
            if (b - a < 10) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--time %g:%g: %s sweep %d has %lld samples there (%g ms long)",
                                  lo->t0, lo->t1, path, sw->index, (long long)(b > a ? b - a : 0),
                                  (double)(sw->n - 1) * sw->dt_ms);
                break;
            }
        }
        int64_t n = b - a;
        float *fv = malloc(sizeof(float) * (size_t)n), *fi = malloc(sizeof(float) * (size_t)n);
        for (int64_t q = 0; fv && fi && q < n; q++) {
            fv[q] = (float)sw->v[a + q];
            fi[q] = fi_src ? fi_src[a + q] : (float)sw->i[a + q];
        }
        char name[4200];
        snprintf(name, sizeof name, "%s sweep %d", base, sw->index);
        if (file_group < 0 && !cell && !lo->by_sweep) { /* the file's group: its name, or its path when taken */
            int taken = 0;
            for (int q = 0; q < L->n_groups; q++)
                taken |= !strcmp(L->g_name[q], base);
            file_group = group_of(L, taken ? path : base, 1);
        }
        int g = cell ? group_of(L, cell, 0) : lo->by_sweep ? group_of(L, name, 1) : file_group;
        if (g < 0) {
            free(fv), free(fi);
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
            break;
        }
        rc = add_owned(L, name, fv, fi, n, sw->dt_ms, g, test_all || hold[s], sw->index);
        if (!rc && lo->find_window) {
            nf_fit_target *t = &L->t[L->n - 1];
            auto_window(L, rec, s, lo->quiet, last_window, sizeof last_window);
            double s0 = t->stim_start_ms - (double)a * sw->dt_ms, s1 = t->stim_end_ms - (double)a * sw->dt_ms;
            if (a > 0 && (t->stim_start_ms != 0 || t->stim_end_ms != 0)) { /* the window in the cut sweep's time */
                double dur = (double)(n - 1) * sw->dt_ms;
                s0 = s0 < 0 ? 0 : s0 > dur ? dur : s0;
                s1 = s1 < 0 ? 0 : s1 > dur ? dur : s1;
                t->stim_start_ms = s0;
                t->stim_end_ms = s1;
                if (!(s1 > s0)) /* outside the window: nf_fit finds one in the current */
                    t->stim_start_ms = t->stim_end_ms = 0;
            }
        }
        k++;
    }
    free(cur);
    free(mask);
    free(hold);
    nf_recording_destroy(rec);
    return rc;
}

/* The embedded example (nf_fit_example). */
int nf_cli_load_example(nf_cli_loaded *L)
{
    double *v = malloc(sizeof(double) * NF_FIT_EXAMPLE_N), *I = malloc(sizeof(double) * NF_FIT_EXAMPLE_N);
    float *fv = malloc(sizeof(float) * NF_FIT_EXAMPLE_N), *fi = malloc(sizeof(float) * NF_FIT_EXAMPLE_N);
    int rc = 0;
    if (!v || !I || !fv || !fi)
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    else if (nf_fit_example(v, I))
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
    int g = rc ? -1 : group_of(L, NF_FIT_EXAMPLE_NAME, 1);
    if (!rc && g < 0)
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    if (!rc) {
        for (int k = 0; k < NF_FIT_EXAMPLE_N; k++) {
            fv[k] = (float)v[k];
            fi[k] = (float)I[k];
        }
        rc = add_owned(L, NF_FIT_EXAMPLE_NAME, fv, fi, NF_FIT_EXAMPLE_N, NF_FIT_EXAMPLE_DT_MS, g, 0, 0);
        fv = fi = NULL;
    }
    free(fv), free(fi), free(v), free(I);
    return rc;
}

/* A manifest: cell,file,sweeps,role[,current] with a header line; files and
 * currents relative to the manifest's directory. */
int nf_cli_load_cells(nf_cli_loaded *L, const char *path, const nf_cli_load_opts *lo)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--cells: cannot open %s", path);
    char dir[4096] = ".";
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char *line = NULL, q[128];
    size_t line_cap = 0;
    long lineno = 0;
    int rc = 0, header = 0, col[5] = {-1, -1, -1, -1, -1}; /* cell, file, sweeps, role, current */
    static const char *const names[5] = {"cell", "file", "sweeps", "role", "current"};
    for (ssize_t got; !rc && (got = getline(&line, &line_cap, fp)) >= 0;) {
        lineno++;
        size_t used = (size_t)got;
        while (used && (line[used - 1] == '\n' || line[used - 1] == '\r'))
            used--;
        size_t b = 0; /* text only: a NUL would cut a field short, other control bytes are not names */
        while (b < used && (line[b] == '\t' || ((unsigned char)line[b] >= 0x20 && line[b] != 0x7f)))
            b++;
        if (b < used) {
            size_t from = b > 8 ? b - 8 : 0;
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--cells %s line %ld, byte %zu: %s in '%s%s'; a manifest is text",
                              path, lineno, b + 1, line[b] ? "a control byte" : "a NUL byte", from ? "..." : "",
                              nf_excerpt(q, sizeof q, line + from, used - from));
            break;
        }
        line[used] = 0;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        char *f[16];
        int nf = 0;
        for (char *p = s; nf < 16;) { /* fields separated by commas, trimmed */
            char *e = strchr(p, ',');
            if (e)
                *e = 0;
            while (isspace((unsigned char)*p))
                p++;
            char *z = p + strlen(p);
            while (z > p && isspace((unsigned char)z[-1]))
                *--z = 0;
            f[nf++] = p;
            if (!e)
                break;
            p = e + 1;
        }
        if (!header) {
            header = 1;
            for (int k = 0; k < nf; k++) {
                int j = 0;
                while (j < 5 && strcmp(f[k], names[j]))
                    j++;
                if (j == 5)
                    rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--cells %s line %ld: unknown column \"%s\" (known: cell, "
                                      "file, sweeps, role, current)", path, lineno, f[k]);
                else
                    col[j] = k;
            }
            for (int j = 0; j < 2 && !rc; j++)
                if (col[j] < 0)
                    rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--cells %s: no \"%s\" column in the header line", path,
                                      names[j]);
            continue;
        }
        const char *cell = col[0] < nf ? f[col[0]] : "", *file = col[1] < nf ? f[col[1]] : "";
        const char *sweeps = col[2] >= 0 && col[2] < nf && *f[col[2]] ? f[col[2]] : "all";
        const char *role = col[3] >= 0 && col[3] < nf && *f[col[3]] ? f[col[3]] : "train";
        const char *cur = col[4] >= 0 && col[4] < nf && *f[col[4]] ? f[col[4]] : NULL;
        if (!*cell || !*file) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--cells %s line %ld: a row needs a cell and a file", path, lineno);
            break;
        }
        if (strcmp(role, "train") && strcmp(role, "test")) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--cells %s line %ld: role \"%s\" is not train or test", path,
                              lineno, role);
            break;
        }
        char fpath[8192], cpath[8192];
        snprintf(fpath, sizeof fpath, "%s%s%s", file[0] == '/' ? "" : dir, file[0] == '/' ? "" : "/", file);
        if (cur)
            snprintf(cpath, sizeof cpath, "%s%s%s", cur[0] == '/' ? "" : dir, cur[0] == '/' ? "" : "/", cur);
        nf_cli_load_opts row = *lo;
        row.sweeps = sweeps;
        row.holdout = NULL;
        rc = nf_cli_load_file(L, fpath, &row, cell, !strcmp(role, "test"), cur ? cpath : NULL);
    }
    free(line);
    fclose(fp);
    if (!rc && !header)
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--cells %s: empty (a header line cell,file,sweeps,role and rows)", path);
    return rc;
}

/* The groups of L for nf_fit_groups: their sweep lists and roles. */
int nf_cli_make_groups(const nf_cli_loaded *L, nf_fit_group **groups, int **idx, uint8_t **test)
{
    *groups = calloc((size_t)L->n_groups, sizeof **groups);
    *idx = malloc(sizeof(int) * (size_t)L->n);
    *test = malloc((size_t)L->n);
    if (!*groups || !*idx || !*test)
        return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    int at = 0;
    for (int g = 0; g < L->n_groups; g++) {
        nf_fit_group *G = &(*groups)[g];
        G->name = L->g_name[g];
        G->sweeps = *idx + at;
        G->test = *test + at;
        for (int k = 0; k < L->n; k++)
            if (L->group[k] == g) {
                (*idx)[at] = k;
                (*test)[at++] = L->test[k];
                G->n_sweeps++;
            }
        int fitted = 0;
        for (int k = 0; k < G->n_sweeps; k++)
            fitted += !G->test[k];
        if (!fitted)
            return nf_cli_error(CMD, NF_EXIT_USAGE, "cell %s: every one of its %d sweeps is held out; at least one "
                                "must be fitted", G->name, G->n_sweeps);
    }
    return 0;
}


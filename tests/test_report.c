/* The HTML fit report: structure, escaping, bounded size, bad input. */
#include "neurofit/report.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *s = malloc((size_t)*len + 1);
    cr_assert(fread(s, 1, (size_t)*len, f) == (size_t)*len);
    s[*len] = 0;
    fclose(f);
    return s;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A 1e6-sample recording with a spike every 50 ms and two fits. */
Test(report, page_structure_escaping_and_size)
{
    const int64_t n = 1000000;
    const double dt = 0.01;
    float *v = malloc(sizeof(float) * n), *m = malloc(sizeof(float) * n), *I = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) {
        double t = i * dt;
        double ph = fmod(t, 50.0);
        v[i] = (float)(ph < 1.0 ? 30.0 : -70.0 + 0.3 * ph);
        m[i] = (float)(ph < 1.2 ? 25.0 : -69.0 + 0.3 * ph);
        I[i] = t > 100 && t < 9000 ? 200.0f : 0.0f;
    }
    double conv_a[300], conv_b[40];
    for (int g = 0; g < 300; g++)
        conv_a[g] = 10.0 * exp(-g / 40.0) + 0.01;
    for (int g = 0; g < 40; g++)
        conv_b[g] = 20.0 / (g + 1);
    nf_report_fit fits[2] = {
        {.model = "adex", .combined = 0.12, .nrmse = 0.1, .feature_error = 1.5, .gamma = 0.93,
         .evals = 3000, .stop_reason = "tolfun", .params_text = "C=<200> pF", .trace = m,
         .convergence = conv_a, .n_convergence = 300},
        {.model = "lif6", .combined = 0.5, .nrmse = NAN, .feature_error = 4, .gamma = 0.5,
         .evals = 1200, .convergence = conv_b, .n_convergence = 40},
    };
    nf_report_recording rec = {.name = "cell <A> & co.abf sweep 3", .dt_ms = dt, .n = n,
                               .v_target = v, .i_stim = I, .fits = fits, .n_fits = 2};
    char dir[] = "/tmp/nf_report_XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/report.html", dir);
    cr_assert_eq(nf_report_write_html(path, "fits & more", &rec, 1), NF_OK, "%s", nf_errmsg());

    long len = 0;
    char *s = slurp(path, &len);
    cr_assert(s);
    cr_assert(!strncmp(s, "<!DOCTYPE html>", 15));
    cr_assert(strstr(s, "</html>"));
    cr_assert(strstr(s, "cell &lt;A&gt; &amp; co.abf sweep 3"), "names are escaped");
    cr_assert(!strstr(s, "<A>"));
    cr_assert(strstr(s, "C=&lt;200&gt; pF"));
    cr_assert_eq(count(s, "<svg"), 4, "trace, zoom, stimulus, convergence");
    cr_assert_eq(count(s, "<tr class=\"best\">"), 1);
    cr_assert_eq(count(s, "<tr"), 3, "header + two ranked fits");
    cr_assert(strstr(s, "zoom on the first spike"));
    cr_assert(strstr(s, "tolfun"));
    cr_assert(strstr(s, "&ndash;"), "a non-finite score prints as a dash");
    cr_assert(!strstr(s, "nan") && !strstr(s, "inf"), "no raw NaN/Inf in the page");
    cr_assert(!strstr(s, "<script"), "no scripts");
    /* 2 x 1e6 samples in 3 plots: the min/max envelope keeps the page small */
    cr_assert(len < 600000, "page is %ld bytes", len);
    free(s);
    unlink(path);
    rmdir(dir);
    free(v);
    free(m);
    free(I);
}

Test(report, bad_input_is_rejected_and_writes_nothing)
{
    float v[4] = {0};
    nf_report_recording rec = {.name = "r", .dt_ms = 0, .n = 4, .v_target = v};
    char dir[] = "/tmp/nf_report_XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/report.html", dir);
    cr_assert_eq(nf_report_write_html(path, "t", &rec, 1), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "dt"), "%s", nf_errmsg());
    cr_assert_neq(access(path, F_OK), 0);
    rec.dt_ms = 0.1;
    cr_assert_neq(nf_report_write_html("/nonexistent/dir/report.html", "t", &rec, 1), NF_OK);
    cr_assert_eq(nf_report_write_html(path, "t", &rec, 1), NF_OK, "no fits is a valid page");
    unlink(path);
    rmdir(dir);
}

/* `neurofit info FILE...`: what a recording holds: format, sweeps, channels
 * and units, sampling rate, duration, where the current comes from and the
 * protocol epochs (of the first and last sweep). */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/recording.h"

#include <stdio.h>
#include <string.h>

static const char *info_source(nf_current_source s)
{
    return s == NF_CURRENT_RECORDED ? "recorded" : s == NF_CURRENT_PROTOCOL ? "rebuilt from the protocol" : "none";
}

static void info_print(const nf_recording *r)
{
    const nf_sweep *s0 = &r->sweeps[0], *sl = &r->sweeps[r->n_sweeps - 1];
    printf("file:     %s\n", r->path);
    printf("format:   %s\n", r->format_detail);
    printf("sweeps:   %d\n", r->n_sweeps);
    if (r->rate_hz > 0)
        printf("rate:     %g Hz (dt %g ms)\n", r->rate_hz, s0->dt_ms);
    else
        printf("rate:     irregular time grid\n");
    printf("duration: %g ms per sweep (%lld samples)\n", nf_sweep_duration_ms(s0), (long long)s0->n);
    printf("channels:\n");
    for (int c = 0; c < r->n_channels; c++)
        printf("  %d: %-24s [%s]%s\n", c, r->channels[c].name, r->channels[c].unit,
               c == r->v_channel ? "  -> V (mV)" : c == r->i_channel ? "  -> I (pA)" : "");
    printf("current:  %s (%s)\n", info_source(s0->i_source), r->i_origin);
    if (s0->n_epochs > 0) {
        printf("epochs:\n| epoch | type | start (ms) | end (ms) | level sweep 0 (pA) | level sweep %d (pA) |\n"
               "|---|---|---:|---:|---:|---:|\n", sl->index);
        for (int e = 0; e < s0->n_epochs; e++) {
            const nf_epoch *a = &s0->epochs[e];
            const nf_epoch *b = e < sl->n_epochs ? &sl->epochs[e] : a;
            printf("| %s | %s | %g | %g | %g | %g |\n", a->name, nf_epoch_type_name(a->type), a->start_ms, a->end_ms,
                   a->level_pA, b->level_pA);
        }
    }
}

static const struct option info_options[] = {NF_CLI_OPT_HELP, NF_CLI_OPTS_RECORDING, NF_CLI_OPT_END};

int nf_cli_info(int argc, char **argv)
{
    nf_recording_options o;
    nf_recording_options_default(&o);
    const char *files[256];
    int n_files = 0;
    nf_cli_parser p;
    nf_cli_parser_init(&p, "info", argc, argv, info_options, NULL);
    p.recording = &o;
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        switch (k) {
        case NF_CLI_HELP:
            printf("usage: neurofit info FILE... [--columns SPEC] [--dt MS] [--channel N] [--current recorded|protocol]\n"
                   "         [--current-file IBW]\n"
                   "Formats: ABF1/ABF2, NWB 2.x, Igor IBW v2/v5, text (blank/CSV), .npy.\n" NF_CLI_HELP_RECORDING);
            return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG:
            if (n_files == 256) return nf_cli_error("info", NF_EXIT_USAGE, "more than 256 files");
            files[n_files++] = p.arg;
            break;
        }
    }
    if (n_files == 0) return nf_cli_error("info", NF_EXIT_USAGE, "no file given (usage: neurofit info FILE...)");
    int rc = NF_EXIT_OK;
    for (int f = 0; f < n_files; f++) {
        nf_recording *r = NULL;
        if (nf_recording_open(files[f], &o, &r)) {
            rc = nf_cli_error("info", NF_EXIT_USAGE, "%s", nf_errmsg());
            continue;
        }
        if (f) printf("\n");
        info_print(r);
        nf_recording_destroy(r);
    }
    return rc;
}

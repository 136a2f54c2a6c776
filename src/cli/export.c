/* `neurofit export`: the sweeps the readers return, as files numpy reads.
 *
 *   neurofit export FILE [--sweeps all|LIST] [--format npy|csv] --out DIR [--force]
 *       [--columns SPEC] [--dt MS] [--channel N] [--current recorded|protocol] [--current-file IBW]
 *
 * The recording is read as `info`, `features` and `fit` read it (the shared
 * recording options) and written by nf_recording_export: one file per sweep
 * (t, V, I), the epochs, and meta.json, as one output set in DIR, under
 * its lock; a DIR with an earlier export (meta.json) is refused unless
 * --force. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/recording.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "export"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit export FILE [--sweeps all|LIST] [--format npy|csv] --out DIR\n"
            "         [--columns SPEC] [--dt MS] [--channel N] [--current recorded|protocol] [--current-file IBW]\n\n"
            "Writes the sweeps of FILE as the readers return them (t ms, V mV, I pA) into DIR:\n"
            "  sweeps/sweep_<index>.csv   header t[ms],V[mV],I[pA]: `neurofit info` and np.loadtxt(f,\n"
            "                             delimiter=',', skiprows=1) read it back exactly\n"
            "  sweeps/sweep_<index>.npy   float64 [samples][t V (I)]: np.load(f)\n"
            "  epochs.csv / epochs.npy    the protocol epochs of each sweep (when the file has them)\n"
            "  meta.json                  source, channels, current, the layout of each file\n\n"
            "  --sweeps all|LIST  e.g. 0,2,5-7 (default all)\n"
            "  --format npy|csv   (default npy)\n"
            "  --out DIR          the output directory\n"
            "  --force            replace an earlier export in DIR\n" NF_CLI_HELP_RECORDING);
}

enum { O_SWEEPS = NF_CLI_OWN, O_FORMAT };

static const struct option export_options[] = {NF_CLI_OPT_HELP,
                                               NF_CLI_OPT_OUT,
                                               NF_CLI_OPT_FORCE,
                                               {"sweeps", required_argument, NULL, O_SWEEPS},
                                               {"format", required_argument, NULL, O_FORMAT},
                                               NF_CLI_OPTS_RECORDING,
                                               NF_CLI_OPT_END};

int nf_cli_export(int argc, char **argv)
{
    nf_recording_options ro;
    nf_recording_options_default(&ro);
    nf_cli_common c = {0};
    const char *file = NULL, *sweeps = "all";
    nf_export_format fmt = NF_EXPORT_NPY;
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, export_options, &c);
    p.recording = &ro;
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        switch (k) {
        case NF_CLI_HELP: usage(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG:
            if (file) return nf_cli_error(CMD, NF_EXIT_USAGE, "one FILE at a time (%s and %s given)", file, p.arg);
            file = p.arg;
            break;
        case O_SWEEPS: sweeps = p.arg; break;
        case O_FORMAT:
            if (!strcmp(p.arg, "npy"))
                fmt = NF_EXPORT_NPY;
            else if (!strcmp(p.arg, "csv"))
                fmt = NF_EXPORT_CSV;
            else
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--format %s: use npy or csv", p.arg);
            break;
        }
    }
    if (!file) return nf_cli_error(CMD, NF_EXIT_USAGE, "no input file (see --help)");
    if (!c.out) return nf_cli_error(CMD, NF_EXIT_USAGE, "--out DIR is required");
    nf_recording *rec = NULL;
    if (nf_recording_open(file, &ro, &rec)) return nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
    unsigned char *mask = malloc((size_t)rec->n_sweeps);
    int rc = mask ? nf_cli_parse_sweeps(CMD, sweeps, rec->n_sweeps, mask, file)
                  : nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    nf_out_lock *lock = NULL; /* one writer of --out; an earlier export kept unless --force */
    if (!rc) rc = nf_cli_out_begin(CMD, c.out, "meta.json", c.force, &lock);
    nf_cli_stop_mode(NF_CLI_STOP_FLAG); /* the set is written whole or not at all */
    if (!rc && nf_recording_export(rec, mask, fmt, c.out)) rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
    nf_cli_stop_mode(NF_CLI_STOP_DEFAULT);
    nf_cli_out_end(lock);
    if (!rc) {
        int n = 0;
        for (int k = 0; k < rec->n_sweeps; k++) n += mask[k];
        printf("%s: %d sweep(s) written to %s (%s, current %s)\n", file, n, c.out, fmt == NF_EXPORT_NPY ? "npy" : "csv",
               rec->i_origin);
    }
    free(mask);
    nf_recording_destroy(rec);
    return rc;
}

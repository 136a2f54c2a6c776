/* `neurofit sbi <subcommand>`: simulation-based inference. One subcommand,
 * one file (src/cli/sbi_<name>.c), dispatched from NF_CLI_SBI_COMMANDS in
 * src/cli/commands.h; each is a thin layer over the library
 * (include/neurofit/sbi.h, include/neurofit/sbc.h). */
#include "cli/cli_util.h"
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: neurofit sbi <subcommand> [options]\n\nsubcommands:\n");
#define NF__SBI_HELP(name, help) fprintf(fp, "  %-10s %s\n", #name, help);
    NF_CLI_SBI_COMMANDS(NF__SBI_HELP)
#undef NF__SBI_HELP
    fprintf(fp, "\n`neurofit sbi <subcommand> --help` describes its options.\n");
}

int nf_cli_sbi(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? NF_EXIT_USAGE : NF_EXIT_OK;
    }
#define NF__SBI_DISPATCH(name, help) \
    if (!strcmp(argv[1], #name)) return nf_cli_sbi_##name(argc - 1, argv + 1);
    NF_CLI_SBI_COMMANDS(NF__SBI_DISPATCH)
#undef NF__SBI_DISPATCH
    fprintf(stderr, "neurofit sbi: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return NF_EXIT_USAGE;
}

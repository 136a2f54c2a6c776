/* neurofit: git-style dispatch to the commands of src/cli/commands.h. */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: neurofit <command> [options]\n\ncommands:\n");
#define NF__CLI_HELP(name, help) fprintf(fp, "  %-10s %s\n", #name, help);
    NF_CLI_COMMANDS(NF__CLI_HELP)
#undef NF__CLI_HELP
    fprintf(fp, "\n`neurofit <command> --help` describes a command's options; `neurofit --version` is\n"
                "`neurofit version`.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        return nf_cli_version(argc - 1, argv + 1);
#define NF__CLI_DISPATCH(name, help) \
    if (!strcmp(argv[1], #name)) return nf_cli_##name(argc - 1, argv + 1);
    NF_CLI_COMMANDS(NF__CLI_DISPATCH)
#undef NF__CLI_DISPATCH
    fprintf(stderr, "neurofit: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

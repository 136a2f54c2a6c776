/* neurofit: git-style dispatch to the commands of src/cli/commands.h. */
#include "cli/cli_dist.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static const nf_cli_command commands[] = {
#define NF__CLI_ROW(name, help) {#name, nf_cli_##name, help},
    NF_CLI_COMMANDS(NF__CLI_ROW)
#undef NF__CLI_ROW
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };
static const char footer[] = "`neurofit <command> --help` describes a command's options; `neurofit --version` is\n"
                             "`neurofit version`.";

static int run(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "help")) {
        nf_cli_dispatch_usage(stdout, "neurofit", "command", footer, commands, N_COMMANDS);
        return NF_EXIT_OK;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")))
        return nf_cli_version(argc - 1, argv + 1);
    return nf_cli_dispatch("neurofit", "command", footer, commands, N_COMMANDS, argc, argv);
}

int main(int argc, char **argv)
{
    int rc = nf_cli_dist_begin(); /* under mpirun: one rank of a job (cli/cli_dist.h) */
    if (rc)
        return rc;
    return nf_cli_dist_end(nf_cli_dist_skip(argc, argv) ? NF_EXIT_OK : run(argc, argv));
}

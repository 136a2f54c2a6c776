/* `neurofit sbi <subcommand>`: simulation-based inference. One subcommand,
 * one file (src/cli/sbi_<name>.c), dispatched from NF_CLI_SBI_COMMANDS in
 * src/cli/commands.h; each is a thin layer over the library
 * (include/neurofit/sbi.h, include/neurofit/sbc.h). */
#include "cli/cli_util.h"
#include "cli/commands.h"

static const nf_cli_command subcommands[] = {
#define NF__SBI_ROW(name, help) {#name, nf_cli_sbi_##name, help},
    NF_CLI_SBI_COMMANDS(NF__SBI_ROW)
#undef NF__SBI_ROW
};

int nf_cli_sbi(int argc, char **argv)
{
    return nf_cli_dispatch("neurofit sbi", "subcommand", "`neurofit sbi <subcommand> --help` describes its options.",
                           subcommands, sizeof subcommands / sizeof subcommands[0], argc, argv);
}

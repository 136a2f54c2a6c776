/* The command table of the `neurofit` tool: one X-macro line per command,
 * implemented in src/cli/<name>.c as int nf_cli_<name>(int argc, char **argv)
 * (argv[0] is the command name). Return value is the process exit code. */
#ifndef NEUROFIT_CLI_COMMANDS_H
#define NEUROFIT_CLI_COMMANDS_H

#define NF_CLI_COMMANDS(X)                                                              \
    X(demo, "run the embedded example: every model, a current step, a summary")       \
    X(models, "list the neuron models, or one model's equations, units and bounds")   \
    X(simulate, "simulate a batch of neurons and write .npy files")                   \
    X(fit, "fit models to recordings, rank them, write results and an HTML report")  \
    X(predict, "score fitted models (a fit's results.json) on other recordings")        \
    X(bench, "measure simulation throughput (neuron-steps per second)")               \
    X(features, "every eFEL feature of recorded traces, one record per sweep")         \
    X(info, "show what a recording holds: sweeps, channels, units, rate, epochs")     \
    X(export, "write a recording's sweeps (t, V, I) and epochs as .npy or .csv files") \
    X(sbi, "simulation-based inference: training sets (sbi simulate)")                \
    X(version, "print the version and the backends this build has")

/* The subcommands of `neurofit sbi`, in src/cli/sbi_<name>.c as
 * int nf_cli_sbi_<name>(int argc, char **argv) (argv[0] is the subcommand). */
#define NF_CLI_SBI_COMMANDS(X)                                                                            \
    X(simulate, "generate a training set (theta.npy, x.npy, ...) from a prior or a preset")              \
    X(infer, "posterior draws of the lif6 parameters for observed traces (bayesflow-lif reference)")     \
    X(sbc, "simulation-based calibration: ranks, ECDF bands, recovery, predictive check (JSON + SVG)")

#define NF__CLI_DECL(name, help) int nf_cli_##name(int argc, char **argv);
NF_CLI_COMMANDS(NF__CLI_DECL)
#undef NF__CLI_DECL
#define NF__CLI_SBI_DECL(name, help) int nf_cli_sbi_##name(int argc, char **argv);
NF_CLI_SBI_COMMANDS(NF__CLI_SBI_DECL)
#undef NF__CLI_SBI_DECL

#endif

/* The command line's MPI hook (src/cli/cli_dist.h). */
#include "cli/cli_dist.h"

#include "cli/cli_util.h"
#include "neurofit/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_on;
static char g_error[1024];

int nf_cli_dist(void) { return g_on; }
int nf_cli_dist_worker(void) { return g_on && nf_dist_rank() > 0; }

int nf_cli_dist_keep_error(const char *msg)
{
    snprintf(g_error, sizeof g_error, "%s", msg);
    return nf_cli_dist_worker();
}

/* The job's size as the launcher says, before MPI starts. */
static long launcher_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return strtol(getenv(vars[i]), NULL, 10);
    return 0;
}

int nf_cli_dist_begin(void)
{
    if (!nf_dist_launched())
        return NF_EXIT_OK;
    if (!nf_dist_built()) {
        /* N copies of a one-process neurofit would each write the same outputs */
        if (launcher_size() > 1) {
            fprintf(stderr, "neurofit: started by mpirun with %ld processes, but this neurofit was built without "
                            "MPI (configure with Open MPI, libopenmpi-dev): run it once, without mpirun\n",
                    launcher_size());
            return NF_EXIT_USAGE;
        }
        return NF_EXIT_OK;
    }
    if (nf_dist_init()) {
        fprintf(stderr, "neurofit: %s\n", nf_errmsg());
        return NF_EXIT_FAIL;
    }
    g_on = 1;
    if (nf_dist_rank() > 0 && !freopen("/dev/null", "w", stdout))
        fclose(stdout);
    return NF_EXIT_OK;
}

int nf_cli_dist_skip(int argc, char **argv)
{
    if (!nf_cli_dist_worker())
        return 0;
    int shared = argc >= 2 && !strcmp(argv[1], "fit");
    shared |= argc >= 3 && !strcmp(argv[1], "sbi") && (!strcmp(argv[2], "simulate") || !strcmp(argv[2], "sbc"));
    return !shared;
}

int nf_cli_dist_agree(const char *cmd, int rc)
{
    if (!g_on)
        return rc;
    int code = nf_dist_agree(rc, g_error);
    if (code && !rc && nf_dist_rank() == 0)
        fprintf(stderr, "neurofit%s%s: %s\n", cmd && *cmd ? " " : "", cmd ? cmd : "", nf_errmsg());
    return code;
}

int nf_cli_dist_end(int rc)
{
    if (!g_on)
        return rc;
    rc = nf_cli_dist_agree("", rc);
    fflush(stdout);
    nf_dist_finalize();
    g_on = 0;
    return rc;
}

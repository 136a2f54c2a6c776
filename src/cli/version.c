/* `neurofit version`: version and build configuration. */
#include "cli/commands.h"
#include "neurofit/version.h"

#include <stdio.h>

int nf_cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("neurofit %s\n", nf_version());
#ifdef NF_HAVE_CUDA
    printf("backends: cpu, cuda\n");
#else
    printf("backends: cpu (built without CUDA)\n");
#endif
    return 0;
}

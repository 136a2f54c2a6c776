/* `neurofit models [NAME]`: list the models, or one model's equations,
 * parameters (unit, default, fitting bounds) and state variables. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/model.h"

#include <stdio.h>
#include <string.h>

static const struct option models_options[] = {NF_CLI_OPT_HELP, NF_CLI_OPT_END};

int nf_cli_models(int argc, char **argv)
{
    const char *name = NULL;
    int n_names = 0;
    nf_cli_parser p;
    nf_cli_parser_init(&p, "models", argc, argv, models_options, NULL);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        switch (k) {
        case NF_CLI_HELP: printf("usage: neurofit models [NAME]\n"); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: name = p.arg, n_names++; break;
        }
    }
    if (n_names > 1) {
        printf("usage: neurofit models [NAME]\n");
        return NF_EXIT_USAGE;
    }
    if (!name) {
        printf("| model | parameters | description |\n|---|---:|---|\n");
        for (int i = 0; i < nf_model_count(); i++) {
            const nf_model *m = nf_model_at(i);
            printf("| %s | %d | %s |\n", m->name, m->n_params, m->description);
        }
        printf("\n`neurofit models NAME` shows a model's equations, units and bounds.\n");
        return NF_EXIT_OK;
    }
    const nf_model *m = nf_model_find(name);
    if (!m) return nf_cli_error("models", NF_EXIT_USAGE, "%s", nf_errmsg());
    printf("%s: %s\n\n  equations: %s\n  scheme:    %s\n  reference: %s\n  max dt:    %g ms\n\n", m->name,
           m->description, m->equations, m->scheme, m->reference, m->dt_max_ms);
    printf("| parameter | unit | default | lower | upper | description |\n|---|---|---:|---:|---:|---|\n");
    for (int j = 0; j < m->n_params; j++) {
        const nf_param_info *pi = &m->params[j];
        printf("| %s | %s | %g | %g | %g | %s |\n", pi->name, pi->unit, pi->def, pi->lo, pi->hi, pi->description);
    }
    printf("\n| state | unit | description |\n|---|---|---|\n");
    for (int j = 0; j < m->n_state; j++)
        printf("| %s | %s | %s |\n", m->state[j].name, m->state[j].unit, m->state[j].description);
    return NF_EXIT_OK;
}

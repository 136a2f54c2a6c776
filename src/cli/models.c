/* `neurofit models [NAME]`: list the models, or one model's equations,
 * parameters (unit, default, fitting bounds) and state variables. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/model.h"

#include <stdio.h>
#include <string.h>

int nf_cli_models(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))) {
        printf("usage: neurofit models [NAME]\n");
        return argc > 2 ? NF_EXIT_USAGE : NF_EXIT_OK;
    }
    if (argc == 1) {
        printf("| model | parameters | description |\n|---|---:|---|\n");
        for (int i = 0; i < nf_model_count(); i++) {
            const nf_model *m = nf_model_at(i);
            printf("| %s | %d | %s |\n", m->name, m->n_params, m->description);
        }
        printf("\n`neurofit models NAME` shows a model's equations, units and bounds.\n");
        return NF_EXIT_OK;
    }
    const nf_model *m = nf_model_find(argv[1]);
    if (!m) return nf_cli_error("models", NF_EXIT_USAGE, "%s", nf_errmsg());
    printf("%s: %s\n\n  equations: %s\n  scheme:    %s\n  reference: %s\n  max dt:    %g ms\n\n", m->name,
           m->description, m->equations, m->scheme, m->reference, m->dt_max_ms);
    printf("| parameter | unit | default | lower | upper | description |\n|---|---|---:|---:|---:|---|\n");
    for (int j = 0; j < m->n_params; j++) {
        const nf_param_info *p = &m->params[j];
        printf("| %s | %s | %g | %g | %g | %s |\n", p->name, p->unit, p->def, p->lo, p->hi, p->description);
    }
    printf("\n| state | unit | description |\n|---|---|---|\n");
    for (int j = 0; j < m->n_state; j++)
        printf("| %s | %s | %s |\n", m->state[j].name, m->state[j].unit, m->state[j].description);
    return NF_EXIT_OK;
}

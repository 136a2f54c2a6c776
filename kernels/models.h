/* The model list: one X line per model, each defined by kernels/model_<name>.h.
 * Adding a model = writing its header + adding its line here. */
#ifndef NEUROFIT_MODELS_H
#define NEUROFIT_MODELS_H

#include "model_adex.h"
#include "model_alpha_lif.h"
#include "model_eif.h"
#include "model_fhn.h"
#include "model_glif1.h"
#include "model_glif2.h"
#include "model_glif3.h"
#include "model_hh.h"
#include "model_hindmarsh_rose.h"
#include "model_izhikevich.h"
#include "model_lapicque.h"
#include "model_lif6.h"
#include "model_morris_lecar.h"
#include "model_qif.h"
#include "model_rf.h"
#include "model_slif.h"
#include "model_theta.h"

#define NF_MODEL_LIST(X) X(lif6) X(adex) X(izhikevich) X(hh) X(slif) X(lapicque) X(qif) X(eif) X(fhn) X(morris_lecar) X(hindmarsh_rose) X(theta) X(rf) X(alpha_lif) X(glif1) X(glif2) X(glif3)

#endif

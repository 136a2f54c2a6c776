/* The model list: one line per model, in registry order (a model's id is its
 * line). A model is its header, kernels/model_<name>.h, plus its line here.
 *
 * Everything per model is generated from this list: the registry
 * (src/engine/registry.c), the simulate bodies of both backends
 * (kernels/sim_all.h), the CUDA kernels and the CPU block tables. The
 * #include lines and the body instantiations, which the preprocessor cannot
 * generate, are written by CMakeLists.txt from this file into
 * <build>/generated/nf_models_gen.h and nf_sim_all_gen.h. */
#ifndef NEUROFIT_MODEL_LIST_H
#define NEUROFIT_MODEL_LIST_H

/* clang-format off */
#define NF_MODEL_LIST(X) \
    X(lif6)              \
    X(adex)              \
    X(izhikevich)        \
    X(hh)                \
    X(slif)              \
    X(lapicque)          \
    X(qif)               \
    X(eif)               \
    X(fhn)               \
    X(morris_lecar)      \
    X(hindmarsh_rose)    \
    X(theta)             \
    X(rf)                \
    X(alpha_lif)         \
    X(glif1)             \
    X(glif2)             \
    X(glif3)
/* clang-format on */

#endif

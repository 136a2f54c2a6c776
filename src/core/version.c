/* nf_version: the version the library was built as (neurofit/version.h). */
#include "neurofit/version.h"

const char *nf_version(void) { return NF_VERSION_STRING; }

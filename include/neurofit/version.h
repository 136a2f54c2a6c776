/* neurofit's version. The header's numbers are the ones the program was
 * compiled against; nf_version() is the library's own, which differs when a
 * program runs against a newer libneurofit.so.0 (same major version: same
 * ABI). CMakeLists.txt reads the project version from this file. */
#ifndef NEUROFIT_VERSION_H
#define NEUROFIT_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define NF_VERSION_MAJOR 0
#define NF_VERSION_MINOR 1
#define NF_VERSION_PATCH 0
#define NF_VERSION_STRING "0.1.0"

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *nf_version(void);

#ifdef __cplusplus
}
#endif
#endif

/* neurofit status codes and error messages.
 *
 * Every fallible nf_ call returns an nf_status. NF_OK is 0; every other value
 * names a class of failure, and nf_errmsg() returns the message of the most
 * recent failure on the calling thread ("params[3][1] (g_L) is NaN", ...).
 * The library never prints and never exits.
 *
 * The codes and their default strings come from one X-macro list, so the enum
 * and nf_status_str() cannot drift apart.
 */
#ifndef NEUROFIT_STATUS_H
#define NEUROFIT_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NF_STATUS_LIST(X)                                                   \
    X(NF_OK, "ok")                                                          \
    X(NF_EINVAL, "invalid argument")                                        \
    X(NF_ENOMEM, "out of memory")                                           \
    X(NF_EIO, "input/output error")                                         \
    X(NF_EFORMAT, "corrupt or unsupported file format")                     \
    X(NF_ENOMODEL, "unknown model")                                         \
    X(NF_ENOTFOUND, "not found")                                            \
    X(NF_ERANGE, "value out of range")                                      \
    X(NF_ENAN, "non-finite value")                                          \
    X(NF_ESTATE, "call out of order")                                       \
    X(NF_ENODEV, "no CUDA device available")                                \
    X(NF_ECUDA, "CUDA error")                                               \
    X(NF_EUNSUPPORTED, "not supported in this build")                       \
    X(NF_EINTERRUPTED, "interrupted")                                       \
    X(NF_EBUSY, "in use by another process")

typedef enum {
#define NF__STATUS_ENUM(name, str) name,
    NF_STATUS_LIST(NF__STATUS_ENUM)
#undef NF__STATUS_ENUM
    NF_STATUS_COUNT
} nf_status;

/* Short fixed description of a status code ("invalid argument"). */
const char *nf_status_str(nf_status s);

/* Message of the most recent failure on this thread, naming the bad input.
 * Never NULL; "" when nothing failed yet. Valid until the next nf_ call on
 * the same thread that fails. */
const char *nf_errmsg(void);

/* Clear this thread's message. */
void nf_errclear(void);

/* A short printable excerpt of input for a message: the first n bytes of s
 * (up to a NUL only when n is (size_t)-1), at most 24 of them, printable
 * ASCII as is and every other byte as \xNN, "..." when cut. Written into out
 * (cap bytes; 128 hold any excerpt) and returned. */
const char *nf_excerpt(char *out, size_t cap, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif

/* Status strings and the per-thread error message (see include/neurofit/status.h). */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char nf__msg[1024];

const char *nf_status_str(nf_status s)
{
    switch (s) {
#define NF__STATUS_CASE(name, str) \
    case name:                     \
        return str;
        NF_STATUS_LIST(NF__STATUS_CASE)
#undef NF__STATUS_CASE
    default:
        return "unknown status";
    }
}

const char *nf_errmsg(void) { return nf__msg; }

void nf_errclear(void) { nf__msg[0] = '\0'; }

nf_status nf__fail(nf_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nf__msg, sizeof nf__msg, fmt, ap);
    va_end(ap);
    return s;
}

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

const char *nf_excerpt(char *out, size_t cap, const char *s, size_t n)
{
    if (!out || cap == 0)
        return "";
    out[0] = 0;
    if (!s)
        return out;
    if (n == (size_t)-1)
        n = strlen(s);
    size_t len = 0, shown = n < 24 ? n : 24;
    int cut = shown < n;
    for (size_t k = 0; k < shown; k++) {
        unsigned char c = (unsigned char)s[k];
        char piece[8];
        if (c >= 0x20 && c < 0x7f)
            piece[0] = (char)c, piece[1] = 0;
        else
            snprintf(piece, sizeof piece, "\\x%02x", c);
        size_t pl = strlen(piece);
        if (len + pl + 4 >= cap) {
            cut = 1;
            break;
        }
        memcpy(out + len, piece, pl + 1);
        len += pl;
    }
    if (cut && len + 4 <= cap)
        memcpy(out + len, "...", 4);
    return out;
}

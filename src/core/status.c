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

/* The message, formatted aside (an argument may be nf_errmsg() itself) and
 * copied with every control byte but newline and tab written as \xNN: input
 * quoted in a message never reaches a terminal as an escape sequence. */
nf_status nf__fail(nf_status s, const char *fmt, ...)
{
    char raw[sizeof nf__msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    size_t len = 0;
    for (const char *c = raw; *c; c++) {
        unsigned char b = (unsigned char)*c;
        if ((b >= 0x20 && b != 0x7f) || b == '\n' || b == '\t') {
            if (len + 1 >= sizeof nf__msg) break;
            nf__msg[len++] = (char)b;
        } else {
            if (len + 4 >= sizeof nf__msg) break;
            snprintf(nf__msg + len, 5, "\\x%02x", b);
            len += 4;
        }
    }
    nf__msg[len] = 0;
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

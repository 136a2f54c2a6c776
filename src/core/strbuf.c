/* Growable strings for text reports (src/core/strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(nf__sb *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return 0;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void nf__sb_printf(nf__sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void nf__sb_puts(nf__sb *b, const char *text)
{
    size_t n = strlen(text);
    if (!reserve(b, n))
        return;
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

void nf__sb_escape(nf__sb *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&': nf__sb_puts(b, "&amp;"); break;
        case '<': nf__sb_puts(b, "&lt;"); break;
        case '>': nf__sb_puts(b, "&gt;"); break;
        case '"': nf__sb_puts(b, "&quot;"); break;
        default: {
            char c[2] = {*p, 0};
            nf__sb_puts(b, c);
        }
        }
    }
}

void nf__sb_free(nf__sb *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

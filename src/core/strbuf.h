/* A growable string for building JSON-free text outputs (CSV, SVG, HTML).
 * Appends never fail visibly: an allocation failure sets `failed`, later
 * appends become no-ops, and the caller checks once at the end. */
#ifndef NEUROFIT_STRBUF_H
#define NEUROFIT_STRBUF_H

#include "internal.h"

#include <stddef.h>

typedef struct nf__sb {
    char *s;
    size_t len, cap;
    int failed;
} nf__sb;

void nf__sb_printf(nf__sb *b, const char *fmt, ...) NF__PRINTF(2, 3);
void nf__sb_puts(nf__sb *b, const char *text);
/* Append text with &, <, >, " escaped for HTML/SVG. */
void nf__sb_escape(nf__sb *b, const char *text);
void nf__sb_free(nf__sb *b);

#endif

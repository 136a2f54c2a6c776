/* Overflow-checked allocation helpers. */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>

void *nf__calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0) return calloc(1, 1);
    return calloc(n, size);
}

void *nf__malloc_array(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) return NULL;
    return malloc(n * size == 0 ? 1 : n * size);
}

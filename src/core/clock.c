/* The library's one clock: monotonic wall seconds for timings, progress and
 * checkpoint intervals. */
#include "internal.h"

#include <time.h>

double nf__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

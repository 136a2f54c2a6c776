/* k-th smallest element of an array (Hoare's quickselect), for doubles and
 * floats: the medians of the features and the ABC estimator's nearest
 * neighbours. */
#include "internal.h"

#include <stdint.h>

/* One body for both element types. Reorders a[0..n); k is 0-based, k < n. */
#define NF__KTH_BODY(T)                                                                            \
    int64_t lo = 0, hi = n - 1;                                                                    \
    while (lo < hi) {                                                                              \
        T pivot = a[lo + (hi - lo) / 2];                                                           \
        int64_t i = lo, j = hi;                                                                    \
        while (i <= j) {                                                                           \
            while (a[i] < pivot) i++;                                                              \
            while (a[j] > pivot) j--;                                                              \
            if (i <= j) {                                                                          \
                T tmp = a[i];                                                                      \
                a[i] = a[j];                                                                       \
                a[j] = tmp;                                                                        \
                i++;                                                                               \
                j--;                                                                               \
            }                                                                                      \
        }                                                                                          \
        if (k <= j)                                                                                \
            hi = j;                                                                                \
        else if (k >= i)                                                                           \
            lo = i;                                                                                \
        else                                                                                       \
            return a[k];                                                                           \
    }                                                                                              \
    return a[k];

double nf__kth_d(double *a, int64_t n, int64_t k) { NF__KTH_BODY(double) }
float nf__kth_f(float *a, int64_t n, int64_t k) { NF__KTH_BODY(float) }

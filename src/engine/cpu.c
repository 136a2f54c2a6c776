/* CPU backend: a persistent thread pool over blocks of NF_CPU_LANES
 * simulations, each block advanced by the shared body of kernels/sim_body.h
 * with the lane loops vectorised by the compiler.
 *
 * Each model's block function is compiled for several instruction sets
 * (target_clones: AVX-512, AVX2+FMA, baseline x86-64) and the loader picks
 * the best one the processor has. Worker threads flush denormals to zero
 * (as the GPU does with --use_fast_math); results do not depend on the
 * thread count because each simulation only reads its own inputs. */
#include "backend.h"
#include "internal.h"

#define NF__CPU_TABLE nf__cpu_blocks_64
#include "cpu_blocks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define NF__FTZ_ON()                                  \
    unsigned nf__csr = _mm_getcsr();                  \
    _mm_setcsr(nf__csr | 0x8040u) /* FTZ | DAZ */
#define NF__FTZ_OFF() _mm_setcsr(nf__csr)
#else
#define NF__FTZ_ON() (void)0
#define NF__FTZ_OFF() (void)0
#endif

/* ---- thread pool ---------------------------------------------------------- */

struct nf__pool {
    int n; /* threads including the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t cv_go, cv_done;
    uint64_t gen;
    int stop;
    int busy; /* workers still inside the current job */
    /* current job */
    nf__block_fn fn;
    const nf__kargs *args;
    int64_t n_blocks;
    int64_t lanes; /* simulations per block: 16 or NF_CPU_LANES */
    atomic_llong next;
};

#define NF__CHUNK 2 /* blocks taken per grab */

static void nf__pool_work(nf__pool *p)
{
    NF__FTZ_ON();
    const nf__kargs *a = p->args;
    for (;;) {
        long long b0 = atomic_fetch_add(&p->next, NF__CHUNK);
        if (b0 >= p->n_blocks) break;
        long long b1 = b0 + NF__CHUNK < p->n_blocks ? b0 + NF__CHUNK : p->n_blocks;
        for (long long b = b0; b < b1; b++) {
            int64_t i0 = b * p->lanes;
            int64_t nl = a->n_sims - i0 < p->lanes ? a->n_sims - i0 : p->lanes;
            p->fn(a, i0, nl);
        }
    }
    NF__FTZ_OFF();
}

static void *nf__pool_main(void *arg)
{
    nf__pool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen) pthread_cond_wait(&p->cv_go, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        nf__pool_work(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

nf_status nf__pool_create(int n_threads, nf__pool **out)
{
    *out = NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    nf__pool *p = calloc(1, sizeof *p);
    if (!p) return nf__fail(NF_ENOMEM, "thread pool: out of memory");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_go, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    if (n_threads > 1) {
        p->th = calloc((size_t)n_threads - 1, sizeof *p->th);
        if (!p->th) {
            nf__pool_destroy(p);
            return nf__fail(NF_ENOMEM, "thread pool: out of memory");
        }
        for (int i = 0; i < n_threads - 1; i++) {
            if (pthread_create(&p->th[i], NULL, nf__pool_main, p) != 0) {
                p->n = i + 1;
                nf__pool_destroy(p);
                return nf__fail(NF_ENOMEM, "thread pool: cannot start thread %d", i + 1);
            }
        }
    }
    *out = p;
    return NF_OK;
}

void nf__pool_destroy(nf__pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n - 1 && p->th; i++) pthread_join(p->th[i], NULL);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_go);
    pthread_cond_destroy(&p->cv_done);
    free(p);
}

int nf__pool_threads(const nf__pool *p) { return p->n; }

void nf__cpu_run(nf__pool *p, int model_id, const nf__kargs *a)
{
    /* narrow blocks when wide ones would leave lanes or threads idle */
    int narrow = a->n_sims < (int64_t)NF_CPU_LANES * p->n;
    p->fn = narrow ? nf__cpu_blocks_16[model_id] : nf__cpu_blocks_64[model_id];
    p->lanes = narrow ? 16 : NF_CPU_LANES;
    p->args = a;
    p->n_blocks = (a->n_sims + p->lanes - 1) / p->lanes;
    atomic_store(&p->next, 0);
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        p->busy = p->n - 1;
        p->gen++;
        pthread_cond_broadcast(&p->cv_go);
        pthread_mutex_unlock(&p->mu);
    }
    nf__pool_work(p); /* the caller works too */
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        while (p->busy > 0) pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

/* The thread pool and nf__parallel_for (src/engine/pool.h): persistent
 * workers that sleep on a condition variable between calls and take chunks
 * of items from an atomic counter. */
#include "pool.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct nf__pool {
    int n; /* threads including the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t cv_go, cv_done;
    uint64_t gen;
    int stop;
    int busy; /* workers still inside the current call */
    /* current call */
    nf__range_fn fn;
    void *ctx;
    int64_t n_items, grain;
    atomic_llong next;
    /* its first failed chunk (under mu) */
    nf_status err;
    int64_t err_begin;
    char err_msg[1024];
};

static void pool_work(nf__pool *p)
{
    for (;;) {
        long long b0 = atomic_fetch_add(&p->next, p->grain);
        if (b0 >= p->n_items) break;
        int64_t b1 = b0 + p->grain < p->n_items ? b0 + p->grain : p->n_items;
        nf_status s = p->fn(p->ctx, b0, b1);
        if (s != NF_OK) {
            pthread_mutex_lock(&p->mu);
            if (p->err == NF_OK || b0 < p->err_begin) {
                p->err = s;
                p->err_begin = b0;
                snprintf(p->err_msg, sizeof p->err_msg, "%s", nf_errmsg()); /* this thread's message */
            }
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *pool_main(void *arg)
{
    nf__pool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen) pthread_cond_wait(&p->cv_go, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        pool_work(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int nf__sharers = 1;

void nf__pool_set_sharers(int n) { nf__sharers = n > 1 ? n : 1; }

nf_status nf__pool_create(int n_threads, nf__pool **out)
{
    *out = NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN) / nf__sharers;
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
            if (pthread_create(&p->th[i], NULL, pool_main, p) != 0) {
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

nf_status nf__parallel_for(nf__pool *p, int64_t n_items, int64_t grain, nf__range_fn fn, void *ctx)
{
    if (n_items <= 0) return NF_OK;
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    p->grain = grain < 1 ? 1 : grain;
    p->err = NF_OK;
    atomic_store(&p->next, 0);
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        p->busy = p->n - 1;
        p->gen++;
        pthread_cond_broadcast(&p->cv_go);
        pthread_mutex_unlock(&p->mu);
    }
    pool_work(p); /* the caller works too */
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        while (p->busy > 0) pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    return p->err == NF_OK ? NF_OK : nf__fail(p->err, "%s", p->err_msg);
}

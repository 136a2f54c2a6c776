/* Internals of the MPI layer (src/dist), shared by its files only:
 *
 *   dist.c      nf_dist_init / agree, this rank's device and core share, and
 *               the messages: tagged byte buffers to and from rank 0, polled
 *               (a waiting rank sleeps instead of spinning on the cores that
 *               the working ranks need)
 *   dist_fit.c  nf_dist_fit: rank 0's queue of (recording, model) items, the
 *               chunks, their checkpoints, the records gathered
 *   dist_sbi.c  nf_dist_sbi_write_dataset, nf_dist_sbc_lif_run: contiguous
 *               ranges of global indices
 *
 * Everything here exists only in a build with MPI (NF_HAVE_MPI). */
#ifndef NEUROFIT_DIST_INTERNAL_H
#define NEUROFIT_DIST_INTERNAL_H

#include "neurofit/dist.h"

#include <stddef.h>
#include <stdint.h>

#ifdef NF_HAVE_MPI

/* NF_ESTATE unless nf_dist_init ran (what names the operation). */
nf_status nf__dist_need_init(const char *what);

/* Message tags of the layer. */
enum {
    NF__TAG_READY = 1, /* worker -> 0: idle (empty) */
    NF__TAG_CHUNK,     /* 0 -> worker: a chunk of fit work */
    NF__TAG_RESULT,    /* worker -> 0: a chunk's records */
    NF__TAG_FAIL,      /* worker -> 0: status + message */
    NF__TAG_STOP,      /* 0 -> worker: no more work (int32: 0 done, else stop) */
    NF__TAG_DONE,      /* worker -> 0: leaving the operation (its last message) */
    NF__TAG_PROGRESS   /* worker -> 0: sbi: simulations done (int64), -1 when failed */
};

/* Send len bytes to rank dest with tag (blocking until the buffer may be reused). */
nf_status nf__dist_send(int dest, int tag, const void *buf, size_t len);

/* A message waiting from source (-1: any) with tag (-1: any): 1 and its
 * source, tag and size, or 0 when none (does not wait). */
int nf__dist_poll(int source, int tag, int *src, int *tg, size_t *len);

/* Wait for such a message (sleeping between polls). */
void nf__dist_wait(int source, int tag, int *src, int *tg, size_t *len);

/* Receive the message from src with tag into buf [cap] (after a poll or wait
 * said it is there and its size). */
nf_status nf__dist_recv(int src, int tag, void *buf, size_t cap);

/* A growable byte buffer for packing messages. */
typedef struct nf__buf {
    unsigned char *p;
    size_t len, cap, pos; /* pos: the reader's position */
    int bad;              /* a write ran out of memory or a read past the end */
} nf__buf;

void nf__buf_put(nf__buf *b, const void *x, size_t n);
void nf__buf_get(nf__buf *b, void *x, size_t n);
void nf__buf_put_str(nf__buf *b, const char *s);
/* A string read in place (NUL-terminated inside the buffer), or "" when bad. */
const char *nf__buf_get_str(nf__buf *b);
void nf__buf_free(nf__buf *b);

#endif
#endif

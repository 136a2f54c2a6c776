/* .npy files (NumPy format 1.0/2.0): the array files neurofit writes and reads.
 *
 * Writers create "<path>.tmp-<pid>" and rename it over <path> only when every
 * byte is written, so an interrupted run never leaves a half-written file
 * where a good one was. Arrays are C-ordered, little-endian.
 *
 * Ownership: nf_npy_read allocates *data with malloc; the caller frees it.
 */
#ifndef NEUROFIT_NPY_H
#define NEUROFIT_NPY_H

#include "neurofit/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NF_DT_F32, /* '<f4' */
    NF_DT_F64, /* '<f8' */
    NF_DT_I32, /* '<i4' */
    NF_DT_I64, /* '<i8' */
    NF_DT_U8,  /* '|u1' */
    NF_DT_BOOL /* '|b1' */
} nf_dtype;

/* Size in bytes of one element. */
size_t nf_dtype_size(nf_dtype t);

/* Write an array of ndim <= 8 dimensions to path (atomically). */
nf_status nf_npy_write(const char *path, nf_dtype type, int ndim, const int64_t *shape,
                       const void *data);

/* Streaming writer for arrays whose first dimension grows in chunks (memory
 * bounded independently of the row count). The header is rewritten with the
 * final row count at close; the file appears under its name only then. */
typedef struct nf_npy_writer nf_npy_writer;
nf_status nf_npy_writer_open(const char *path, nf_dtype type, int ndim,
                             const int64_t *row_shape /* ndim-1 trailing dims */, nf_npy_writer **out);
nf_status nf_npy_writer_append(nf_npy_writer *w, const void *rows, int64_t n_rows);
nf_status nf_npy_writer_close(nf_npy_writer *w);  /* commits the file */
void nf_npy_writer_abort(nf_npy_writer *w);       /* removes the temporary; NULL ok */

/* Read a whole array. On success *data (malloc'd), *type, *ndim and shape[0..ndim-1]
 * are set. max_ndim is the capacity of shape. Rejects Fortran order, big-endian
 * data, unknown dtypes, headers that do not parse and files shorter than the
 * header says, naming the file and the problem. */
nf_status nf_npy_read(const char *path, void **data, nf_dtype *type, int *ndim, int64_t *shape,
                      int max_ndim);

/* Read an array and convert it to float32 (from f4, f8, i4, i8, u1, b1). */
nf_status nf_npy_read_f32(const char *path, float **data, int *ndim, int64_t *shape, int max_ndim);

#ifdef __cplusplus
}
#endif
#endif

/* .npy files written by ranges of rows from several processes (internal):
 * the MPI layer's SBI datasets (src/dist/dist_sbi.c). One process creates
 * the file with its final shape (the header nf_npy_writer would write at its
 * close, and the data, zero until written, as sparse as the file system
 * allows); every process then writes its rows at their offsets with pwrite,
 * so the file is byte for byte the one nf_npy_writer streams. */
#ifndef NEUROFIT_NPY_ROWS_H
#define NEUROFIT_NPY_ROWS_H

#include "neurofit/npy.h"

/* Bytes before the data of every .npy file neurofit writes. */
#define NF__NPY_DATA_OFFSET 256

/* path as an .npy file of type and shape [ndim], its data not written yet. */
nf_status nf__npy_create(const char *path, nf_dtype type, int ndim, const int64_t *shape);

#endif

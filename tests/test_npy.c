/* .npy round trips and rejection of corrupt files (src/core/npy.c). */
#include "neurofit/npy.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tmpname(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/nf_test_npy_%ld_%s.npy", (long)getpid(), tag);
}

Test(npy, roundtrip_f32_2d)
{
    char path[256];
    tmpname(path, sizeof path, "rt");
    float a[6] = {1, 2, 3, 4.5f, -6, 1e-7f};
    int64_t shape[2] = {2, 3};
    cr_assert_eq(nf_npy_write(path, NF_DT_F32, 2, shape, a), NF_OK, "%s", nf_errmsg());
    float *b;
    int ndim;
    int64_t sh[4];
    cr_assert_eq(nf_npy_read_f32(path, &b, &ndim, sh, 4), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(ndim, 2);
    cr_assert_eq(sh[0], 2);
    cr_assert_eq(sh[1], 3);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    free(b);
    remove(path);
}

Test(npy, streaming_writer_counts_rows)
{
    char path[256];
    tmpname(path, sizeof path, "stream");
    int64_t row[1] = {3};
    nf_npy_writer *w;
    cr_assert_eq(nf_npy_writer_open(path, NF_DT_I32, 2, row, &w), NF_OK);
    int32_t chunk[6] = {1, 2, 3, 4, 5, 6};
    cr_assert_eq(access(path, F_OK), -1, "file must not appear before close");
    cr_assert_eq(nf_npy_writer_append(w, chunk, 2), NF_OK);
    cr_assert_eq(nf_npy_writer_append(w, chunk, 1), NF_OK);
    cr_assert_eq(nf_npy_writer_close(w), NF_OK);
    void *d;
    nf_dtype t;
    int ndim;
    int64_t sh[4];
    cr_assert_eq(nf_npy_read(path, &d, &t, &ndim, sh, 4), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(t, NF_DT_I32);
    cr_assert_eq(sh[0], 3);
    cr_assert_eq(((int32_t *)d)[7], 2);
    free(d);
    remove(path);
}

Test(npy, rejects_bad_magic_and_truncation)
{
    char path[256];
    tmpname(path, sizeof path, "bad");
    FILE *fp = fopen(path, "wb");
    fputs("hello world, not numpy", fp);
    fclose(fp);
    void *d;
    nf_dtype t;
    int ndim;
    int64_t sh[4];
    cr_assert_eq(nf_npy_read(path, &d, &t, &ndim, sh, 4), NF_EFORMAT);
    cr_assert(strstr(nf_errmsg(), path) != NULL, "message names the file: %s", nf_errmsg());

    float a[100] = {0};
    int64_t shape[1] = {100};
    cr_assert_eq(nf_npy_write(path, NF_DT_F32, 1, shape, a), NF_OK);
    cr_assert_eq(truncate(path, 256 + 200), 0);
    cr_assert_eq(nf_npy_read(path, &d, &t, &ndim, sh, 4), NF_EFORMAT);
    cr_assert(strstr(nf_errmsg(), "shorter") != NULL, "%s", nf_errmsg());
    remove(path);
}

Test(npy, missing_file_is_io_error)
{
    void *d;
    nf_dtype t;
    int ndim;
    int64_t sh[4];
    cr_assert_eq(nf_npy_read("/nonexistent/x.npy", &d, &t, &ndim, sh, 4), NF_EIO);
    cr_assert(strstr(nf_errmsg(), "/nonexistent/x.npy") != NULL);
}

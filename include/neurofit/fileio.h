/* Files and directories: atomic writes and output directories.
 *
 * nf_file_commit_open() returns a FILE* on a temporary name next to path;
 * nf_file_commit_close() flushes, fsyncs and renames it over path, or removes
 * it when ok is 0. Nothing is ever half-written under the final name. */
#ifndef NEUROFIT_FILEIO_H
#define NEUROFIT_FILEIO_H

#include "neurofit/status.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf_commit_file {
    FILE *fp;
    char path[4096];
    char tmp[4096];
} nf_commit_file;

nf_status nf_file_commit_open(nf_commit_file *f, const char *path);
nf_status nf_file_commit_close(nf_commit_file *f, int ok);

/* Create dir (and parents) if needed; fail with a clear message when it is
 * not a writable directory. */
nf_status nf_mkdir_p(const char *dir);

/* Join dir and name into out (size cap); NF_ERANGE when it does not fit. */
nf_status nf_path_join(char *out, size_t cap, const char *dir, const char *name);

/* Remove dir and everything below it (files and subdirectories; links are
 * removed, never followed). Missing dir: nothing to do. For our own scratch
 * directories (checkpoints, staging); errors are ignored. */
void nf_remove_tree(const char *dir);

/* Write a NUL-terminated string to path atomically. */
nf_status nf_file_write_string(const char *path, const char *text);

#ifdef __cplusplus
}
#endif
#endif

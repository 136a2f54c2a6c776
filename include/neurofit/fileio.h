/* Files and directories: atomic writes, output directories and output sets.
 *
 * nf_file_commit_open() returns a FILE* on a temporary name next to path;
 * nf_file_commit_close() flushes, fsyncs and renames it over path, or removes
 * it when ok is 0. Nothing is ever half-written under the final name.
 *
 * A command's outputs are one set (results.json + results.csv + ..., or
 * theta.npy + x.npy + ... + meta.json): nf_stage_open makes a staging
 * directory beside the output directory, the writers write the set into it,
 * and nf_stage_commit makes it the output when it is complete: a failed or
 * interrupted run leaves the complete earlier set; a commit moves files
 * only (no writing), its marker last, and leaves no stale file of an
 * earlier set:
 *
 *   nf_stage *st;
 *   if (!(s = nf_stage_open(dir, &st))) {
 *       s = write_everything_into(nf_stage_path(st));
 *       if (!s) s = nf_stage_commit(st, set, n_set);  (set: names, marker last)
 *   }
 *   nf_stage_destroy(st);                            (removes an uncommitted stage)
 *
 * The stage is <parent of dir>/.<name of dir>.partial-<pid> (NF_STAGE_TAG):
 * on the same file system as dir, and found by that pattern, with the pid of
 * the run that made it, by whoever cleans up after a killed run. A lock on
 * dir, if any, belongs beside dir too: the commit replaces dir itself. */
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

/* The whole of a file of at most max_bytes as a NUL-terminated string
 * (*text to free()); errors name the file. */
nf_status nf_file_read_string(const char *path, size_t max_bytes, char **text);

/* ---- output sets ----------------------------------------------------------- */

#define NF_STAGE_TAG ".partial-" /* stage = <parent>/.<name><NF_STAGE_TAG><pid> */

typedef struct nf_stage nf_stage;

/* A fresh, empty staging directory for an output set of dir (dir's parent is
 * created when missing; dir itself is not touched). */
nf_status nf_stage_open(const char *dir, nf_stage **out);

/* The staging directory, where the writers put the set's files. */
const char *nf_stage_path(const nf_stage *st);

/* The output directory the stage is for, as given to nf_stage_open. */
const char *nf_stage_dir(const nf_stage *st);

/* Make the staged files dir's output set. set[0..n_set) names everything the
 * command owns in dir (files or directories, written this time or not), the
 * marker of a complete set last (results.json, meta.json, ...: readers and
 * reruns trust a set that has it); every staged file must be one of them.
 * Afterwards dir holds the staged files and no other name of the set (stale
 * outputs of an earlier set are removed); names outside the set are left
 * alone. When dir is missing the commit is one rename of the stage. When it
 * exists, the files move into it one by one, the earlier set's marker
 * removed first and the new one moved last, so that a mix never carries a
 * marker (the directory itself is kept: a shell sitting in it keeps seeing
 * it). Files and directories are fsynced. On success the stage is gone. */
nf_status nf_stage_commit(nf_stage *st, const char *const *set, int n_set);

/* Remove the staging directory and what is in it, unless committed; NULL is
 * accepted. */
void nf_stage_destroy(nf_stage *st);

#ifdef __cplusplus
}
#endif
#endif

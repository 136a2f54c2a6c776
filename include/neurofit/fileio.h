/* Files and directories: atomic writes, output directories and output sets.
 *
 * nf_file_commit_open() returns a FILE* on a temporary name next to path;
 * nf_file_commit_close(f, 1) flushes, fsyncs and renames it over path, and
 * fails with a message when any write, the flush or the fsync failed (a full
 * disk); nf_file_commit_close(f, 0) throws it away and returns NF_OK (for a
 * caller that already failed: never pass a write status there, it would
 * hide the error). Nothing is ever half-written under the final name.
 *
 * A command's outputs are one set (results.json + results.csv + ..., or
 * theta.npy + x.npy + ... + meta.json), and an output directory has one
 * writer at a time:
 *
 *   nf_stage *st;
 *   if (!(s = nf_stage_open(dir, &st))) {            (locks dir: NF_EBUSY names
 *       s = write_everything_into(nf_stage_path(st)); the pid of another writer)
 *       if (!s) s = nf_stage_commit(st, set, n_set);  (set: names, marker last)
 *   }
 *   nf_stage_destroy(st);           (removes an uncommitted stage, unlocks)
 *
 * The lock is flock() on dir/.neurofit.lock, which holds the holder's pid
 * (nf_out_lock_acquire: a caller that writes into dir before staging, like
 * a fit's checkpoints, takes it for the whole run; nested acquisitions in
 * one process share it). The stage is dir/.neurofit.partial-<pid>, on dir's
 * file system, so that a commit only renames, never copies (multi-GB SBI
 * sets included). The commit:
 *
 *   1. every staged file and the stage are fsynced, and the stage gets a
 *      journal (.commit: the set's names, the staged ones) - from here on
 *      the commit is decided;
 *   2. the earlier set's files move aside into the stage (its marker first),
 *      then the staged files move into dir (the new marker last), then the
 *      stage with the earlier set in it is removed.
 *
 * So dir holds the complete earlier set until step 2 and the complete new
 * set after it, and a marker never stands beside a mix: readers, --resume
 * and a rerun's "holds earlier results" check trust a set whose marker
 * exists. A failure before step 2 (disk full, an error, a signal) leaves
 * dir as it was; a rename failing in step 2 moves everything back; a
 * process killed in step 2 leaves the journal, and the next writer of dir
 * finishes that commit when it takes the lock. It also removes the stages
 * of writers that died before step 1, and those an earlier version left
 * beside dir (.<name>.partial-<pid>) when their process is gone
 * (nf_out_lock_notes says what it did).
 * Names in dir outside the set are never touched. */
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
 * (*text to free()); errors name the file. A file holding a NUL byte is
 * NF_EFORMAT (its text would end there), the bytes around it quoted. */
nf_status nf_file_read_string(const char *path, size_t max_bytes, char **text);

/* ---- output directories and sets -------------------------------------------- */

typedef struct nf_out_lock nf_out_lock;

/* Take the writer's lock on dir (created when missing, with its parents):
 * NF_EBUSY, with a message naming the holder's pid, when another process
 * holds it; never waits. A second call in the same process shares the lock
 * (each release matches one acquire). The first acquisition finishes or
 * removes what dead writers left in dir (see above). */
nf_status nf_out_lock_acquire(const char *dir, nf_out_lock **out);

/* What the acquisition found and did, one line each ("" when nothing): for
 * the caller to show. */
const char *nf_out_lock_notes(const nf_out_lock *lk);

/* The lock file (for a signal handler that ends the process: unlink() it
 * there, as a release would). */
const char *nf_out_lock_path(const nf_out_lock *lk);

/* Let go; the last release removes the lock file, and dir itself when this
 * lock created it and it is still empty. NULL is accepted. */
void nf_out_lock_release(nf_out_lock *lk);

#define NF_STAGE_TAG ".partial-" /* stage = <dir>/.neurofit<NF_STAGE_TAG><pid> */

typedef struct nf_stage nf_stage;

/* Lock dir (nf_out_lock_acquire) and make a fresh, empty staging directory
 * for an output set inside it. */
nf_status nf_stage_open(const char *dir, nf_stage **out);

/* The staging directory, where the writers put the set's files. */
const char *nf_stage_path(const nf_stage *st);

/* The output directory the stage is for, as given to nf_stage_open. */
const char *nf_stage_dir(const nf_stage *st);

/* Make the staged files dir's output set (the commit above). set[0..n_set)
 * (at most 64) names everything the command owns in dir (plain names, files
 * or directories, written this time or not), the marker of a complete set
 * last (results.json, meta.json, ...); every staged file must be one of
 * them and the marker must be staged. Afterwards dir holds the staged files
 * and no other name of the set (stale outputs of an earlier set are gone);
 * names outside the set are left alone, and so is dir itself (its
 * permissions, a link to it, a shell sitting in it). On failure dir holds
 * the earlier set. On success the stage is gone. */
nf_status nf_stage_commit(nf_stage *st, const char *const *set, int n_set);

/* Remove the staging directory and what is in it, unless committed, and let
 * go of the lock; NULL is accepted. */
void nf_stage_destroy(nf_stage *st);

#ifdef __cplusplus
}
#endif
#endif

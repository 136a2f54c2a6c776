/* Atomic file writes, directory creation, the writer's lock on an output
 * directory and staged output sets (include/neurofit/fileio.h). */
#include "neurofit/fileio.h"

#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int nf__fault(void);

nf_status nf_path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s%s%s", dir, (dir[0] && dir[strlen(dir) - 1] != '/') ? "/" : "",
                     name);
    if (n < 0 || (size_t)n >= cap) return nf__fail(NF_ERANGE, "path too long: %s/%s", dir, name);
    return NF_OK;
}

nf_status nf_mkdir_p(const char *dir)
{
    char buf[4096];
    size_t len = strlen(dir);
    if (len == 0) return nf__fail(NF_EINVAL, "output directory: empty path");
    if (len >= sizeof buf) return nf__fail(NF_ERANGE, "output directory path too long");
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return nf__fail(NF_EIO, "cannot create directory %s: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return nf__fail(NF_EIO, "output directory %s is not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return nf__fail(NF_EIO, "output directory %s is not writable", dir);
    return NF_OK;
}

nf_status nf_file_commit_open(nf_commit_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    int n1 = snprintf(f->path, sizeof f->path, "%s", path);
    int n2 = snprintf(f->tmp, sizeof f->tmp, "%s.tmp-%ld", path, (long)getpid());
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof f->tmp)
        return nf__fail(NF_ERANGE, "path too long: %s", path);
    f->fp = nf__fault() ? NULL : fopen(f->tmp, "wb");
    if (!f->fp) return nf__fail(NF_EIO, "cannot write %s: %s", path, strerror(errno));
    if (nf__fault()) { /* as a full disk: every write to this file fails (ferror), as the caller will see */
        fclose(f->fp);
        f->fp = fopen(f->tmp, "rb");
        if (!f->fp) {
            remove(f->tmp);
            return nf__fail(NF_EIO, "cannot write %s: %s", path, strerror(errno));
        }
    }
    return NF_OK;
}

nf_status nf_file_commit_close(nf_commit_file *f, int ok)
{
    if (!f->fp) return NF_OK;
    int bad = ferror(f->fp);
    if (fflush(f->fp) != 0) bad = 1;
    if (!bad && ok && nf__fault()) bad = 1; /* as a write that failed */
    if (!bad && fsync(fileno(f->fp)) != 0 && errno != EINVAL) bad = 1;
    int err = errno;
    if (fclose(f->fp) != 0) bad = 1;
    f->fp = NULL;
    if (!ok || bad) {
        remove(f->tmp);
        if (ok) return nf__fail(NF_EIO, "error writing %s: %s", f->path, strerror(err));
        return NF_OK;
    }
    if (rename(f->tmp, f->path) != 0) {
        err = errno;
        remove(f->tmp);
        return nf__fail(NF_EIO, "cannot rename into %s: %s", f->path, strerror(err));
    }
    return NF_OK;
}

nf_status nf_file_write_string(const char *path, const char *text)
{
    nf_commit_file f;
    nf_status s = nf_file_commit_open(&f, path);
    if (s) return s;
    fputs(text, f.fp);
    return nf_file_commit_close(&f, 1);
}

nf_status nf_file_read_string(const char *path, size_t max_bytes, char **text)
{
    *text = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return nf__fail(NF_EIO, "cannot read %s: %s", path, strerror(errno));
    struct stat sb;
    long n = fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode) ? (long)sb.st_size : -1;
    nf_status s = NF_OK;
    char *buf = NULL;
    if (n < 0)
        s = nf__fail(NF_EIO, "cannot read %s: not a regular file", path);
    else if ((size_t)n > max_bytes)
        s = nf__fail(NF_ERANGE, "%s: %ld bytes, more than %zu", path, n, max_bytes);
    else if (!(buf = malloc((size_t)n + 1)))
        s = nf__fail(NF_ENOMEM, "%s: out of memory", path);
    else if (fread(buf, 1, (size_t)n, fp) != (size_t)n)
        s = nf__fail(NF_EIO, "cannot read %s", path);
    fclose(fp);
    const char *nul = s ? NULL : memchr(buf, 0, (size_t)n);
    if (nul) { /* the string would end there: what follows would be read as absent */
        char q[128];
        long at = (long)(nul - buf), from = at > 8 ? at - 8 : 0;
        s = nf__fail(NF_EFORMAT, "%s: a NUL byte at byte %ld ('%s%s'): not a text file", path, at + 1,
                     from ? "..." : "", nf_excerpt(q, sizeof q, buf + from, (size_t)(n - from)));
    }
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *text = buf;
    return NF_OK;
}

static void nf__remove_tree(const char *dir, int depth)
{
    DIR *d = depth < 16 ? opendir(dir) : NULL;
    if (d) {
        struct dirent *e;
        char p[4096];
        struct stat st;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || nf_path_join(p, sizeof p, dir, e->d_name))
                continue;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                nf__remove_tree(p, depth + 1);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

void nf_remove_tree(const char *dir)
{
    if (dir)
        nf__remove_tree(dir, 0);
}

/* ---- fault injection (tests only) --------------------------------------------- */

/* Armed only by nf__fault_arm, which only tests call: production code never
 * arms it, and no environment variable does. Every operation of this file
 * layer that can fail on a full or broken disk counts as one: opening a
 * file for writing; writing it (then every write to it fails, as on a full
 * disk, and ferror shows it); finishing it (flush, fsync); creating the
 * stage; each rename of a commit. */
static _Atomic long nf__fault_ops, nf__fault_nth;
static _Atomic int nf__fault_errno, nf__fault_die;

void nf__fault_arm(long nth, int err, int die)
{
    atomic_store(&nf__fault_ops, 0);
    atomic_store(&nf__fault_errno, err);
    atomic_store(&nf__fault_die, die);
    atomic_store(&nf__fault_nth, nth);
}

long nf__fault_count(void) { return atomic_load(&nf__fault_ops); }

/* 1 (errno set) when this operation is the one to fail; _exit when dying. */
static int nf__fault(void)
{
    long nth = atomic_load(&nf__fault_nth);
    if (nth <= 0)
        return 0;
    if (atomic_fetch_add(&nf__fault_ops, 1) + 1 != nth)
        return 0;
    if (atomic_load(&nf__fault_die))
        _exit(NF__FAULT_EXIT);
    errno = atomic_load(&nf__fault_errno);
    return 1;
}

/* ---- output directories: the writer's lock ------------------------------------ */

#define LOCK_NAME ".neurofit.lock"
#define STAGE_PREFIX ".neurofit" NF_STAGE_TAG /* + pid */
#define JOURNAL_NAME ".commit"
#define OLD_NAME ".old"

struct nf_out_lock {
    char dir[4096];  /* the output directory as given */
    char path[4096]; /* its lock file */
    dev_t dev;       /* the directory's identity: one lock per directory and process */
    ino_t ino;
    int fd, refs, created, unlocked;
    char notes[2048];
    nf_out_lock *next;
};

static pthread_mutex_t nf__locks_mu = PTHREAD_MUTEX_INITIALIZER;
static nf_out_lock *nf__locks; /* the locks this process holds */

const char *nf_out_lock_notes(const nf_out_lock *lk) { return lk ? lk->notes : ""; }
const char *nf_out_lock_path(const nf_out_lock *lk) { return lk ? lk->path : ""; }

static void note(nf_out_lock *lk, const char *fmt, ...) NF__PRINTF(2, 3);
static void note(nf_out_lock *lk, const char *fmt, ...)
{
    size_t len = strlen(lk->notes);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lk->notes + len, sizeof lk->notes - len, fmt, ap);
    va_end(ap);
    len = strlen(lk->notes);
    if (len + 1 < sizeof lk->notes)
        lk->notes[len] = '\n', lk->notes[len + 1] = 0;
}

/* The pid a lock file names, 0 when unknown. */
static long lock_holder(int fd)
{
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    return pid > 0 ? pid : 0;
}

static void finish_stale(nf_out_lock *lk);

nf_status nf_out_lock_acquire(const char *dir, nf_out_lock **out)
{
    *out = NULL;
    if (!dir || !*dir)
        return nf__fail(NF_EINVAL, "output directory: empty path");
    struct stat sb;
    int existed = stat(dir, &sb) == 0;
    nf_status s = nf_mkdir_p(dir);
    if (s)
        return s;
    if (stat(dir, &sb) != 0)
        return nf__fail(NF_EIO, "output directory %s: %s", dir, strerror(errno));
    pthread_mutex_lock(&nf__locks_mu);
    for (nf_out_lock *h = nf__locks; h; h = h->next)
        if (h->dev == sb.st_dev && h->ino == sb.st_ino) { /* this process holds it already */
            h->refs++;
            pthread_mutex_unlock(&nf__locks_mu);
            *out = h;
            return NF_OK;
        }
    pthread_mutex_unlock(&nf__locks_mu);

    nf_out_lock *lk = nf__calloc(1, sizeof *lk);
    if (!lk)
        return nf__fail(NF_ENOMEM, "output directory %s: out of memory", dir);
    lk->fd = -1;
    lk->dev = sb.st_dev;
    lk->ino = sb.st_ino;
    lk->created = !existed;
    snprintf(lk->dir, sizeof lk->dir, "%s", dir);
    if ((s = nf_path_join(lk->path, sizeof lk->path, dir, LOCK_NAME))) {
        free(lk);
        return s;
    }
    /* open, lock, and make sure the file locked is still the one at the path
     * (a holder removes it when it lets go) */
    for (int tries = 0; !s; tries++) {
        int fd = open(lk->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            s = nf__fail(NF_EIO, "output directory %s: cannot create its lock file %s: %s", dir, lk->path,
                         strerror(errno));
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            if (err == EWOULDBLOCK) {
                long pid = lock_holder(fd);
                close(fd);
                if (pid)
                    s = nf__fail(NF_EBUSY, "output directory %s is being written by another neurofit (pid %ld); "
                                 "wait for it or choose another directory", dir, pid);
                else
                    s = nf__fail(NF_EBUSY, "output directory %s is being written by another neurofit; wait for it "
                                 "or choose another directory", dir);
                break;
            }
            if (err != ENOLCK && err != EOPNOTSUPP && err != EINVAL) {
                close(fd);
                s = nf__fail(NF_EIO, "output directory %s: cannot lock %s: %s", dir, lk->path, strerror(err));
                break;
            }
            lk->unlocked = 1; /* a file system without locks: carry on, and say so */
            note(lk, "%s: this file system cannot lock files, so a second writer would not be noticed", dir);
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lk->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
                /* the pid only serves the message of a refused writer */
            }
            lk->fd = fd;
            break;
        }
        close(fd); /* the holder removed it as we opened it: again */
        if (tries == 100)
            s = nf__fail(NF_EBUSY, "output directory %s: its lock file keeps changing", dir);
    }
    if (s) {
        free(lk);
        return s;
    }
    lk->refs = 1;
    finish_stale(lk);
    pthread_mutex_lock(&nf__locks_mu);
    lk->next = nf__locks;
    nf__locks = lk;
    pthread_mutex_unlock(&nf__locks_mu);
    *out = lk;
    return NF_OK;
}

void nf_out_lock_release(nf_out_lock *lk)
{
    if (!lk)
        return;
    pthread_mutex_lock(&nf__locks_mu);
    int last = --lk->refs == 0;
    if (last)
        for (nf_out_lock **p = &nf__locks; *p; p = &(*p)->next)
            if (*p == lk) {
                *p = lk->next;
                break;
            }
    pthread_mutex_unlock(&nf__locks_mu);
    if (!last)
        return;
    unlink(lk->path); /* while locked: whoever opened it meanwhile sees it gone and retries */
    close(lk->fd);
    if (lk->created)
        rmdir(lk->dir); /* a directory this run made and left empty goes too */
    free(lk);
}

/* ---- output sets ------------------------------------------------------------ */

struct nf_stage {
    char dir[4096];  /* the output directory as given */
    char path[4096]; /* the staging directory inside it */
    nf_out_lock *lock;
    int committed;
};

const char *nf_stage_path(const nf_stage *st) { return st->path; }
const char *nf_stage_dir(const nf_stage *st) { return st->dir; }

nf_status nf_stage_open(const char *dir, nf_stage **out)
{
    *out = NULL;
    nf_stage *st = nf__calloc(1, sizeof *st);
    if (!st)
        return nf__fail(NF_ENOMEM, "output directory %s: out of memory", dir ? dir : "");
    nf_status s = nf_out_lock_acquire(dir, &st->lock);
    if (!s) {
        char name[64];
        snprintf(st->dir, sizeof st->dir, "%s", dir);
        snprintf(name, sizeof name, STAGE_PREFIX "%ld", (long)getpid());
        s = nf_path_join(st->path, sizeof st->path, dir, name);
    }
    if (!s) {
        nf_remove_tree(st->path); /* a leftover of an earlier process with our pid */
        if (nf__fault() || mkdir(st->path, 0777) != 0)
            s = nf__fail(NF_EIO, "output directory %s: cannot create the staging directory %s: %s", dir, st->path,
                         strerror(errno));
    }
    if (s) {
        nf_out_lock_release(st->lock);
        free(st);
        return s;
    }
    *out = st;
    return NF_OK;
}

void nf_stage_destroy(nf_stage *st)
{
    if (!st)
        return;
    if (!st->committed)
        nf_remove_tree(st->path);
    nf_out_lock_release(st->lock);
    free(st);
}

static int in_set(const char *name, const char *const *set, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(name, set[i]))
            return 1;
    return 0;
}

/* A name of a set: one plain entry of the directory, not hidden. */
static int set_name_ok(const char *name)
{
    return name && name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) < 256;
}

static void fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int exists(const char *dir, const char *name)
{
    char p[4096];
    struct stat sb;
    return nf_path_join(p, sizeof p, dir, name) == NF_OK && lstat(p, &sb) == 0;
}

/* Rename dir_a/name to dir_b/name (counted by the fault hook when counted). */
static int move(const char *dir_a, const char *dir_b, const char *name, int counted)
{
    char a[4096], b[4096];
    if (nf_path_join(a, sizeof a, dir_a, name) || nf_path_join(b, sizeof b, dir_b, name)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (counted && nf__fault())
        return -1;
    return rename(a, b);
}

/* The journal of a commit (stage/.commit): the set's names, the marker last
 * ("set NAME"), and the staged ones in the order they move in ("new NAME").
 * Once it exists the commit can be finished by whoever finds it. */
typedef struct journal {
    int n_set, n_new;
    char set[64][256], new_[64][256];
} journal;

static nf_status journal_write(const char *stage, const journal *j)
{
    char p[4096], *text = NULL;
    size_t cap = 64 + (size_t)(j->n_set + j->n_new) * 264, len = 0;
    nf_status s = nf_path_join(p, sizeof p, stage, JOURNAL_NAME);
    if (!s && !(text = malloc(cap)))
        s = nf__fail(NF_ENOMEM, "commit of %s: out of memory", stage);
    if (s)
        return s;
    len += (size_t)snprintf(text + len, cap - len, "neurofit-commit 1\n");
    for (int i = 0; i < j->n_set; i++)
        len += (size_t)snprintf(text + len, cap - len, "set %s\n", j->set[i]);
    for (int i = 0; i < j->n_new; i++)
        len += (size_t)snprintf(text + len, cap - len, "new %s\n", j->new_[i]);
    s = nf_file_write_string(p, text);
    free(text);
    return s;
}

/* Read stage/.commit; 0 when it is missing or not one we wrote. */
static int journal_read(const char *stage, journal *j)
{
    char p[4096], *text = NULL;
    memset(j, 0, sizeof *j);
    if (nf_path_join(p, sizeof p, stage, JOURNAL_NAME) || nf_file_read_string(p, 1 << 20, &text))
        return 0;
    int ok = !strncmp(text, "neurofit-commit 1\n", 18);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); ok && line; line = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(line, "neurofit-commit 1"))
            continue;
        int is_set = !strncmp(line, "set ", 4), is_new = !strncmp(line, "new ", 4);
        if ((!is_set && !is_new) || !set_name_ok(line + 4) || (is_set ? j->n_set : j->n_new) == 64) {
            ok = 0;
            break;
        }
        if (is_set)
            snprintf(j->set[j->n_set++], 256, "%s", line + 4);
        else
            snprintf(j->new_[j->n_new++], 256, "%s", line + 4);
    }
    free(text);
    return ok && j->n_set > 0 && j->n_new > 0 && !strcmp(j->set[j->n_set - 1], j->new_[j->n_new - 1]);
}

static int in_new(const journal *j, const char *name)
{
    for (int i = 0; i < j->n_new; i++)
        if (!strcmp(j->new_[i], name))
            return 1;
    return 0;
}

/* Carry out a journalled commit of stage into dir: every name of the set
 * that dir holds from the earlier set moves aside into stage/.old (the
 * marker first, so that no mix ever carries one), then the staged files
 * move in (the marker last). It only renames, and it can be repeated after
 * an interruption: a staged file still in the stage moves in, one already
 * moved is left. On a failure with roll_back, what moved goes back and the
 * journal is removed (dir holds the earlier set again); without, the
 * journal stays for the next run to finish. */
static nf_status journal_apply(const char *stage, const char *dir, const journal *j, int roll_back)
{
    char old[4096];
    nf_status s = nf_path_join(old, sizeof old, stage, OLD_NAME);
    if (s)
        return s;
    const char *moved_aside[64], *moved_in[64];
    int n_aside = 0, n_in = 0, err = 0;
    const char *what = NULL;
    /* aside: the marker first, then the rest of the set that is the earlier set's */
    for (int k = 0; k < j->n_set && !err; k++) {
        const char *name = j->set[k == 0 ? j->n_set - 1 : k - 1];
        if (!exists(dir, name) || (in_new(j, name) && !exists(stage, name)))
            continue; /* absent, or this set's own file, already moved in */
        char o[4096];
        if (!nf_path_join(o, sizeof o, old, name))
            nf_remove_tree(o); /* an earlier try's */
        if (move(dir, old, name, roll_back) != 0)
            err = errno, what = name;
        else
            moved_aside[n_aside++] = name;
    }
    for (int k = 0; k < j->n_new && !err; k++) {
        const char *name = j->new_[k];
        if (!exists(stage, name))
            continue;
        if (move(stage, dir, name, roll_back) != 0)
            err = errno, what = name;
        else
            moved_in[n_in++] = name;
    }
    fsync_path(dir, O_DIRECTORY);
    if (!err)
        return NF_OK;
    s = nf__fail(NF_EIO, "output directory %s: cannot move %s into place: %s", dir, what, strerror(err));
    if (!roll_back)
        return s;
    int back = 0;
    for (int k = n_in - 1; k >= 0; k--)
        back |= move(dir, stage, moved_in[k], 0);
    for (int k = n_aside - 1; k >= 0; k--)
        back |= move(old, dir, moved_aside[k], 0);
    fsync_path(dir, O_DIRECTORY);
    char p[4096];
    if (!back && !nf_path_join(p, sizeof p, stage, JOURNAL_NAME))
        unlink(p); /* the earlier set is whole again: this stage is no commit any more */
    else
        s = nf__fail(NF_EIO, "output directory %s: cannot move %s into place (%s), nor the earlier set back; the "
                     "next run into it finishes the commit", dir, what, strerror(err));
    return s;
}

/* Stages of neurofit 0.1's first layout, beside dir (<parent>/.<name>.partial-<pid>,
 * never committed: they held no journal), whose process is gone. */
static void remove_old_layout_stages(nf_out_lock *lk)
{
    char real[PATH_MAX], prefix[300];
    if (!realpath(lk->dir, real) || !strcmp(real, "/"))
        return;
    char *base = strrchr(real, '/');
    *base++ = 0;
    const char *parent = real[0] ? real : "/";
    if (snprintf(prefix, sizeof prefix, ".%s" NF_STAGE_TAG, base) >= (int)sizeof prefix)
        return;
    DIR *d = opendir(parent);
    if (!d)
        return;
    size_t plen = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));) {
        const char *pid = e->d_name + plen;
        if (strncmp(e->d_name, prefix, plen) || !*pid || strspn(pid, "0123456789") != strlen(pid))
            continue;
        long p = strtol(pid, NULL, 10);
        if (p <= 0 || kill((pid_t)p, 0) == 0 || errno != ESRCH)
            continue; /* its process may still be writing it */
        char path[4096];
        if (nf_path_join(path, sizeof path, parent, e->d_name) == NF_OK) {
            nf_remove_tree(path);
            note(lk, "%s: removed %s, the unfinished output of process %ld, which is no longer running", lk->dir,
                 path, p);
        }
    }
    closedir(d);
}

/* With the lock held, every stage in dir is a dead writer's: a journalled
 * one is finished (its set was complete), any other removed. */
static void finish_stale(nf_out_lock *lk)
{
    remove_old_layout_stages(lk);
    DIR *d = opendir(lk->dir);
    if (!d)
        return;
    char names[16][64];
    int n = 0;
    size_t plen = strlen(STAGE_PREFIX);
    for (struct dirent *e; n < 16 && (e = readdir(d));) {
        const char *pid = e->d_name + plen;
        if (!strncmp(e->d_name, STAGE_PREFIX, plen) && *pid && strspn(pid, "0123456789") == strlen(pid) &&
            strlen(e->d_name) < sizeof names[0])
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        char stage[4096];
        journal j;
        if (nf_path_join(stage, sizeof stage, lk->dir, names[i]))
            continue;
        const char *pid = names[i] + plen;
        if (journal_read(stage, &j)) {
            if (journal_apply(stage, lk->dir, &j, 0) == NF_OK) {
                nf_remove_tree(stage);
                note(lk, "%s: finished the commit of a complete output set that process %s had begun", lk->dir, pid);
            } else
                note(lk, "%s: could not finish the commit that process %s had begun: %s", lk->dir, pid, nf_errmsg());
        } else {
            nf_remove_tree(stage);
            note(lk, "%s: removed %s, the unfinished output of process %s, which is no longer running", lk->dir,
                 names[i], pid);
        }
    }
}

nf_status nf_stage_commit(nf_stage *st, const char *const *set, int n_set)
{
    if (st->committed)
        return nf__fail(NF_EINVAL, "output directory %s: already committed", st->dir);
    if (n_set < 1 || n_set > 64)
        return nf__fail(NF_EINVAL, "output directory %s: an output set has 1 to 64 names, its marker last", st->dir);
    for (int i = 0; i < n_set; i++)
        if (!set_name_ok(set[i]))
            return nf__fail(NF_EINVAL, "output directory %s: \"%s\" is not a name of an output set", st->dir,
                            set[i] ? set[i] : "(null)");
    DIR *d = opendir(st->path);
    if (!d)
        return nf__fail(NF_EIO, "cannot read the staging directory %s: %s", st->path, strerror(errno));
    const char *stray = NULL;
    for (struct dirent *e; !stray && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !in_set(e->d_name, set, n_set))
            stray = e->d_name;
    nf_status s = stray ? nf__fail(NF_EINVAL, "output directory %s: %s is not one of the set's files", st->dir, stray)
                        : NF_OK;
    closedir(d);
    if (s)
        return s;
    const char *marker = set[n_set - 1];
    if (!exists(st->path, marker))
        return nf__fail(NF_EINVAL, "output directory %s: the set has no %s, its marker", st->dir, marker);

    /* everything staged on disk before anything moves */
    journal *j = calloc(1, sizeof *j);
    if (!j)
        return nf__fail(NF_ENOMEM, "output directory %s: out of memory", st->dir);
    for (int i = 0; i < n_set; i++) {
        snprintf(j->set[j->n_set++], 256, "%s", set[i]);
        char p[4096];
        if (exists(st->path, set[i]) && !nf_path_join(p, sizeof p, st->path, set[i])) {
            snprintf(j->new_[j->n_new++], 256, "%s", set[i]);
            struct stat sb;
            if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode))
                fsync_path(p, 0);
        }
    }
    char old[4096];
    if (!(s = nf_path_join(old, sizeof old, st->path, OLD_NAME)) && (nf__fault() || mkdir(old, 0777) != 0))
        s = nf__fail(NF_EIO, "output directory %s: cannot create %s: %s", st->dir, old, strerror(errno));
    if (!s)
        s = journal_write(st->path, j); /* from here on the commit can be finished by a later run */
    if (!s) {
        fsync_path(st->path, O_DIRECTORY);
        s = journal_apply(st->path, st->dir, j, 1);
    }
    free(j);
    if (s)
        return s;
    nf_remove_tree(st->path); /* the earlier set, in .old, and the journal */
    fsync_path(st->dir, O_DIRECTORY);
    st->committed = 1;
    return NF_OK;
}

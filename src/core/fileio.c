/* Atomic file writes, directory creation and staged output sets
 * (include/neurofit/fileio.h). */
#include "neurofit/fileio.h"

#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    f->fp = fopen(f->tmp, "wb");
    if (!f->fp) return nf__fail(NF_EIO, "cannot write %s: %s", path, strerror(errno));
    return NF_OK;
}

nf_status nf_file_commit_close(nf_commit_file *f, int ok)
{
    if (!f->fp) return NF_OK;
    int bad = ferror(f->fp);
    if (fflush(f->fp) != 0) bad = 1;
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

/* ---- output sets ------------------------------------------------------------ */

struct nf_stage {
    char dir[4096];   /* the output directory as given */
    char path[4096];  /* the staging directory beside it */
    int committed;
};

const char *nf_stage_path(const nf_stage *st) { return st->path; }
const char *nf_stage_dir(const nf_stage *st) { return st->dir; }

nf_status nf_stage_open(const char *dir, nf_stage **out)
{
    *out = NULL;
    size_t len = dir ? strlen(dir) : 0;
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0)
        return nf__fail(NF_EINVAL, "output directory: empty path");
    if (len >= 4096 - 64)
        return nf__fail(NF_ERANGE, "output directory path too long: %s", dir);
    nf_stage *st = nf__calloc(1, sizeof *st);
    if (!st)
        return nf__fail(NF_ENOMEM, "output directory %s: out of memory", dir);
    memcpy(st->dir, dir, len);
    /* "." and ".." have no name to stage beside: use the directory's real path */
    const char *base = strrchr(st->dir, '/');
    base = base ? base + 1 : st->dir;
    char real[PATH_MAX];
    if ((!strcmp(base, ".") || !strcmp(base, "..")) && realpath(st->dir, real) && strlen(real) < sizeof st->dir - 64) {
        snprintf(st->dir, sizeof st->dir, "%s", real);
        base = strrchr(st->dir, '/') + 1;
    }
    if (!*base) {
        free(st);
        return nf__fail(NF_EINVAL, "output directory %s: not a directory one can replace", dir);
    }
    char parent[4096];
    size_t plen = (size_t)(base - st->dir);
    memcpy(parent, st->dir, plen);
    parent[plen] = 0;
    nf_status s = plen ? nf_mkdir_p(parent) : NF_OK;
    if (!s) {
        int n = snprintf(st->path, sizeof st->path, "%.*s.%s" NF_STAGE_TAG "%ld", (int)plen, st->dir, base,
                         (long)getpid());
        if (n < 0 || (size_t)n >= sizeof st->path)
            s = nf__fail(NF_ERANGE, "output directory path too long: %s", dir);
    }
    if (!s) {
        nf_remove_tree(st->path); /* a leftover of an earlier process with our pid */
        if (mkdir(st->path, 0777) != 0)
            s = nf__fail(NF_EIO, "output directory %s: cannot create the staging directory %s: %s", dir, st->path,
                         strerror(errno));
    }
    if (s) {
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
    free(st);
}

static int in_set(const char *name, const char *const *set, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(name, set[i]))
            return 1;
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Remove dir/name, a file or a directory tree; missing is fine. */
static nf_status remove_name(const char *dir, const char *name)
{
    char p[4096];
    nf_status s = nf_path_join(p, sizeof p, dir, name);
    if (s)
        return s;
    struct stat sb;
    if (lstat(p, &sb) != 0)
        return NF_OK;
    if (S_ISDIR(sb.st_mode))
        nf_remove_tree(p);
    else if (unlink(p) != 0)
        return nf__fail(NF_EIO, "cannot remove the earlier %s: %s", p, strerror(errno));
    return NF_OK;
}

/* Move the staged files into an existing dir one by one, the marker last.
 * (Not an exchange of the two directories: whoever sits in dir, a shell or
 * this process, would be left in a deleted directory.) */
static nf_status commit_files(nf_stage *st, const char *const *set, int n)
{
    const char *marker = set[n - 1];
    nf_status s = remove_name(st->dir, marker); /* from here on no mix looks complete */
    for (int i = 0; i < n && !s; i++) {
        char a[4096], b[4096];
        int last = i == n - 1; /* the marker */
        if ((s = nf_path_join(a, sizeof a, st->path, set[i])) || (s = nf_path_join(b, sizeof b, st->dir, set[i])))
            break;
        struct stat sb;
        if (lstat(a, &sb) != 0) { /* not in this set: an earlier set's file is stale */
            if (!last)
                s = remove_name(st->dir, set[i]);
            continue;
        }
        if ((s = remove_name(st->dir, set[i])))
            break;
        if (rename(a, b) != 0)
            s = nf__fail(NF_EIO, "cannot move %s to %s: %s", a, b, strerror(errno));
    }
    if (!s) {
        fsync_dir(st->dir);
        rmdir(st->path);
    }
    return s;
}

nf_status nf_stage_commit(nf_stage *st, const char *const *set, int n_set)
{
    if (st->committed)
        return nf__fail(NF_EINVAL, "output directory %s: already committed", st->dir);
    if (n_set < 1)
        return nf__fail(NF_EINVAL, "output directory %s: an output set needs at least its marker", st->dir);
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
    fsync_dir(st->path);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", st->path);
    char *slash = strrchr(parent, '/');
    if (slash)
        slash[slash == parent ? 1 : 0] = 0;
    else
        snprintf(parent, sizeof parent, ".");

    struct stat sb;
    if (lstat(st->dir, &sb) != 0) { /* no earlier set: one rename */
        if (errno != ENOENT)
            return nf__fail(NF_EIO, "output directory %s: %s", st->dir, strerror(errno));
        if (rename(st->path, st->dir) != 0)
            return nf__fail(NF_EIO, "cannot move %s to %s: %s", st->path, st->dir, strerror(errno));
        fsync_dir(parent);
        st->committed = 1;
        return NF_OK;
    }
    if (!S_ISDIR(sb.st_mode) && !S_ISLNK(sb.st_mode))
        return nf__fail(NF_EIO, "output directory %s is not a directory", st->dir);
    if ((s = commit_files(st, set, n_set)))
        return s;
    st->committed = 1;
    return NF_OK;
}

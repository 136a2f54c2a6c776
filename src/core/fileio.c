/* Atomic file writes and directory creation (include/neurofit/fileio.h). */
#include "neurofit/fileio.h"

#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
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

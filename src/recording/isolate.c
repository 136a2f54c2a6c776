/* A reader run in a child process (nf__open_isolated): NWB files.
 *
 * Fuzzing showed that libhdf5 1.10 itself crashes, hangs or exhausts memory
 * on corrupt HDF5 files (fuzz/README.md), and nothing we check beforehand can
 * prevent it. So nf_recording_open parses NWB in a forked child, which sends
 * the recording back through a pipe: a crash or hang of libhdf5 becomes an
 * error naming the file, and the calling process is never taken down. The
 * reader is a parameter: the tests pass one that dies, the fuzz target and
 * the tests call nf__nwb_open itself to read in process. */
#include "rec_internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NF__CHILD_SECONDS 120

/* ---- child side: write everything or die ---------------------------------- */

static int put(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int put_str(int fd, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    return put(fd, &n, sizeof n) || (n && put(fd, s, n));
}

static int send_recording(int fd, const nf_recording *r)
{
    int32_t hdr[5] = {(int32_t)r->format, r->n_channels, r->v_channel, r->i_channel, r->n_sweeps};
    if (put(fd, hdr, sizeof hdr) || put_str(fd, r->format_detail) || put(fd, &r->rate_hz, sizeof r->rate_hz) ||
        put(fd, r->channels, sizeof r->channels) || put_str(fd, r->i_origin))
        return -1;
    for (int k = 0; k < r->n_sweeps; k++) {
        const nf_sweep *s = &r->sweeps[k];
        int32_t sh[4] = {s->index, (int32_t)s->i_source, s->i != NULL, s->n_epochs};
        double d[2] = {s->dt_ms, s->start_ms};
        if (put(fd, sh, sizeof sh) || put(fd, &s->n, sizeof s->n) || put(fd, d, sizeof d) ||
            put(fd, s->t, sizeof(double) * (size_t)s->n) || put(fd, s->v, sizeof(double) * (size_t)s->n) ||
            (s->i && put(fd, s->i, sizeof(double) * (size_t)s->n)) ||
            (s->n_epochs && put(fd, s->epochs, sizeof(nf_epoch) * (size_t)s->n_epochs)))
            return -1;
    }
    return 0;
}

/* ---- parent side ------------------------------------------------------------ */

static int get(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t g = read(fd, c, n);
        if (g < 0 && errno == EINTR) continue;
        if (g <= 0) return -1;
        c += g;
        n -= (size_t)g;
    }
    return 0;
}

static int get_str(int fd, char *dst, size_t cap)
{
    uint32_t n;
    if (get(fd, &n, sizeof n) || n > (1u << 20)) return -1;
    char tmp[1024];
    size_t keep = n < cap - 1 ? n : cap - 1;
    size_t left = n, off = 0;
    while (left > 0) {
        size_t chunk = left < sizeof tmp ? left : sizeof tmp;
        if (get(fd, tmp, chunk)) return -1;
        if (off < keep) memcpy(dst + off, tmp, keep - off < chunk ? keep - off : chunk);
        off += chunk;
        left -= chunk;
    }
    dst[keep] = 0;
    return 0;
}

static nf_status receive(int fd, const char *path, nf_recording **out)
{
    int32_t ok;
    if (get(fd, &ok, sizeof ok)) return NF_EIO;
    if (!ok) {
        int32_t st;
        char msg[1024];
        if (get(fd, &st, sizeof st) || get_str(fd, msg, sizeof msg)) return NF_EIO;
        return nf__fail((nf_status)st, "%s", msg);
    }
    int32_t hdr[5];
    if (get(fd, hdr, sizeof hdr)) return NF_EIO;
    nf_recording *r = NULL;
    nf_status s = nf__rec_new(path, (nf_format)hdr[0], &r);
    if (s) return s;
    *out = r;
    r->n_channels = hdr[1];
    r->v_channel = hdr[2];
    r->i_channel = hdr[3];
    if (get_str(fd, r->format_detail, sizeof r->format_detail) || get(fd, &r->rate_hz, sizeof r->rate_hz) ||
        get(fd, r->channels, sizeof r->channels) || get_str(fd, r->i_origin, sizeof r->i_origin))
        return NF_EIO;
    if (hdr[4] < 1 || hdr[4] > (1 << 24) || (s = nf__rec_sweeps(r, hdr[4]))) return s ? s : NF_EIO;
    for (int k = 0; k < r->n_sweeps; k++) {
        nf_sweep *sw = &r->sweeps[k];
        int32_t sh[4];
        int64_t n;
        double d[2];
        if (get(fd, sh, sizeof sh) || get(fd, &n, sizeof n) || get(fd, d, sizeof d)) return NF_EIO;
        sw->index = sh[0];
        if (n < 1 || sh[3] < 0 || sh[3] > (1 << 20)) return NF_EIO;
        if ((s = nf__sweep_alloc(r, sw, n, sh[2]))) return s;
        sw->i_source = (nf_current_source)sh[1];
        sw->dt_ms = d[0];
        sw->start_ms = d[1];
        if (get(fd, sw->t, sizeof(double) * (size_t)n) || get(fd, sw->v, sizeof(double) * (size_t)n) ||
            (sw->i && get(fd, sw->i, sizeof(double) * (size_t)n)))
            return NF_EIO;
        if (sh[3] > 0) {
            sw->epochs = nf__calloc((size_t)sh[3], sizeof(nf_epoch));
            if (!sw->epochs) return nf__fail(NF_ENOMEM, "%s: out of memory", path);
            sw->n_epochs = sh[3];
            if (get(fd, sw->epochs, sizeof(nf_epoch) * (size_t)sh[3])) return NF_EIO;
        }
    }
    return NF_OK;
}

nf_status nf__open_isolated(nf__reader_fn reader, const char *path, const nf_recording_options *o,
                            nf_recording **rec)
{
    int fds[2];
    if (pipe(fds)) return nf__fail(NF_EIO, "%s: cannot create a pipe: %s", path, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return nf__fail(NF_EIO, "%s: cannot fork the NWB reader: %s", path, strerror(errno));
    }
    if (pid == 0) {
        /* child: a hang ends with SIGALRM, any crash just ends the child */
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        alarm(NF__CHILD_SECONDS);
        nf_recording *r = NULL;
        nf_status s = reader(path, o, &r);
        int32_t ok = s == NF_OK;
        int bad = put(fds[1], &ok, sizeof ok);
        if (!bad && !ok) {
            int32_t st = (int32_t)s;
            bad = put(fds[1], &st, sizeof st) || put_str(fds[1], nf_errmsg());
        } else if (!bad) {
            bad = send_recording(fds[1], r);
        }
        _exit(bad ? 3 : 0);
    }
    close(fds[1]);
    nf_recording *r = NULL;
    nf_status s = receive(fds[0], path, &r);
    close(fds[0]);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(wst)) {
        int sig = WTERMSIG(wst);
        s = sig == SIGALRM
                ? nf__fail(NF_EFORMAT, "%s: the HDF5 library did not finish reading this file in %d s; "
                                       "the file is corrupt or not an NWB file", path, NF__CHILD_SECONDS)
                : nf__fail(NF_EFORMAT, "%s: the HDF5 library crashed reading this file (signal %d, %s); "
                                       "the file is corrupt or not an NWB file", path, sig, strsignal(sig));
    } else if (s == NF_EIO || (WIFEXITED(wst) && WEXITSTATUS(wst) != 0 && s == NF_OK)) {
        s = nf__fail(NF_EFORMAT, "%s: the NWB reader process ended without a complete result (exit %d)", path,
                     WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    }
    if (s) {
        nf_recording_destroy(r);
        return s;
    }
    *rec = r;
    return NF_OK;
}

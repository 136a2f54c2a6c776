/* Helpers for tests that run the built `neurofit` binary (header-only). */
#ifndef NF_TEST_CLI_H
#define NF_TEST_CLI_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NFT_BIN NF_BINARY_DIR "/neurofit"

/* Run a shell command (printf-style) with stderr merged into stdout, capture
 * at most cap-1 bytes into out; returns the exit code (-1 when killed). */
__attribute__((format(printf, 3, 4), unused)) static int nft_run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    while (fgetc(p) != EOF) /* drain the rest so the child never blocks */
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A fresh directory /tmp/nf_test_<tag>_XXXXXX for one test (mkdtemp: never an
 * earlier run's directory, even where a container repeats process ids). */
__attribute__((unused)) static void nft_tmpdir(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/nf_test_%s_XXXXXX", tag);
    cr_assert_not_null(mkdtemp(buf), "mkdtemp %s", buf);
}

/* Remove a test's directory tree (best effort, said on stderr when it fails). */
__attribute__((unused)) static void nft_rmtree(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* 1 when dir/name exists. */
__attribute__((unused)) static int nft_exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

#endif

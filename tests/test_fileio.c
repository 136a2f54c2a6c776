/* Output sets (src/core/fileio.c): staged beside the output directory and
 * committed in one step; the earlier set's stale files go, other files stay,
 * an uncommitted stage leaves nothing behind. */
#include "neurofit/fileio.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/nf_test_fileio_%ld", (long)getpid());
    mkdir(root, 0777);
}

static void teardown(void) { nf_remove_tree(root); }

TestSuite(stage, .init = setup, .fini = teardown);

static void put(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

/* The content of dir/name, "" when missing (static buffer). */
static const char *get(const char *dir, const char *name)
{
    static char buf[256];
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    buf[0] = 0;
    FILE *f = fopen(p, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    return buf;
}

/* Sorted, comma-joined names in dir (static buffer). */
static const char *listing(const char *dir)
{
    static char buf[1024];
    struct dirent **e;
    int n = scandir(dir, &e, NULL, alphasort);
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i]->d_name, ".") && strcmp(e[i]->d_name, ".."))
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? "," : "", e[i]->d_name);
        free(e[i]);
    }
    free(e);
    return buf;
}

static const char *const set[] = {"a.npy", "b.npy", "checkpoint", "results.json"};

static void write_set(nf_stage *st, const char *tag, int with_b)
{
    put(nf_stage_path(st), "a.npy", tag);
    if (with_b)
        put(nf_stage_path(st), "b.npy", tag);
    put(nf_stage_path(st), "results.json", tag);
}

Test(stage, a_new_directory_gets_the_set_and_no_stage_is_left)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/parent/out", root);
    nf_stage *st;
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
    cr_assert(strstr(nf_stage_path(st), NF_STAGE_TAG), "%s", nf_stage_path(st));
    struct stat sb;
    cr_assert_neq(stat(dir, &sb), 0, "the output directory is not touched before the commit");
    write_set(st, "new", 1);
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(dir), "a.npy,b.npy,results.json");
    cr_assert_str_eq(get(dir, "b.npy"), "new");
    char parent[512];
    snprintf(parent, sizeof parent, "%s/parent", root);
    cr_assert_str_eq(listing(parent), "out", "nothing beside the output");
}

Test(stage, an_earlier_set_is_replaced_whole_with_no_stale_file)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/out", root);
    mkdir(dir, 0700);
    put(dir, "a.npy", "old");
    put(dir, "b.npy", "old"); /* this run writes no b.npy */
    put(dir, "results.json", "old");
    char ck[600];
    snprintf(ck, sizeof ck, "%s/checkpoint", dir);
    mkdir(ck, 0777);
    put(ck, "state.json", "old");
    nf_stage *st;
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "new", 0);
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(dir), "a.npy,results.json");
    cr_assert_str_eq(get(dir, "a.npy"), "new");
    cr_assert_str_eq(get(dir, "results.json"), "new");
    struct stat sb;
    cr_assert_eq(stat(dir, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0700, "the directory keeps its permissions");
    cr_assert_str_eq(listing(root), "out", "the earlier set is gone, no stage left");
}

Test(stage, other_files_in_the_directory_stay)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/out", root);
    mkdir(dir, 0777);
    put(dir, "mine.txt", "user");
    put(dir, "b.npy", "old");
    put(dir, "results.json", "old");
    nf_stage *st;
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "new", 0);
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(dir), "a.npy,mine.txt,results.json");
    cr_assert_str_eq(get(dir, "mine.txt"), "user");
    cr_assert_str_eq(get(dir, "results.json"), "new");
    cr_assert_str_eq(listing(root), "out");

    /* a symbolic link to a directory: the files go where it points, the link stays */
    char real[512], link[512];
    snprintf(real, sizeof real, "%s/real", root);
    snprintf(link, sizeof link, "%s/link", root);
    mkdir(real, 0777);
    cr_assert_eq(symlink(real, link), 0);
    cr_assert_eq(nf_stage_open(link, &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "linked", 1);
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    struct stat sb;
    cr_assert_eq(lstat(link, &sb), 0);
    cr_assert(S_ISLNK(sb.st_mode), "the link is still a link");
    cr_assert_str_eq(listing(real), "a.npy,b.npy,results.json");
}

Test(stage, a_failed_run_leaves_the_earlier_set_and_nothing_else)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/out", root);
    mkdir(dir, 0777);
    put(dir, "a.npy", "old");
    put(dir, "results.json", "old");
    nf_stage *st;
    /* given up before the commit */
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "new", 1);
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(root), "out");
    cr_assert_str_eq(listing(dir), "a.npy,results.json");
    cr_assert_str_eq(get(dir, "a.npy"), "old");
    /* a staged file outside the set is refused, nothing moves */
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "new", 1);
    put(nf_stage_path(st), "stray.txt", "x");
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "stray.txt"), "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(root), "out");
    cr_assert_str_eq(get(dir, "results.json"), "old");
}

Test(stage, the_current_directory_can_be_the_output)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/here", root);
    mkdir(dir, 0777);
    cr_assert_eq(chdir(dir), 0);
    nf_stage *st;
    cr_assert_eq(nf_stage_open(".", &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "dot", 1);
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(dir), "a.npy,b.npy,results.json");
    cr_assert_str_eq(listing(root), "here");
}

/* Output sets (src/core/fileio.c): staged inside the output directory under
 * its writer's lock and committed by a journalled move; the earlier set's
 * stale files go, other files stay, an uncommitted stage leaves nothing
 * behind; a failure or a death at any operation leaves the complete earlier
 * set or (once the journal is written, after the next writer's lock) the
 * complete new one; a second writer is refused naming the first. */
#include "neurofit/fileio.h"

#include "internal.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[256];

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/nf_test_fileio_XXXXXX");
    cr_assert_not_null(mkdtemp(root), "mkdtemp %s", root);
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

static int nft_has(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

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
    cr_assert_eq(strncmp(nf_stage_path(st), dir, strlen(dir)), 0, "the stage is inside the directory: %s",
                 nf_stage_path(st));
    cr_assert(nft_has(dir, ".neurofit.lock"), "locked while staging");
    write_set(st, "new", 1);
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(dir), "a.npy,b.npy,results.json", "no stage, no lock file left");
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

/* A commit moves, never copies (a streamed multi-GB SBI set costs renames):
 * each committed file and directory is the very inode written in the stage,
 * and a rolled-back earlier set is its own inodes again. */
static ino_t ino_of(const char *dir, const char *name)
{
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(stat(p, &sb), 0, "%s", p);
    return sb.st_ino;
}

Test(stage, a_commit_renames_the_staged_files_and_never_copies_them)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/out", root);
    mkdir(dir, 0777);
    put(dir, "a.npy", "old");
    put(dir, "results.json", "old");
    nf_stage *st;
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "new", 1);
    char ck[600];
    snprintf(ck, sizeof ck, "%s/checkpoint", nf_stage_path(st));
    mkdir(ck, 0777);
    ino_t a = ino_of(nf_stage_path(st), "a.npy"), b = ino_of(nf_stage_path(st), "b.npy"),
          c = ino_of(nf_stage_path(st), "checkpoint"), r = ino_of(nf_stage_path(st), "results.json");
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_eq(ino_of(dir, "a.npy"), a, "a.npy was copied, not moved");
    cr_assert_eq(ino_of(dir, "b.npy"), b, "b.npy was copied, not moved");
    cr_assert_eq(ino_of(dir, "checkpoint"), c, "the checkpoint directory was copied, not moved");
    cr_assert_eq(ino_of(dir, "results.json"), r, "results.json was copied, not moved");

    /* a commit failing at any operation puts the earlier files back, themselves */
    int n_ops = 0;
    for (long k = 1;; k++) {
        nf_remove_tree(dir);
        mkdir(dir, 0777);
        put(dir, "a.npy", "old");
        put(dir, "results.json", "old");
        ino_t old_a = ino_of(dir, "a.npy"), old_r = ino_of(dir, "results.json");
        cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
        write_set(st, "new", 1);
        nf__fault_arm(k, EIO, 0);
        nf_status s = nf_stage_commit(st, set, 4);
        nf__fault_arm(0, 0, 0);
        nf_stage_destroy(st);
        if (s == NF_OK) break;
        n_ops++;
        cr_assert_eq(ino_of(dir, "a.npy"), old_a, "fault at operation %ld: the earlier a.npy is a copy", k);
        cr_assert_eq(ino_of(dir, "results.json"), old_r, "fault at operation %ld: the earlier results.json is a copy",
                     k);
        cr_assert_str_eq(get(dir, "results.json"), "old");
        cr_assert(k < 100, "the commit never succeeds");
    }
    cr_assert_geq(n_ops, 4, "the stage's fsync, .old, journal, renames: %d faults met", n_ops);
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

    /* a symbolic link to a directory: the files go where it points, the link stays
     * (and the lock is the directory's: taken through the link, it is held) */
    char real[512], link[512];
    snprintf(real, sizeof real, "%s/real", root);
    snprintf(link, sizeof link, "%s/link", root);
    mkdir(real, 0777);
    cr_assert_eq(symlink(real, link), 0);
    cr_assert_eq(nf_stage_open(link, &st), NF_OK, "%s", nf_errmsg());
    cr_assert(nft_has(real, ".neurofit.lock"));
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
    /* a set without its marker is no set */
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "%s", nf_errmsg());
    put(nf_stage_path(st), "a.npy", "new");
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "marker"), "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(dir), "a.npy,results.json");
    cr_assert_str_eq(get(dir, "a.npy"), "old");
    /* a failed run into a new directory leaves no directory */
    char fresh[512];
    snprintf(fresh, sizeof fresh, "%s/fresh", root);
    cr_assert_eq(nf_stage_open(fresh, &st), NF_OK, "%s", nf_errmsg());
    write_set(st, "new", 1);
    nf_stage_destroy(st);
    cr_assert_str_eq(listing(root), "out");
}

/* A text file read whole: a NUL byte in it is an error quoting the bytes
 * around it printable, never a string silently cut short there. */
Test(stage, a_text_file_with_a_nul_is_refused_not_cut_short)
{
    char p[600];
    snprintf(p, sizeof p, "%s/t.json", root);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    static const char data[] = "{\"a\": 1}\0{\"b\": \x01}";
    fwrite(data, 1, sizeof data - 1, f);
    fclose(f);
    char *text = (char *)"unset";
    cr_assert_eq(nf_file_read_string(p, 1 << 20, &text), NF_EFORMAT);
    cr_assert_null(text);
    cr_assert(strstr(nf_errmsg(), "t.json: a NUL byte at byte 9 ('{\"a\": 1}\\x00{\"b\": \\x01}')"), "%s",
              nf_errmsg());
    put(root, "t.json", "{\"a\": 1}");
    cr_assert_eq(nf_file_read_string(p, 1 << 20, &text), NF_OK, "%s", nf_errmsg());
    cr_assert_str_eq(text, "{\"a\": 1}");
    free(text);
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

/* ---- the writer's lock ---------------------------------------------------- */

Test(stage, a_second_writer_is_refused_naming_the_first)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/out", root);
    int ready[2], done[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(done), 0);
    pid_t child = fork();
    if (child == 0) { /* the first writer: holds a stage until told */
        nf_stage *st;
        char c = nf_stage_open(dir, &st) == NF_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
            _exit(3);
        nf_stage_destroy(st);
        _exit(0);
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    cr_assert_eq(c, 'y');
    nf_stage *st;
    nf_out_lock *lk;
    cr_assert_eq(nf_stage_open(dir, &st), NF_EBUSY);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)child);
    cr_assert(strstr(nf_errmsg(), pid), "the holder is named: %s", nf_errmsg());
    cr_assert_eq(nf_out_lock_acquire(dir, &lk), NF_EBUSY);
    cr_assert(strstr(nf_errmsg(), pid), "%s", nf_errmsg());
    cr_assert_eq(write(done[1], "x", 1), 1);
    int wst;
    cr_assert_eq(waitpid(child, &wst, 0), child);
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    /* once it let go: ours; held twice in one process, one lock file, gone after the last release */
    cr_assert_eq(nf_out_lock_acquire(dir, &lk), NF_OK, "%s", nf_errmsg());
    cr_assert_str_eq(nf_out_lock_notes(lk), "");
    cr_assert_eq(nf_stage_open(dir, &st), NF_OK, "nested in one process: %s", nf_errmsg());
    write_set(st, "mine", 1);
    cr_assert_eq(nf_stage_commit(st, set, 4), NF_OK, "%s", nf_errmsg());
    nf_stage_destroy(st);
    cr_assert(nft_has(dir, ".neurofit.lock"), "still held by the outer acquisition");
    nf_out_lock_release(lk);
    cr_assert_str_eq(listing(dir), "a.npy,b.npy,results.json");
}

Test(stage, a_dead_writers_stage_is_removed_and_said)
{
    char dir[512], stale[600];
    snprintf(dir, sizeof dir, "%s/out", root);
    mkdir(dir, 0777);
    put(dir, "results.json", "old");
    snprintf(stale, sizeof stale, "%s/.neurofit" NF_STAGE_TAG "999999999", dir);
    mkdir(stale, 0777);
    put(stale, "a.npy", "big and unfinished");
    nf_out_lock *lk;
    cr_assert_eq(nf_out_lock_acquire(dir, &lk), NF_OK, "%s", nf_errmsg());
    cr_assert(strstr(nf_out_lock_notes(lk), "removed .neurofit" NF_STAGE_TAG "999999999"), "%s",
              nf_out_lock_notes(lk));
    cr_assert(strstr(nf_out_lock_notes(lk), "process 999999999"), "%s", nf_out_lock_notes(lk));
    nf_out_lock_release(lk);
    cr_assert_str_eq(listing(dir), "results.json");
    cr_assert_str_eq(get(dir, "results.json"), "old");

    /* the first layout's stages beside the directory: a dead process's goes, a live one's stays */
    char old_dead[600], old_live[600];
    snprintf(old_dead, sizeof old_dead, "%s/.out" NF_STAGE_TAG "999999999", root);
    snprintf(old_live, sizeof old_live, "%s/.out" NF_STAGE_TAG "%ld", root, (long)getppid());
    mkdir(old_dead, 0777);
    mkdir(old_live, 0777);
    put(old_dead, "x.npy", "multi-GB");
    cr_assert_eq(nf_out_lock_acquire(dir, &lk), NF_OK, "%s", nf_errmsg());
    cr_assert(strstr(nf_out_lock_notes(lk), old_dead), "%s", nf_out_lock_notes(lk));
    nf_out_lock_release(lk);
    cr_assert_neq(access(old_dead, F_OK), 0, "a dead process's stage beside the directory is removed");
    cr_assert_eq(access(old_live, F_OK), 0, "a running process's is not");
    rmdir(old_live);
}

/* ---- faults at every operation ---------------------------------------------- */

/* dir's names and contents, recursively, sorted (static buffer): two sets
 * compare equal exactly when they are byte-identical. */
static void snap_into(char *buf, size_t cap, const char *dir, const char *prefix, int visible)
{
    struct dirent **e;
    int n = scandir(dir, &e, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *nm = e[i]->d_name;
        if (strcmp(nm, ".") && strcmp(nm, "..") && !(visible && nm[0] == '.')) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, nm);
            struct stat sb;
            lstat(p, &sb);
            size_t len = strlen(buf);
            if (S_ISDIR(sb.st_mode)) {
                char pre[512];
                snprintf(pre, sizeof pre, "%s%s/", prefix, nm);
                snprintf(buf + len, cap - len, "%s%s/;", prefix, nm);
                snap_into(buf, cap, p, pre, 0);
            } else
                snprintf(buf + len, cap - len, "%s%s=%s;", prefix, nm, get(dir, nm));
        }
        free(e[i]);
    }
    free(e);
}

static const char *snap(const char *dir, char *buf, size_t cap)
{
    buf[0] = 0;
    snap_into(buf, cap, dir, "", 0);
    return buf;
}

/* The same without the hidden names at the top (a stage, the lock file). */
static const char *snap_visible(const char *dir, char *buf, size_t cap)
{
    buf[0] = 0;
    snap_into(buf, cap, dir, "", 1);
    return buf;
}

/* The earlier set: a, b, a checkpoint directory, the marker, and a file of the user's. */
static void earlier_set(const char *dir)
{
    nf_remove_tree(dir);
    mkdir(dir, 0777);
    put(dir, "a.npy", "old a");
    put(dir, "b.npy", "old b");
    put(dir, "results.json", "old marker");
    put(dir, "notes.txt", "the user's");
    char ck[600];
    snprintf(ck, sizeof ck, "%s/checkpoint", dir);
    mkdir(ck, 0777);
    put(ck, "state.json", "old state");
}

/* A new set without b.npy (so the earlier b is stale), with the marker. */
static nf_status new_set(const char *dir)
{
    nf_stage *st;
    nf_status s = nf_stage_open(dir, &st);
    char p[1024];
    for (int k = 0; !s && k < 2; k++) {
        nf_commit_file f;
        snprintf(p, sizeof p, "%s/%s", nf_stage_path(st), k ? "results.json" : "a.npy");
        if (!(s = nf_file_commit_open(&f, p))) {
            fputs(k ? "new marker" : "new a", f.fp);
            s = nf_file_commit_close(&f, 1);
        }
    }
    if (!s)
        s = nf_stage_commit(st, set, 4);
    nf_stage_destroy(st);
    return s;
}

Test(stage, a_failure_at_any_operation_leaves_the_earlier_set_byte_identical)
{
    char dir[512], before[4096], after[4096], want_new[4096];
    snprintf(dir, sizeof dir, "%s/out", root);
    earlier_set(dir);
    snap(dir, before, sizeof before);
    /* how many operations a commit has, and what it leaves */
    cr_assert_eq(new_set(dir), NF_OK, "%s", nf_errmsg());
    snap(dir, want_new, sizeof want_new);
    cr_assert_str_eq(want_new, "a.npy=new a;notes.txt=the user's;results.json=new marker;");
    int n_ops = 0;
    for (long k = 1;; k++) {
        earlier_set(dir);
        nf__fault_arm(k, ENOSPC, 0);
        nf_status s = new_set(dir);
        long counted = nf__fault_count();
        nf__fault_arm(0, 0, 0);
        if (s == NF_OK) {
            cr_assert(counted < k, "operation %ld failed but the commit said ok", k);
            cr_assert_str_eq(snap(dir, after, sizeof after), want_new);
            break;
        }
        n_ops++;
        cr_assert_str_eq(snap(dir, after, sizeof after), before, "failure at operation %ld (%s): not the earlier set",
                         k, nf_errmsg());
        cr_assert(k < 100, "the commit never succeeds");
    }
    cr_assert_geq(n_ops, 8, "open/finish of 2 files, stage, .old, journal, renames: %d", n_ops);
}

Test(stage, a_writer_killed_at_any_operation_leaves_a_whole_set_and_the_next_finishes_it)
{
    char dir[512], before[4096], after[4096], want_new[4096];
    snprintf(dir, sizeof dir, "%s/out", root);
    earlier_set(dir);
    snap(dir, before, sizeof before);
    cr_assert_eq(new_set(dir), NF_OK, "%s", nf_errmsg());
    snap(dir, want_new, sizeof want_new);
    int finished = 0, kept = 0;
    for (long k = 1;; k++) {
        earlier_set(dir);
        pid_t child = fork();
        if (child == 0) {
            nf__fault_arm(k, 0, 1);
            _exit(new_set(dir) == NF_OK ? 0 : 1);
        }
        int wst;
        cr_assert_eq(waitpid(child, &wst, 0), child);
        cr_assert(WIFEXITED(wst));
        if (WEXITSTATUS(wst) == 0) {
            cr_assert_str_eq(snap(dir, after, sizeof after), want_new);
            break;
        }
        cr_assert_eq(WEXITSTATUS(wst), NF__FAULT_EXIT);
        /* as the dead writer left it: a marker only on a whole set */
        snap_visible(dir, after, sizeof after);
        if (strstr(after, "results.json=new marker"))
            cr_assert(strstr(after, "a.npy=new a") && !strstr(after, "b.npy"), "a new marker on a mix: %s", after);
        if (strstr(after, "results.json=old marker"))
            cr_assert(strstr(after, "a.npy=old a") && strstr(after, "b.npy=old b"), "an old marker on a mix: %s",
                      after);
        /* the next writer's lock finishes or removes what it left */
        nf_out_lock *lk;
        cr_assert_eq(nf_out_lock_acquire(dir, &lk), NF_OK, "%s", nf_errmsg());
        char notes[2048];
        snprintf(notes, sizeof notes, "%s", nf_out_lock_notes(lk));
        nf_out_lock_release(lk);
        snap(dir, after, sizeof after);
        if (!strcmp(after, want_new)) {
            finished++;
            cr_assert(strstr(notes, "finished the commit"), "killed at %ld: %s", k, notes);
        } else {
            kept++;
            cr_assert_str_eq(after, before, "killed at operation %ld, then locked: neither set", k);
        }
        cr_assert(k < 100, "the commit never succeeds");
    }
    cr_assert_geq(kept, 5, "deaths before the journal keep the earlier set");
    cr_assert_geq(finished, 3, "deaths after it are finished by the next writer");
}

Test(stage, a_crafted_journal_never_reaches_outside)
{
    char dir[512], stage[600], victim[512];
    snprintf(dir, sizeof dir, "%s/out", root);
    snprintf(victim, sizeof victim, "%s/victim", root);
    mkdir(dir, 0777);
    mkdir(victim, 0777);
    put(victim, "precious", "keep");
    snprintf(stage, sizeof stage, "%s/.neurofit" NF_STAGE_TAG "999999998", dir);
    mkdir(stage, 0777);
    put(stage, ".commit", "neurofit-commit 1\nset ../victim\nnew ../victim\n");
    nf_out_lock *lk;
    cr_assert_eq(nf_out_lock_acquire(dir, &lk), NF_OK, "%s", nf_errmsg());
    nf_out_lock_release(lk);
    cr_assert_str_eq(get(victim, "precious"), "keep");
    cr_assert_str_eq(listing(dir), "", "the stage went as an unfinished one");
}

/* ---- messages ---------------------------------------------------------------- */

/* Whatever input a message quotes, it reaches a terminal printable: nf__fail
 * writes every control byte but newline and tab as \xNN (an escape sequence
 * from a file's header stays text), keeps other bytes (UTF-8 names), and may
 * quote the message before it; nf_excerpt shows at most 24 bytes. */
Test(messages, a_message_never_carries_a_control_byte)
{
    cr_assert_eq(nf__fail(NF_EINVAL, "f.csv: column '%s' (%s)", "V\x1b[2J\x07", "caf\xc3\xa9"), NF_EINVAL);
    cr_assert_str_eq(nf_errmsg(), "f.csv: column 'V\\x1b[2J\\x07' (caf\xc3\xa9)");
    nf__fail(NF_EIO, "%s; and\tthen\n%s", nf_errmsg(), "\x7f");
    cr_assert_str_eq(nf_errmsg(), "f.csv: column 'V\\x1b[2J\\x07' (caf\xc3\xa9); and\tthen\n\\x7f");
    char long_in[3000], q[128];
    memset(long_in, '\x01', sizeof long_in - 1);
    long_in[sizeof long_in - 1] = 0;
    nf__fail(NF_EINVAL, "%s", long_in);
    cr_assert_lt(strlen(nf_errmsg()), 1024, "a message stays within its buffer");
    cr_assert_eq(strncmp(nf_errmsg(), "\\x01\\x01", 8), 0, "%s", nf_errmsg());
    cr_assert_str_eq(nf_excerpt(q, sizeof q, "abc\0def", 7), "abc\\x00def");
    cr_assert_str_eq(nf_excerpt(q, sizeof q, "0123456789abcdefghijklmnopqrstuvwxyz", (size_t)-1),
                     "0123456789abcdefghijklmn...");
}

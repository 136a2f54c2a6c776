/* Reading the recordings of `neurofit fit` and `neurofit predict` (fit_load.c):
 * the selected sweeps of files, of a manifest's cells or the embedded
 * example, as fit targets that own their samples, grouped into cells and
 * marked fitted or held out. Every function prints its error (naming the
 * file and sweep) and returns an exit code, 0 on success. */
#ifndef NEUROFIT_CLI_FIT_LOAD_H
#define NEUROFIT_CLI_FIT_LOAD_H

#include "neurofit/fit.h"
#include "neurofit/recording.h"

#include <stdint.h>

/* The sweeps read (targets, each owning its samples and name) and their groups. */
typedef struct nf_cli_loaded {
    const char *cmd;    /* the command, for messages */
    nf_fit_target *t;   /* [n] */
    int n;
    float **bufs;       /* [2n] owned v and i */
    char **names;       /* [n] owned */
    char **why;         /* [n] owned: how each sweep's stimulus window was chosen (or NULL) */
    int *file_sweep;    /* [n] each sweep's index in its file */
    char **g_name;      /* [n_groups] the groups (cells), by name */
    int n_groups;
    int *group;         /* [n] each sweep's group */
    uint8_t *test;      /* [n] 1: held out */
} nf_cli_loaded;

/* How the sweeps of a file are read and grouped. */
typedef struct nf_cli_load_opts {
    const nf_recording_options *ro; /* ro->current_path: the current of every file (IBW: its wave; else a
                                       waveform file, .npy [T] or [sweeps][T] or a text column) */
    const char *sweeps;      /* "all" or a list */
    int by_sweep;            /* 1: one group per sweep (--group sweep), 0: per file */
    const char *holdout;     /* sweep numbers, a fraction in (0, 1), or NULL */
    double t0, t1;           /* --time window, ms (t1 <= t0: whole sweeps) */
    int find_window, quiet;  /* stimulus windows from the protocol (stated on stderr unless quiet) */
} nf_cli_load_opts;

void nf_cli_loaded_free(nf_cli_loaded *L);
/* The sweeps of path, in group `cell` (NULL: by file or sweep), every one
 * held out when test_all; current: this file's current file (NULL: lo's). */
int nf_cli_load_file(nf_cli_loaded *L, const char *path, const nf_cli_load_opts *lo, const char *cell, int test_all,
                     const char *current);
int nf_cli_load_example(nf_cli_loaded *L);
/* A manifest: a header line naming cell, file, sweeps, role (train|test) and
 * current columns (cell and file required), one row per file of a cell. */
int nf_cli_load_cells(nf_cli_loaded *L, const char *path, const nf_cli_load_opts *lo);
/* The groups of L for nf_fit_groups (*idx and *test hold their arrays; all
 * three the caller's to free). */
int nf_cli_make_groups(const nf_cli_loaded *L, nf_fit_group **groups, int **idx, uint8_t **test);

#endif

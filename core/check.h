/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Verifying a repository: structure always, every byte with read_data. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "repo.h"

typedef enum CnCheckKind {
        CN_CHECK_DAMAGED_OBJECT,        /* index, ledger, damage record, snapshot file failed to open; object */
        CN_CHECK_MISSING_PACK,          /* the index names a pack that is not there; object */
        CN_CHECK_DAMAGED_PACK,          /* preamble or header of a pack failed; object */
        CN_CHECK_BAD_BLOB,              /* a blob failed authentication or its id; object = blob id */
        CN_CHECK_MISSING_KEY,           /* a blob has no data key in the ledger; object = blob id */
        CN_CHECK_MISSING_BLOB,          /* a snapshot needs a blob the index lacks; object = blob id */
        CN_CHECK_AFFECTED,              /* snapshot + path lose data to a problem above */
        CN_CHECK_ORPHAN_PACK,           /* a pack without index (interrupted writer): a note, not an error */
        CN_CHECK_RECORDED_BLOB,         /* a blob a damage record names, with no other copy; object = blob id */
        CN_CHECK_NOT_RECORDED,          /* the damage found could not be recorded; object = damage/<ctrl>/ */
        CN_CHECK_REPO_OBJECT,           /* a key file or controller record every open skips; repo_problem */
        CN_CHECK_KEYLESS_PACK,          /* version 2: a pack no ledger holds the keys of; object */
        CN_CHECK_BROKEN_AUDIT,          /* an audit log broken at entry object (its name), why in detail */
} CnCheckKind;

typedef struct CnCheckProblem {
        CnCheckKind kind;
        const char *controller;         /* name */
        const char *object;             /* backend name or hex id */
        const char *snapshot;           /* hex id, CN_CHECK_AFFECTED */
        const char *path;               /* CN_CHECK_AFFECTED */
        int error;                      /* negative errno, when there is one */
        const CnRepoProblem *repo_problem;      /* CN_CHECK_REPO_OBJECT: which and why */
        const char *detail;             /* CN_CHECK_BROKEN_AUDIT: a phrase saying why */
} CnCheckProblem;

typedef void (*CnCheckFn)(const CnCheckProblem *p, void *userdata);

typedef struct CnCheckStats {
        uint64_t controllers, snapshots, packs, blobs, trees;
        uint64_t audit_logs, audit_entries;
        uint64_t packs_read, bytes_read;
        uint64_t errors;                /* problems other than notes */
        uint64_t blobs_bad;             /* copies unreadable: damaged, recorded so, or without a key */
} CnCheckStats;

/* Returns < 0 only when the check itself could not run (repository
 * unreachable); problems found go to fn and are counted in ret->errors.
 * Copies of chunks found unreadable are recorded in the repository (a
 * damage record per controller, docs/FORMAT.md), so that the next backup
 * stores those chunks again; a failure to record is a problem, not fatal. */
int cn_check_run(CnRepo *repo, bool read_data, CnCheckFn fn, void *userdata, CnCheckStats *ret);

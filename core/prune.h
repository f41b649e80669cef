/* SPDX-License-Identifier: GPL-3.0-or-later */
/* prune: delete what no snapshot needs, safely while backups write
 * (docs/FORMAT.md "Deleting without a lock").
 *
 * Per controller: mark every blob reachable from its snapshots; plan the
 * copies nothing reaches (a plan object that every writer starting later
 * honours); delete the planned copies once no running writer can have
 * missed the plan and still nothing reaches them; delete duplicate copies;
 * delete packs left with nothing needed, and repack (copy out what is
 * needed, then delete) packs whose unneeded share is over the limit. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "repo.h"
#include "store.h"

typedef enum CnPruneProblemKind {
        CN_PRUNE_DAMAGED_OBJECT,        /* an object that does not open: read around; a pack holding a
                                         * blob to move that does not open: nothing of the controller
                                         * is deleted */
        CN_PRUNE_SNAPSHOT_DAMAGED,      /* a snapshot that does not open: the controller is not pruned */
        CN_PRUNE_TREE_UNREADABLE,       /* a tree a snapshot needs cannot be read: not pruned */
        CN_PRUNE_BUSY,                  /* another prune of the controller runs: not pruned */
} CnPruneProblemKind;

typedef struct CnPruneProblem {
        CnPruneProblemKind kind;
        const char *controller;         /* name */
        const char *object;             /* backend name, or blob id hex; host of the other prune */
        const char *snapshot;           /* TREE_UNREADABLE: the snapshot that needs it */
        int error;                      /* negative errno */
} CnPruneProblem;

typedef void (*CnPruneProblemFn)(const CnPruneProblem *p, void *userdata);

typedef struct CnPruneOptions {
        bool dry_run;                   /* compute and report; write and delete nothing */
        /* How many bytes that nothing needs may stay in packs that also
         * hold needed blobs (restic's --max-unused): with percent, that
         * share of all bytes (max_unused 0 to 99); else max_unused bytes.
         * More is repacked, the packs with most unneeded bytes first. */
        bool percent;
        uint64_t max_unused;
        CnPruneProblemFn on_problem;    /* may be NULL */
        void *userdata;
} CnPruneOptions;

/* restic's default, which measures well here too (docs/cli/prune.md). */
#define CN_PRUNE_DEFAULT_MAX_UNUSED_PERCENT 5

typedef struct CnPruneStats {
        uint64_t controllers, controllers_skipped;
        uint64_t snapshots, packs, blobs, bytes;        /* what there was: locations, stored bytes */
        uint64_t blobs_used, bytes_used;                /* needed copies */
        uint64_t blobs_unreachable, bytes_unreachable;  /* copies no snapshot needs */
        uint64_t blobs_duplicate, bytes_duplicate;      /* second copies of needed blobs */
        uint64_t blobs_planned, plans_written;          /* newly planned for deletion */
        uint64_t plans_waiting;                         /* plans a running writer may not have seen */
        uint64_t writers_waited;                        /* running writers that hold them back */
        uint64_t blobs_deleted, bytes_deleted;
        uint64_t packs_deleted, packs_repacked, packs_written;
        uint64_t blobs_repacked, bytes_repacked;
        uint64_t bytes_unused_left;                     /* unneeded bytes still stored */
        uint64_t plans_removed, sessions_removed, ledgers_removed;
        uint64_t memory;                                /* peak bytes of the tables per controller */
} CnPruneStats;

int cn_prune_run(CnRepo *repo, const CnPruneOptions *o, CnPruneStats *ret);
/* Prune the controller of store, an open store (CN_STORE_KEYS |
 * CN_STORE_PRUNE | CN_STORE_ALL_LOCATIONS, and CN_STORE_WRITE unless
 * o->dry_run) whose owner made sure it runs alone (an erasure, whose
 * session is the store's): the store stays open. Returns as
 * cn_prune_run() for that controller. */
int cn_prune_store(CnRepo *repo, CnStore *store, const CnPruneOptions *o, CnPruneStats *ret);

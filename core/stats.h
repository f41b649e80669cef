/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What one controller's data costs in a repository (docs/cli/stats.md):
 * snapshots, files and bytes as backed up, after deduplication and in
 * storage, the metadata per chunk, and what erasures and holds keep. One
 * pass over the snapshots' trees: a directory tree many snapshots share is
 * read once (a seen-set of tree ids), each chunk counted once. */
#pragma once

#include <stdint.h>

#include "repo.h"
#include "store.h"

typedef struct CnStats {
        uint64_t snapshots;
        uint64_t files;          /* file entries of every snapshot, added up (what restores of all give) */
        uint64_t files_distinct; /* file entries of the distinct directory trees: one no snapshot changed counts once */
        uint64_t directories;    /* distinct directory trees */
        uint64_t logical_bytes;  /* sizes of those files, added up over the snapshots */
        uint64_t chunks;         /* distinct data chunks the snapshots name */
        uint64_t unique_bytes;   /* their plaintext: the logical bytes after deduplication */
        uint64_t unique_stored_bytes;    /* what they take in packs: compressed and sealed */
        uint64_t missing_chunks;         /* named but in no readable pack (check says more) */
        uint64_t packs;                  /* data/<ctrl>/ objects */
        uint64_t stored_bytes;           /* their sizes: what the controller's packs take on storage */
        uint64_t blobs;                  /* distinct blobs in those packs (data chunks and trees) */
        uint64_t index_bytes;            /* index/<ctrl>/ objects */
        uint64_t ledger_bytes;           /* ledger/<ctrl>/ objects */
        uint64_t pack_overhead_bytes;    /* pack bytes outside any blob: preamble, header, trailer */
        uint64_t pending_erasures;       /* erasure requests that remain (erasures/<ctrl>/) */
        uint64_t pending_erasure_bytes;  /* the file bytes they still reach in snapshots no hold keeps */
        uint64_t deferred_erasure_bytes; /* ... in snapshots an active hold keeps: deferred by the hold */
        uint64_t held_snapshots;         /* snapshots an active hold keeps */
        uint64_t held_bytes;             /* their logical bytes */
} CnStats;

/* The stats of controller c. Objects that do not open (a snapshot, an
 * index or ledger file, a hold) go to damaged (may be NULL: the run fails
 * with their error then) and are read around, as readers do; a tree that
 * cannot be read fails it (-ENOENT, -EBADMSG: 'cairn check' says more). */
int cn_stats_run(CnRepo *repo, CnController *c, CnStoreDamagedFn damaged, void *userdata, CnStats *ret);

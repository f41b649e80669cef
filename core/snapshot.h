/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Snapshots: the root of one backup (docs/FORMAT.md "Snapshots").
 * Stored as snapshots/<controller>/<id>. Version 3 (version 2 controllers):
 * sealed under the epoch metadata key, the id a keyed hash of the body;
 * version 2 (version 1 controllers): under the metadata key, the id the
 * SHA-256 of the stored object (version 1 ids were random). Written last: a
 * snapshot names only blobs already stored. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "node.h"
#include "repo.h"
#include "store.h"

typedef struct CnSnapshotError {
        char *path;
        int error;              /* positive errno */
} CnSnapshotError;

typedef struct CnSnapshot {
        uint8_t id[CN_ID_BYTES];
        char id_hex[CN_ID_HEX + 1];
        CnController *controller;       /* borrowed from the repo */
        CnTime time;
        char *hostname, *username;
        char **paths;
        size_t n_paths;
        char **tags;
        size_t n_tags;
        uint8_t tree[CN_ID_BYTES];
        bool has_parent;
        uint8_t parent[CN_ID_BYTES];
        uint32_t flags;                 /* CN_SNAPSHOT_* */
        uint64_t files, dirs, others;
        uint64_t bytes;                 /* sum of file sizes */
        uint64_t blobs_new, stored_bytes_new;
        uint64_t duration_ns;
        CnSnapshotError *errors;
        size_t n_errors;
} CnSnapshot;

void cn_snapshot_done(CnSnapshot *s);
void cn_snapshots_free(CnSnapshot *s, size_t n);

/* Store s at the version of its controller; sets its id. */
int cn_snapshot_save(CnRepo *repo, CnSnapshot *s);
/* Seal snapshot s (version 3) again under the epoch metadata key of epoch,
 * under its own name: its body, and so its id, are unchanged (an erasure's
 * epoch change). Nothing to do when it is sealed at epoch already. */
int cn_snapshot_reseal(CnRepo *repo, const CnSnapshot *s, uint32_t epoch);
/* Delete the object of snapshot s (snapshots/<ctrl>/<id>) and nothing
 * else: the trees and chunks it names stay (prune collects them). -ENOENT
 * if it is gone already. */
int cn_snapshot_remove(CnRepo *repo, const CnSnapshot *s);
/* Every snapshot of controller c (NULL: of all controllers), oldest first.
 * An object under snapshots/ that is not a snapshot that opens (damaged,
 * truncated, oversized, in another controller's folder or none's, a version
 * 2 snapshot under another name than its SHA-256) is passed to damaged
 * (-EBADMSG, -E2BIG, -ENOKEY for a folder of no controller, ...) and
 * skipped; without damaged, listing fails with its error. */
int cn_snapshot_list(CnRepo *repo, CnController *c, CnStoreDamagedFn damaged, void *userdata, CnSnapshot **ret,
                     size_t *ret_n);
/* The stored bytes of snapshot s (of repo, as listed) into ret (replaced),
 * read again and checked as a listing checks them (it opens, names its
 * controller, is named by its SHA-256 when of version 2) and still the
 * snapshot listed (time and tree): to copy it as it is to a replica.
 * -ENOENT removed since; -EBADMSG damaged or another object now. */
int cn_snapshot_read_object(CnRepo *repo, const CnSnapshot *s, CnBuf *ret);
/* "latest" (the last of list) or a prefix of a snapshot's id: 1 to CN_ID_HEX
 * hex digits, either case. Returns how many snapshots of list match (0: none,
 * more than 1: ambiguous) and sets *ret only when exactly one does; -EINVAL
 * when what is neither "latest" nor hex digits. */
int cn_snapshot_find(CnSnapshot *list, size_t n, const char *what, CnSnapshot **ret);

/* A group of tags (restic's --tag a,b): a snapshot has it when it has every
 * tag of it; the empty tag "" stands for "no tags at all". */
typedef struct CnTagList {
        char **tags;
        size_t n_tags;
} CnTagList;

/* Split "a, b,c" at commas into l (each tag trimmed of spaces and tabs;
 * "" gives one empty tag). Free with cn_tag_list_done. */
int cn_tag_list_parse(const char *s, CnTagList *ret);
void cn_tag_list_done(CnTagList *l);
bool cn_snapshot_has_tags(const CnSnapshot *s, const CnTagList *l);

/* Which snapshots a verb considers (restic's --host, --tag, --path). A
 * snapshot matches when it has one of hosts (any, if none given), every
 * tag of one of tag_lists (any, if none given), and every one of paths
 * among its own (restic: a superset; paths as cn_path_clean() writes
 * them). All arrays owned; free with cn_snapshot_filter_done. */
typedef struct CnSnapshotFilter {
        char **hosts;
        size_t n_hosts;
        CnTagList *tag_lists;
        size_t n_tag_lists;
        char **paths;
        size_t n_paths;
} CnSnapshotFilter;

bool cn_snapshot_filter_empty(const CnSnapshotFilter *f);
bool cn_snapshot_matches(const CnSnapshot *s, const CnSnapshotFilter *f);
/* Add one --host, one --tag (split as cn_tag_list_parse), one --path (taken
 * as given: the caller cleans it). */
int cn_snapshot_filter_add_host(CnSnapshotFilter *f, const char *host);
int cn_snapshot_filter_add_tags(CnSnapshotFilter *f, const char *tags);
int cn_snapshot_filter_add_path(CnSnapshotFilter *f, const char *path);
void cn_snapshot_filter_done(CnSnapshotFilter *f);
/* Move the snapshots of list that f matches to its front, in order, and
 * return how many; the others follow (cn_snapshots_free(list, n) still
 * frees them all). */
size_t cn_snapshot_filter_list(CnSnapshot *list, size_t n, const CnSnapshotFilter *f);
/* The newest snapshot of list (oldest first) of controller c (any, if
 * NULL) that f matches (any, if NULL), or NULL. */
CnSnapshot *cn_snapshot_latest(CnSnapshot *list, size_t n, const CnController *c, const CnSnapshotFilter *f);

int cn_snapshot_encode(const CnSnapshot *s, CnBuf *out);
int cn_snapshot_decode(const uint8_t *p, size_t n, CnSnapshot *s);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Copying snapshots to a replica (docs/FORMAT.md "Replicas").
 *
 * A replica shares its source's processor and controllers, so every sealed
 * blob, pack entry, ledger key and metadata object means the same in both:
 * copy moves them as they are, never decrypting to re-encrypt. For each
 * snapshot the destination lacks (by name), it walks the snapshot's trees
 * in the source, collects every blob the destination's index lacks, reads
 * them a source pack at a time (ranged reads of the parts needed), checks
 * each one's seal, and appends it with its data key to the destination's
 * packs and ledger. Once those packs are durable it puts the snapshot
 * object, byte for byte. A copy killed at any point leaves only durable
 * packs and whole objects behind: the next one sends what is still
 * missing. */
#pragma once

#include <stdint.h>

#include "location.h"
#include "repo.h"
#include "snapshot.h"
#include "store.h"

typedef struct CnCopyStats {
        uint64_t snapshots_copied, snapshots_skipped; /* skipped: the destination has it already */
        uint64_t blobs_sent, bytes_sent;              /* sealed blobs sent and their stored bytes */
        uint64_t packs_written;                       /* at the destination */
        uint64_t trees_read;                          /* tree blobs read in the source */
        uint64_t reads, bytes_read;                   /* ranged reads of source packs */
        uint64_t holds_copied;
        uint64_t grants_copied;                       /* grants and revocations of locations */
        uint64_t retention_copied;                    /* retention policies */
        uint64_t requests_copied;                     /* requests and their closings */
        uint64_t controllers_added; /* controllers the destination lacked */
} CnCopyStats;

/* A snapshot copied (copied true) or found at the destination already. */
typedef void (*CnCopySnapshotFn)(const CnSnapshot *s, bool copied, void *userdata);

typedef struct CnCopyOptions {
        CnController *controller;     /* of src: copy only its holds and snapshots; NULL: every controller */
        CnCopySnapshotFn on_snapshot; /* may be NULL */
        CnStoreDamagedFn damaged;     /* damaged objects of either repository, read around; may be NULL */
        void *userdata;
} CnCopyOptions;

/* What a failed copy was at: the source controller (and the object, a
 * backend name or a blob id in hex, when one object failed). */
typedef struct CnCopyFailure {
        const CnController *controller;
        char object[160];
        CnLocationRefusal refusal;      /* -EPERM: why the location gate refused */
} CnCopyFailure;

/* Copy snapshots snaps (n of them, each of a controller of src in scope;
 * oldest first is best), the holds and releases, and the location grants
 * and revocations of every controller in scope from src to its replica
 * dst. First, before anything is written, every controller in scope is
 * checked: -EXDEV dst is not a replica of src (another processor, or a
 * controller of the same id with other keys); -EKEYEXPIRED a controller is
 * at another key epoch in dst; -EPERM the location gate refuses it (its
 * grants in src against the locations dst records: fail->refusal says
 * why), checked again before each batch of snapshots is put. A controller in
 * scope that dst lacks is then added to it (cn_repo_controller_import()).
 * Errors of either repository fail the copy (fail says where, may be
 * NULL): -ENOENT a blob a snapshot names is not in src, -EBADMSG a source
 * blob or object fails authentication, -ESTALE a prune in dst took this
 * copy for a dead writer (cn_store_session_check()), so no snapshot was
 * put after that. Stats count what was done, also on
 * failure. */
int cn_copy_run(CnRepo *src, CnRepo *dst, CnSnapshot *snaps, size_t n, const CnCopyOptions *o, CnCopyStats *ret,
                CnCopyFailure *fail);

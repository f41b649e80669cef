/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erasure (docs/FORMAT.md "Erasure"): a snapshot, a path pattern, a data
 * subject or a whole controller, so that nothing of it opens from the
 * repository afterwards, nor from any older copy of its objects, with every
 * key the key store still holds. Runs alone (a session of kind 3), rewrites
 * the snapshots the request reaches, collects with no unused bytes left,
 * moves the controller to a new key epoch and destroys the old epoch key at
 * every key store location; a part a hold keeps is deferred. A run stopped
 * at any point resumes with the same request. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "certificate.h"
#include "node.h"
#include "repo.h"
#include "snapshot.h"
#include "store.h"

typedef enum CnEraseScope {
        CN_ERASE_SNAPSHOT = 1,
        CN_ERASE_CONTROLLER = 2,
        CN_ERASE_PATH = 3,
        CN_ERASE_SUBJECT = 4,
} CnEraseScope;

/* The request body (FORMAT.md "Erasure"): strings borrowed. */
typedef struct CnEraseRequest {
        CnEraseScope scope;
        const char *value;              /* snapshot id (hex), controller id (hex), pattern, subject */
        const char *reason;             /* "" or NULL: none */
        const char *reference;
        const char *requester;          /* user@host */
        int64_t created;
} CnEraseRequest;

int cn_erase_request_encode(const CnEraseRequest *q, CnBuf *out);
/* Strings point into p. -EBADMSG for a body breaking a rule. */
int cn_erase_request_decode(const uint8_t *p, size_t n, CnEraseRequest *ret);

/* A chunk kept because something outside the request needs it. */
typedef struct CnEraseKeeper {
        uint8_t snapshot[CN_ID_BYTES];
        char *path;                     /* malloc'd */
        bool held;                      /* the snapshot is kept by a hold */
} CnEraseKeeper;

typedef struct CnEraseDeferred {
        uint8_t hold[CN_ID_BYTES];
        uint8_t (*snapshots)[CN_ID_BYTES];
        size_t n_snapshots;
        uint64_t entries;
} CnEraseDeferred;

/* What an erasure found and did; cn_erase_result_done() frees it. */
typedef struct CnEraseResult {
        CnCertificateCounts counts;     /* entries, bytes, snapshots, chunks, keys, packs */
        uint64_t chunks_reached, chunks_kept, bytes_kept;
        CnEraseKeeper *kept_by;         /* at most CN_ERASE_MAX_KEEPERS */
        size_t n_kept_by;
        CnEraseDeferred *deferred;      /* one per hold that keeps part of it */
        size_t n_deferred;
        uint8_t (*snapshots_touched)[CN_ID_BYTES];
        size_t n_snapshots_touched;
        uint32_t epoch_from, epoch_to;  /* epoch_to 0: no epoch change (dry run, or nothing to do) */
        size_t locations_failed;        /* key store locations that did not take the new key store */
        char **locations;               /* every key store location, for the certificate */
        int *location_results;          /* 0 or a negative errno, per location */
        size_t n_locations;
        char **replicas;                /* replicas the erasure was carried to (options.replicas) */
        int *replica_results;           /* 0, or a negative errno: not reached, or failed there */
        size_t n_replicas;
        bool controller_destroyed;
        bool cryptographically_complete;
        int64_t started, completed, complete_at;
        char certificate[CN_ID_HEX + 1]; /* "" when none was issued */
} CnEraseResult;

#define CN_ERASE_MAX_KEEPERS 100

void cn_erase_result_done(CnEraseResult *r);
/* Note the outcome at replica url (options.replicas). */
int cn_erase_result_add_replica(CnEraseResult *r, const char *url, int result);

typedef struct CnEraseOptions {
        bool dry_run;                   /* find and report the scope; write nothing */
        const char *request_name;       /* carry out this stored request (erasures/<ctrl>/<id>)
                                         * instead of putting a new one: cn_erase_pending() */
        /* A replica following its source (FORMAT.md "Erasure", replicas):
         * move to this epoch and key (the source's, after its erasure)
         * instead of a new random one; issue no certificate (the source's
         * names the replica). next_key NULL: a new epoch key of its own. */
        uint32_t next_epoch;
        const uint8_t *next_key;
        /* Called after the epoch change (or the controller's end), before
         * the certificate: the erasure at each replica, by cn_erase() there
         * with next_epoch and next_key the ones given (key NULL: the
         * controller is gone), each outcome noted with
         * cn_erase_result_add_replica(). */
        int (*replicas)(const CnEraseRequest *q, const uint8_t controller[CN_UUID_BYTES], uint32_t epoch,
                        const uint8_t *key, CnEraseResult *res, void *userdata);
        void *replicas_userdata;
        CnStoreDamagedFn damaged;       /* objects that do not open; may be NULL */
        void *userdata;
} CnEraseOptions;

/* Erase what q reaches of controller c (q->scope 2: c itself). -EBUSY
 * another session of c is live (a backup, prune or erasure runs: retry when
 * it ends); -EOPNOTSUPP c is a version 1 controller; -ENOENT a snapshot
 * scope names no snapshot of c; -EUCLEAN something the collection needs
 * does not open (a snapshot, a tree): nothing of c is deleted beyond what
 * was rewritten, and the request stays to be resumed. A complete erasure
 * issues a certificate (result->certificate). c may be freed (a controller
 * erasure): use only the result afterwards. */
int cn_erase(CnRepo *repo, CnController *c, const CnEraseRequest *q, const CnEraseOptions *o,
             CnEraseResult *ret);

/* Requests of c that remain (erasures/<ctrl>/: deferred by a hold, or of
 * an erasure stopped before its end), oldest first; each is carried out
 * again with cn_erase() (what a hold still keeps stays deferred), and fn
 * told of it. Returns the first error of cn_erase() (after trying all), 0
 * when there was nothing to do or all went. */
typedef void (*CnErasePendingFn)(const CnEraseRequest *q, int result, const CnEraseResult *res, void *userdata);
int cn_erase_pending(CnRepo *repo, CnController *c, const CnEraseOptions *o, CnErasePendingFn fn, void *userdata);

/* What the requests that remain for c (as cn_erase_pending() would carry
 * out) still reach of its n snapshots snaps, read through store (of c):
 * ret_bytes[i] (the caller's array of n) the sum of the sizes of the file
 * entries of snaps[i] any of them reaches, with everything below a reached
 * directory (a snapshot one removes whole: its bytes); *ret_requests how
 * many remain. Only the snapshots a path or subject request may touch are
 * walked, so with none remaining nothing is read. */
int cn_erase_pending_reach(CnRepo *repo, CnStore *store, CnController *c, const CnSnapshot *snaps, size_t n,
                           uint64_t *ret_bytes, size_t *ret_requests);

/* How a request reaches an entry of a snapshot (cn_erase_scope_walk()). */
typedef enum CnEraseReach {
        CN_ERASE_OUT = 0,               /* not reached */
        CN_ERASE_ENTRY,                 /* itself: its path matches the pattern, it has the subject, or the
                                         * request takes its snapshot whole */
        CN_ERASE_BELOW,                 /* under a directory reached, and so reached with it */
} CnEraseReach;
typedef int (*CnEraseScopeFn)(const char *path, size_t len, const CnNode *n, CnEraseReach reach, void *userdata);
/* Walk the entries of snapshot s read through store (cn_walk(): depth
 * first, parents before children; path absolute, len bytes), telling fn of
 * each whether request q reaches it (FORMAT.md "Erasure", what a request
 * reaches): the one walk of a scope, for erasure and export. fn returns
 * as a CnWalkFn (1 skips a directory's children, < 0 stops). Errors of
 * cn_walk() and fn; -ENOMEM. */
int cn_erase_scope_walk(CnStore *store, const CnEraseRequest *q, const CnSnapshot *s, CnEraseScopeFn fn,
                        void *userdata);

/* Whether a request that remains (deferred by a hold) reaches snapshot s,
 * read through store: readers then refuse it unless told to break the
 * glass (docs/cli/erase.md). */
int cn_erase_restricted(CnRepo *repo, CnStore *store, const CnSnapshot *s, bool *ret);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Legal holds (docs/FORMAT.md "Holds"): what must not be deleted, and why.
 *
 *   hold body    = scope:u8 value:bytes32 reason:bytes32 reference:bytes32
 *                  creator:bytes32 created:i64 has_review:u8 review:i64
 *   release body = hold_id[32] reason:bytes32 creator:bytes32 created:i64
 *
 * Both are stored as holds/<ctrl>/<sha256 of the object>, sealed under the
 * controller's metadata key (magic CAIRNHLD and CAIRNHRL), written once and
 * never changed. A hold is active until a release that names it is stored:
 * the review date only flags it for review, it never ends it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "pattern.h"
#include "repo.h"
#include "snapshot.h"
#include "store.h"

typedef enum CnHoldScope {
        CN_HOLD_SNAPSHOT = 1,   /* value: a snapshot id, 64 lower-case hex digits */
        CN_HOLD_CONTROLLER = 2, /* value: the controller's id, 32 lower-case hex digits */
        CN_HOLD_PATH = 3,       /* value: a path pattern (core/pattern.h) */
        CN_HOLD_TAG = 4,        /* value: a snapshot tag */
} CnHoldScope;

#define CN_MAX_HOLD_REASON_BYTES 4096u
#define CN_MAX_HOLD_REFERENCE_BYTES 1024u

typedef struct CnHoldRelease {
        uint8_t hold[CN_ID_BYTES];
        char *reason;
        char *creator;
        int64_t created; /* seconds since the epoch */
} CnHoldRelease;

typedef struct CnHold {
        uint8_t id[CN_ID_BYTES];
        char id_hex[CN_ID_HEX + 1];
        CnController *controller; /* borrowed from the repo */
        CnHoldScope scope;
        char *value;
        char *reason;
        char *reference; /* "" when none */
        char *creator;
        int64_t created;
        bool has_review;
        int64_t review; /* flagged for review from then on */
        /* Filled by cn_holds_load(): the release that ends it (the oldest of
         * them if several), NULL while it is active. */
        CnHoldRelease *release;
        CnPatterns pattern; /* CN_HOLD_PATH: the value compiled */
} CnHold;

typedef struct CnHolds {
        CnHold *v; /* oldest first */
        size_t n;
        CnHoldRelease *releases;
        size_t n_releases;
} CnHolds;

/* "snapshot", "controller", "path", "tag"; "?" for another value. */
const char *cn_hold_scope_name(CnHoldScope s);

void cn_hold_done(CnHold *h);
void cn_hold_release_done(CnHoldRelease *r);
void cn_holds_done(CnHolds *h);

/* Bodies. Encoders refuse (-EINVAL) what decoders refuse: an unknown scope,
 * a value that is not what its scope says, an empty reason, a field over
 * its cap, a NUL inside a string. Decoders: -EBADMSG. */
int cn_hold_encode(const CnHold *h, CnBuf *out);
int cn_hold_decode(const uint8_t *p, size_t n, CnHold *h);
int cn_hold_release_encode(const CnHoldRelease *r, CnBuf *out);
int cn_hold_release_decode(const uint8_t *p, size_t n, CnHoldRelease *r);

/* Store h as a hold of h->controller; sets h->id and h->id_hex. */
int cn_hold_save(CnRepo *repo, CnHold *h);
/* Store a release of h (r->hold is set from h); -EALREADY if h is
 * released already. On success h->release points at a copy of r kept by
 * holds, which must be the set h is in. */
int cn_hold_release(CnRepo *repo, CnHolds *holds, CnHold *h, const CnHoldRelease *r);

/* Every hold and release of controller c (NULL: of every controller). An
 * object under holds/ that does not open (damaged, truncated, not named by
 * its SHA-256, a hold naming another controller) is passed to damaged and
 * skipped, and counted in *ret_damaged: a caller that deletes must then
 * refuse to, since the skipped object may be a hold. damaged NULL: listing
 * fails with the object's error. */
int cn_holds_load(CnRepo *repo, CnController *c, CnStoreDamagedFn damaged, void *userdata, CnHolds *ret,
                  size_t *ret_damaged);
/* The stored bytes of holds/<ctrl>/<id> object name of controller c (a
 * hold or a release) into ret (replaced), checked as cn_holds_load() checks
 * it: to copy it as it is to a replica. -ENOENT gone; -EBADMSG and the
 * others of cn_holds_load() for an object it would skip. */
int cn_hold_read_object(CnRepo *repo, CnController *c, const char *name, CnBuf *ret);
/* The hold whose id starts with prefix (1 to 64 hex digits): returns how
 * many match and sets *ret only when exactly one does; -EINVAL not hex. */
int cn_holds_find(CnHolds *holds, const char *prefix, CnHold **ret);

static inline bool cn_hold_active(const CnHold *h) {
        return !h->release;
}
/* Whether an active hold of s's controller keeps snapshot s: one on s
 * itself, on its controller, on a tag it has, or on a path pattern that may
 * name anything s holds. For a pattern starting with '/', that is when its
 * leading components without a wildcard ('*', '?', '[' or '\\') name one of
 * s's paths, a directory above one or something below one: it errs towards
 * keeping. A pattern that does not start with '/' may name a file anywhere,
 * so it keeps every snapshot. */
bool cn_hold_covers_snapshot(const CnHolds *holds, const CnSnapshot *s);
/* Whether an active hold keeps path (absolute) of snapshot s: a hold that
 * keeps s whole (snapshot, controller, tag), or a path pattern that matches
 * path or a directory above it. */
bool cn_hold_covers_path(const CnHolds *holds, const CnSnapshot *s, const char *path);

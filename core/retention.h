/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Stored retention policies (docs/FORMAT.md "Retention policies"): the
 * rules forget applies to a controller's snapshots when it is given none,
 * and what records and exports report, with computed expiry.
 *
 *   policy body = keep:i64[6] within:duration[6] created:i64 creator:bytes32
 *                 supersedes_count:u32 supersedes:id*
 *   duration    = years:u32 months:u32 days:u32 hours:u32
 *
 * Each is stored as retention/<ctrl>/<sha256 of the object>, sealed under
 * the controller's metadata key (magic CAIRNRET), written once and never
 * changed. A new policy names the ones it supersedes; the effective policy
 * is the newest (created, then id) of those no other supersedes, so two
 * racing 'retention set's both stay visible. An empty policy (no rule)
 * clears: none is in effect then. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "forget.h"
#include "repo.h"
#include "snapshot.h"
#include "store.h"

#define CN_RETENTION_MAX_SUPERSEDES 64

typedef struct CnRetention {
        uint8_t id[CN_ID_BYTES];
        char id_hex[CN_ID_HEX + 1];
        /* The rules (keep and within*); keep_tags and holds are never set
         * (keep[] each 0, CN_FORGET_UNLIMITED or 1 to INT32_MAX; durations
         * each part at most CN_DURATION_MAX; within_bucket[CN_FORGET_LAST]
         * zero). No rule: a clearing. */
        CnForgetPolicy policy;
        int64_t created;                    /* seconds since the epoch */
        char *creator;                      /* user@host, 0 to CN_MAX_LABEL_BYTES */
        uint8_t (*supersedes)[CN_ID_BYTES]; /* strictly increasing */
        size_t n_supersedes;
        bool superseded; /* by cn_retentions_load(): another that opens names it */
} CnRetention;

typedef struct CnRetentions {
        CnRetention *v; /* oldest first (created, then id) */
        size_t n;
        /* The newest of those no other supersedes, NULL when there are none;
         * its policy may be empty (cleared). */
        const CnRetention *effective;
        size_t n_heads; /* how many no other supersedes: > 1 after racing sets */
        /* Objects under retention/<ctrl>/ that do not open, by id; and how
         * many of them no object that opens supersedes (they might be the
         * newest policy). */
        uint8_t (*damaged)[CN_ID_BYTES];
        size_t n_damaged, n_damaged_heads;
} CnRetentions;

void cn_retention_done(CnRetention *p);
void cn_retentions_done(CnRetentions *l);

/* The body. Encode refuses (-EINVAL) what decode refuses (-EBADMSG): a
 * count or duration out of range, a within_bucket[CN_FORGET_LAST], tags or
 * holds in the policy, a creator over its cap or with a NUL, more than
 * CN_RETENTION_MAX_SUPERSEDES ids or ids not strictly increasing. */
int cn_retention_encode(const CnRetention *p, CnBuf *out);
int cn_retention_decode(const uint8_t *p, size_t n, CnRetention *ret);
/* Whether policy p is one a retention object can hold (rules only). */
bool cn_retention_policy_valid(const CnForgetPolicy *p);

/* Every retention object of controller c: those that open into ret->v,
 * the others passed to damaged (may be NULL) and noted in ret->damaged.
 * Errors of the machine or the connection fail it. */
int cn_retentions_load(CnRepo *repo, const CnController *c, CnStoreDamagedFn damaged, void *userdata,
                       CnRetentions *ret);

/* Store policy p (rules only; an empty one clears) as c's retention policy,
 * created at created by creator, superseding what cur (c's, as loaded)
 * holds: every policy no other supersedes and every damaged object (the
 * newest CN_RETENTION_MAX_SUPERSEDES heads, then damaged ones). Once it is
 * stored, the objects of cur that opened and are superseded now are
 * removed; an error removing one is no error of the set. ret
 * (may be NULL) gets the stored policy. -EINVAL p is not valid. */
int cn_retention_set(CnRepo *repo, const CnController *c, const CnRetentions *cur, const CnForgetPolicy *p,
                     const char *creator, int64_t created, CnRetention *ret);

/* The retention policy in effect for c: *ret_set false (and *ret zeroed)
 * when none is (never set, or cleared). Policy objects that do not open
 * are tolerated only when one that opens supersedes them (so they cannot
 * be the newest): else -EBADMSG, since the policy in effect is unknown.
 * ret_created may be NULL. */
int cn_retention_load(CnRepo *repo, const CnController *c, CnForgetPolicy *ret, bool *ret_set, int64_t *ret_created);

/* The rules p sets, as {"keep_daily":7,"keep_last":"unlimited",
 * "keep_within":"30d",...} (retention show, records, export); NULL: no
 * memory. */
json_t *cn_retention_policy_json(const CnForgetPolicy *p);

/* The stored bytes of retention object name of c into ret (replaced),
 * checked as cn_retentions_load() checks it: to copy it as it is to a
 * replica. -ENOENT gone; -EBADMSG and the others of cn_sealed_open(). */
int cn_retention_read_object(CnRepo *repo, CnController *c, const char *name, CnBuf *ret);

/* ---- expiry ---- */

#define CN_RETENTION_MAX_RULES 16
#define CN_RETENTION_RULE_TEXT 256

/* One rule that keeps a snapshot. */
typedef struct CnRetentionRule {
        char text[CN_RETENTION_RULE_TEXT]; /* as forget prints it (cn_forget_reasons()), cut short if longer */
        CnForgetReasonKind kind;
        /* keep-within and keep-within-<bucket> rules: the rule stops keeping
         * the snapshot once a snapshot at least this new is the newest one
         * (not in the future); while no backup that new is made, it keeps
         * it. Other rules (counts, tags, holds) have no date. */
        bool has_expiry;
        CnTime expiry;
} CnRetentionRule;

typedef struct CnRetentionVerdict {
        const CnSnapshot *snapshot; /* borrowed: &list[i] */
        bool keep;                  /* the policy (or a hold) keeps it now */
        bool held;                  /* an active hold of p->holds keeps it, whatever the rules say */
        bool counted;               /* a count rule (--keep-last, --keep-daily...) or a tag keeps it: no date */
        CnRetentionRule rules[CN_RETENTION_MAX_RULES];
        size_t n_rules;
        /* keep, and only keep-within* rules keep it: the latest of their
         * expiries. False when kept by a count, a tag or a hold (no date
         * can be given: it goes when enough newer snapshots exist, or when
         * the hold is released), or not kept. */
        bool has_expiry;
        CnTime expiry;
} CnRetentionVerdict;

/* Apply p (with p->holds, may be NULL) to the n snapshots of list as
 * forget does by default (groups by controller, host and paths) at time
 * now, with forget's engine (cn_forget_apply()): ret[i] (the caller's
 * array of n) is list[i]'s verdict. -EINVAL as cn_forget_apply(). */
int cn_retention_expiry(const CnForgetPolicy *p, const CnSnapshot *list, size_t n, CnTime now, CnRetentionVerdict *ret);
/* When --keep-within d (or a keep-within-<bucket> d) stops keeping a
 * snapshot of time t: the first time T at or after t whose
 * cn_forget_within_limit(T, d) is not before t. */
CnTime cn_retention_within_expiry(CnTime t, const CnDuration *d);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Retention policies (docs/cli/forget.md): which snapshots of a group to
 * keep, with restic's semantics, rule for rule. No I/O: works on a list of
 * snapshots and a time "now", so that tests are deterministic. Calendar
 * buckets (hour, day, ISO week, month, year) are in the process's local
 * time zone (TZ), as restic buckets in the snapshot's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hold.h"
#include "snapshot.h"

/* restic's durations: "1y2m3d4h" (years, months, days, hours; any of them,
 * in any order, each at most once meaningful: a later one overrides). */
typedef struct CnDuration {
        int years, months, days, hours;
} CnDuration;

#define CN_DURATION_MAX 1000000

/* Parse s into ret; -EINVAL if it is not a duration of non-negative
 * numbers (each at most CN_DURATION_MAX) with units y, m, d, h. */
int cn_duration_parse(const char *s, CnDuration *ret);
bool cn_duration_zero(const CnDuration *d);
/* "1y2m" as restic writes it, into buf. */
const char *cn_duration_format(const CnDuration *d, char *buf, size_t size);

/* The counted rules, in the order restic evaluates them. */
typedef enum CnForgetRule {
        CN_FORGET_LAST,
        CN_FORGET_HOURLY,
        CN_FORGET_DAILY,
        CN_FORGET_WEEKLY,
        CN_FORGET_MONTHLY,
        CN_FORGET_YEARLY,
        _CN_FORGET_RULE_MAX,
} CnForgetRule;

/* "last", "hourly", "daily", "weekly", "monthly", "yearly". */
const char *cn_forget_rule_name(CnForgetRule r);

#define CN_FORGET_UNLIMITED (-1)
#define CN_FORGET_MAX_TAG_LISTS 64

typedef struct CnForgetPolicy {
        /* --keep-last, --keep-hourly, ...: how many; 0 off, CN_FORGET_UNLIMITED all. */
        int64_t keep[_CN_FORGET_RULE_MAX];
        /* --keep-within: every snapshot newer than the newest (not in the future) minus this. */
        CnDuration within;
        /* --keep-within-hourly, ...: one a bucket within the duration; [CN_FORGET_LAST] unused. */
        CnDuration within_bucket[_CN_FORGET_RULE_MAX];
        /* --keep-tag: every snapshot that has one of these lists (borrowed). */
        const CnTagList *keep_tags;
        size_t n_keep_tags; /* at most CN_FORGET_MAX_TAG_LISTS */
        /* Legal holds (borrowed; NULL: none): a snapshot an active hold
         * covers is kept whatever the rules say (cn_hold_covers_snapshot).
         * Not a rule: holds alone make no policy, and count nothing. */
        const CnHolds *holds;
} CnForgetPolicy;

/* True when no rule is set: forget has nothing to go by (holds are no rule). */
bool cn_forget_policy_empty(const CnForgetPolicy *p);

/* Why one snapshot is kept: every rule it satisfies (restic's "matches"). */
typedef struct CnForgetReasons {
        uint32_t counted;        /* 1 << CnForgetRule: kept by --keep-last, --keep-daily, ... */
        uint32_t counted_oldest; /* of those, as the oldest snapshot ("oldest daily snapshot") */
        uint32_t within_bucket;  /* 1 << CnForgetRule: by --keep-within-daily, ... */
        uint32_t within_bucket_oldest;
        bool within;   /* by --keep-within */
        bool held;     /* under an active legal hold */
        uint64_t tags; /* 1 << i: has keep_tags[i] */
} CnForgetReasons;

typedef struct CnForgetDecision {
        const CnSnapshot *snapshot; /* borrowed from the group */
        bool keep;
        CnForgetReasons reasons;               /* all zero when removed */
        int64_t counters[_CN_FORGET_RULE_MAX]; /* what each counted rule had left after this one */
} CnForgetDecision;

/* Each rule a decision's reasons name, as forget prints them and in its
 * order ("held (legal hold)", "has tags [a, b]", "within 30d", "oldest
 * daily snapshot", "weekly within 1y"), to fn with what kind of rule it
 * is and its index (the CnForgetRule; the tag list for TAGS; 0 else). */
typedef enum CnForgetReasonKind {
        CN_FORGET_REASON_HELD,
        CN_FORGET_REASON_TAGS,
        CN_FORGET_REASON_WITHIN,
        CN_FORGET_REASON_COUNTED,
        CN_FORGET_REASON_WITHIN_BUCKET,
} CnForgetReasonKind;
typedef void (*CnForgetReasonFn)(const char *text, CnForgetReasonKind kind, unsigned index, void *userdata);
void cn_forget_reasons(const CnForgetPolicy *p, const CnForgetReasons *w, CnForgetReasonFn fn, void *userdata);

/* latest minus d, where the within rules stop: a snapshot is kept by
 * --keep-within d when it is newer than this of the newest one. The
 * calendar part in local time, as Go's AddDate (a month back from March 31
 * is March 3, from April 1 March 1: not monotonic at month ends). */
CnTime cn_forget_within_limit(CnTime latest, const CnDuration *d);

/* Apply p to the n snapshots of one group (any order). *ret gets n
 * decisions, newest first (equal times keep their input order), as
 * restic evaluates them; free() it. -EINVAL for more than
 * CN_FORGET_MAX_TAG_LISTS tag lists. */
int cn_forget_apply(const CnSnapshot *const *group, size_t n, const CnForgetPolicy *p, CnTime now,
                    CnForgetDecision **ret);

/* How forget groups snapshots: always by controller, and by these. */
enum {
        CN_FORGET_GROUP_HOST = 1 << 0,
        CN_FORGET_GROUP_PATHS = 1 << 1,
        CN_FORGET_GROUP_TAGS = 1 << 2,
};

/* Parse "host,paths" (restic's --group-by: host, paths, tags, also
 * singular; "" for none) into flags; -EINVAL naming nothing else. */
int cn_forget_group_by_parse(const char *s, unsigned *ret);

typedef struct CnForgetGroup {
        const CnController *controller; /* borrowed */
        const char *hostname;           /* NULL unless grouped by host; borrowed */
        const char **paths;             /* sorted, borrowed strings; NULL unless grouped by paths */
        size_t n_paths;
        const char **tags; /* sorted, borrowed strings; NULL unless grouped by tags */
        size_t n_tags;
        const CnSnapshot **snapshots; /* borrowed from the list, in list order */
        size_t n;
} CnForgetGroup;

/* Group the n snapshots of list by controller and group_by. Groups come
 * ordered by controller id, then host, paths and tags (bytewise). Free with
 * cn_forget_groups_free. */
int cn_forget_group(const CnSnapshot *list, size_t n, unsigned group_by, CnForgetGroup **ret, size_t *ret_n);
void cn_forget_groups_free(CnForgetGroup *g, size_t n);

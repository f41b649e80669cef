/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "forget.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"

int cn_duration_parse(const char *s, CnDuration *ret) {
        CnDuration d = {};
        while (*s == ' ' || *s == '\t')
                s++;
        size_t end = strlen(s);
        while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'))
                end--;
        if (end == 0)
                return -EINVAL;
        for (size_t i = 0; i < end;) {
                long v = 0;
                size_t digits = 0;
                for (; i < end && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
                        v = v * 10 + (s[i] - '0');
                        if (v > CN_DURATION_MAX)
                                return -EINVAL;
                }
                if (digits == 0 || i == end)
                        return -EINVAL;
                switch (s[i++]) {
                case 'y':
                        d.years = (int) v;
                        break;
                case 'm':
                        d.months = (int) v;
                        break;
                case 'd':
                        d.days = (int) v;
                        break;
                case 'h':
                        d.hours = (int) v;
                        break;
                default:
                        return -EINVAL;
                }
        }
        *ret = d;
        return 0;
}

bool cn_duration_zero(const CnDuration *d) {
        return d->years == 0 && d->months == 0 && d->days == 0 && d->hours == 0;
}

const char *cn_duration_format(const CnDuration *d, char *buf, size_t size) {
        size_t n = 0;
        const struct {
                int v;
                char unit;
        } parts[] = {{d->years, 'y'}, {d->months, 'm'}, {d->days, 'd'}, {d->hours, 'h'}};
        buf[0] = 0;
        for (size_t i = 0; i < CN_ELEMENTSOF(parts) && n + 1 < size; i++)
                if (parts[i].v) {
                        int k = snprintf(buf + n, size - n, "%d%c", parts[i].v, parts[i].unit);
                        n = k < 0 ? size : CN_MIN(n + (size_t) k, size - 1);
                }
        return buf;
}

static const char *const rule_names[_CN_FORGET_RULE_MAX] = {
        [CN_FORGET_LAST] = "last",     [CN_FORGET_HOURLY] = "hourly",   [CN_FORGET_DAILY] = "daily",
        [CN_FORGET_WEEKLY] = "weekly", [CN_FORGET_MONTHLY] = "monthly", [CN_FORGET_YEARLY] = "yearly",
};

const char *cn_forget_rule_name(CnForgetRule r) {
        return (unsigned) r < _CN_FORGET_RULE_MAX ? rule_names[r] : "?";
}

void cn_forget_reasons(const CnForgetPolicy *p, const CnForgetReasons *w, CnForgetReasonFn fn, void *userdata) {
        char text[1200], dur[64];
        if (w->held)
                fn("held (legal hold)", CN_FORGET_REASON_HELD, 0, userdata);
        for (size_t t = 0; t < p->n_keep_tags && t < CN_FORGET_MAX_TAG_LISTS; t++)
                if (w->tags & (UINT64_C(1) << t)) {
                        size_t n = (size_t) snprintf(text, sizeof text, "has tags [");
                        for (size_t j = 0; j < p->keep_tags[t].n_tags && n + 1 < sizeof text; j++)
                                n += (size_t) snprintf(text + n, sizeof text - n, "%s%s", j ? ", " : "",
                                                       p->keep_tags[t].tags[j]);
                        if (n + 1 < sizeof text)
                                snprintf(text + n, sizeof text - n, "]");
                        fn(text, CN_FORGET_REASON_TAGS, (unsigned) t, userdata);
                }
        if (w->within) {
                snprintf(text, sizeof text, "within %s", cn_duration_format(&p->within, dur, sizeof dur));
                fn(text, CN_FORGET_REASON_WITHIN, 0, userdata);
        }
        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++)
                if (w->counted & (1u << r)) {
                        snprintf(text, sizeof text, "%s%s snapshot", (w->counted_oldest & (1u << r)) ? "oldest " : "",
                                 rule_names[r]);
                        fn(text, CN_FORGET_REASON_COUNTED, (unsigned) r, userdata);
                }
        for (size_t r = CN_FORGET_HOURLY; r < _CN_FORGET_RULE_MAX; r++)
                if (w->within_bucket & (1u << r)) {
                        snprintf(text, sizeof text, "%s%s within %s",
                                 (w->within_bucket_oldest & (1u << r)) ? "oldest " : "", rule_names[r],
                                 cn_duration_format(&p->within_bucket[r], dur, sizeof dur));
                        fn(text, CN_FORGET_REASON_WITHIN_BUCKET, (unsigned) r, userdata);
                }
}

bool cn_forget_policy_empty(const CnForgetPolicy *p) {
        for (size_t i = 0; i < _CN_FORGET_RULE_MAX; i++)
                if (p->keep[i] != 0 || !cn_duration_zero(&p->within_bucket[i]))
                        return false;
        return cn_duration_zero(&p->within) && p->n_keep_tags == 0;
}

static int time_cmp(CnTime a, CnTime b) {
        if (a.sec != b.sec)
                return a.sec < b.sec ? -1 : 1;
        if (a.nsec != b.nsec)
                return a.nsec < b.nsec ? -1 : 1;
        return 0;
}

/* ISO 8601 week-numbering year and week: the week is the one of its
 * Thursday, and so is the year. */
static int64_t iso_week(const struct tm *tm) {
        int64_t year = (int64_t) tm->tm_year + 1900;
        int monday0 = (tm->tm_wday + 6) % 7; /* Monday 0 ... Sunday 6 */
        int thursday = tm->tm_yday - monday0 + 3;
        bool leap_prev = ((year - 1) % 4 == 0 && (year - 1) % 100 != 0) || (year - 1) % 400 == 0;
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if (thursday < 0) {
                year--;
                thursday += leap_prev ? 366 : 365;
        } else if (thursday >= (leap ? 366 : 365)) {
                thursday -= leap ? 366 : 365;
                year++;
        }
        return year * 100 + thursday / 7 + 1;
}

/* restic's buckers: the calendar bucket of t for each counted rule (for
 * --keep-last, the snapshot's position: every one is its own bucket). */
static int64_t bucket(CnForgetRule rule, CnTime t, size_t nr) {
        struct tm tm;
        time_t sec = (time_t) t.sec;
        if (rule == CN_FORGET_LAST)
                return (int64_t) nr;
        if (!localtime_r(&sec, &tm))
                return t.sec; /* out of the calendar's range: its own bucket */
        int64_t y = (int64_t) tm.tm_year + 1900;
        switch (rule) {
        case CN_FORGET_HOURLY:
                return ((y * 100 + tm.tm_mon + 1) * 100 + tm.tm_mday) * 100 + tm.tm_hour;
        case CN_FORGET_DAILY:
                return (y * 100 + tm.tm_mon + 1) * 100 + tm.tm_mday;
        case CN_FORGET_WEEKLY:
                return iso_week(&tm);
        case CN_FORGET_MONTHLY:
                return y * 100 + tm.tm_mon + 1;
        default:
                return y;
        }
}

/* As Go's latest.AddDate(-y, -m, -d).Add(-h hours): the calendar part in
 * local time (a month back from March 31 is March 3 or 2, as Go and mktime
 * normalise February 31), the hours exactly. */
CnTime cn_forget_within_limit(CnTime latest, const CnDuration *d) {
        struct tm tm;
        time_t sec = (time_t) latest.sec;
        if (!localtime_r(&sec, &tm))
                return (CnTime){INT64_MIN, 0};
        tm.tm_year -= d->years;
        tm.tm_mon -= d->months;
        tm.tm_mday -= d->days;
        tm.tm_isdst = -1;
        errno = 0;
        time_t base = mktime(&tm);
        if (base == (time_t) -1 && errno)
                return (CnTime){INT64_MIN, 0};
        return (CnTime){(int64_t) base - (int64_t) d->hours * 3600, latest.nsec};
}

typedef struct Order {
        const CnSnapshot *s;
        size_t index;
} Order;

/* Newest first; equal times keep their input order (restic's stable sort). */
static int order_cmp(const void *a, const void *b) {
        const Order *x = a, *y = b;
        int c = time_cmp(y->s->time, x->s->time);
        if (c)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

typedef struct Bucket {
        int64_t count;
        int64_t last;
        bool has_last;
} Bucket;

/* Whether a snapshot in bucket val is kept by rule r with bucket state b
 * (a new bucket, or the oldest snapshot of all); records why. */
static bool take(Bucket *b, int64_t val, bool oldest, size_t r, uint32_t *ret_rules, uint32_t *ret_oldest) {
        bool same = b->has_last && b->last == val;
        if (same && !oldest)
                return false;
        *ret_rules |= 1u << r;
        if (same)
                *ret_oldest |= 1u << r;
        b->last = val;
        b->has_last = true;
        return true;
}

int cn_forget_apply(const CnSnapshot *const *group, size_t n, const CnForgetPolicy *p, CnTime now,
                    CnForgetDecision **ret) {
        _cleanup_free_ Order *order = NULL;
        Bucket counted[_CN_FORGET_RULE_MAX] = {}, within[_CN_FORGET_RULE_MAX] = {};
        CnTime within_limits[_CN_FORGET_RULE_MAX] = {}, all_within_limit = {};

        if (p->n_keep_tags > CN_FORGET_MAX_TAG_LISTS)
                return -EINVAL;
        CnForgetDecision *d = calloc(n ? n : 1, sizeof *d);
        order = calloc(n ? n : 1, sizeof *order);
        if (!d || !order) {
                free(d);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                order[i] = (Order){group[i], i};
        qsort(order, n, sizeof *order, order_cmp);

        /* "Within" counts back from the newest snapshot that is not in the
         * future (restic: before now; none: Go's zero time, year 1). */
        CnTime latest = {-62135596800, 0};
        bool found = false;
        for (size_t i = 0; i < n; i++)
                if (time_cmp(group[i]->time, now) < 0 && (!found || time_cmp(group[i]->time, latest) > 0)) {
                        latest = group[i]->time;
                        found = true;
                }
        if (!cn_duration_zero(&p->within))
                all_within_limit = cn_forget_within_limit(latest, &p->within);
        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++) {
                counted[r].count = p->keep[r];
                if (r != CN_FORGET_LAST && !cn_duration_zero(&p->within_bucket[r]))
                        within_limits[r] = cn_forget_within_limit(latest, &p->within_bucket[r]);
        }

        for (size_t nr = 0; nr < n; nr++) {
                const CnSnapshot *cur = order[nr].s;
                CnForgetReasons why = {};
                bool keep = false, oldest = nr == n - 1;

                /* Holds and tags are not counted. */
                if (p->holds && cn_hold_covers_snapshot(p->holds, cur)) {
                        keep = true;
                        why.held = true;
                }
                for (size_t t = 0; t < p->n_keep_tags; t++)
                        if (cn_snapshot_has_tags(cur, &p->keep_tags[t])) {
                                keep = true;
                                why.tags |= UINT64_C(1) << t;
                        }
                if (!cn_duration_zero(&p->within) && time_cmp(cur->time, all_within_limit) > 0) {
                        keep = true;
                        why.within = true;
                }
                /* The first snapshot of each new bucket while counts last; and
                 * the oldest snapshot of all while a count is left, which
                 * keeps the longest history the counts allow. */
                for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++)
                        if (counted[r].count != 0 && take(&counted[r], bucket((CnForgetRule) r, cur->time, nr), oldest,
                                                          r, &why.counted, &why.counted_oldest)) {
                                keep = true;
                                if (counted[r].count > 0)
                                        counted[r].count--;
                        }
                for (size_t r = CN_FORGET_HOURLY; r < _CN_FORGET_RULE_MAX; r++)
                        if (!cn_duration_zero(&p->within_bucket[r]) && time_cmp(cur->time, within_limits[r]) > 0 &&
                            take(&within[r], bucket((CnForgetRule) r, cur->time, nr), oldest, r, &why.within_bucket,
                                 &why.within_bucket_oldest))
                                keep = true;

                d[nr].snapshot = cur;
                d[nr].keep = keep;
                if (keep) {
                        d[nr].reasons = why;
                        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++)
                                d[nr].counters[r] = counted[r].count;
                }
        }
        *ret = d;
        return 0;
}

int cn_forget_group_by_parse(const char *s, unsigned *ret) {
        unsigned flags = 0;
        for (const char *p = s;;) {
                const char *comma = strchrnul(p, ',');
                size_t len = (size_t) (comma - p);
#define IS(word) (len == strlen(word) && memcmp(p, word, len) == 0)
                if (IS("host") || IS("hosts"))
                        flags |= CN_FORGET_GROUP_HOST;
                else if (IS("path") || IS("paths"))
                        flags |= CN_FORGET_GROUP_PATHS;
                else if (IS("tag") || IS("tags"))
                        flags |= CN_FORGET_GROUP_TAGS;
                else if (len != 0)
                        return -EINVAL;
#undef IS
                if (!*comma)
                        break;
                p = comma + 1;
        }
        *ret = flags;
        return 0;
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A sorted copy of v's pointers. */
static int sorted_strv(char *const *v, size_t n, const char ***ret) {
        const char **c = calloc(n ? n : 1, sizeof *c);
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                c[i] = v[i];
        qsort(c, n, sizeof *c, str_cmp);
        *ret = c;
        return 0;
}

static int strv_cmp(const char *const *a, size_t na, const char *const *b, size_t nb) {
        for (size_t i = 0; i < na && i < nb; i++) {
                int c = strcmp(a[i], b[i]);
                if (c)
                        return c;
        }
        return na < nb ? -1 : na > nb;
}

typedef struct Key {
        const CnSnapshot *s;
        size_t index;
        const char *host;
        const char **paths, **tags;
        size_t n_paths, n_tags;
} Key;

static int key_cmp_group(const Key *x, const Key *y) {
        int c = memcmp(x->s->controller->id, y->s->controller->id, sizeof x->s->controller->id);
        if (c)
                return c;
        if (x->host || y->host) {
                c = strcmp(x->host ? x->host : "", y->host ? y->host : "");
                if (c)
                        return c;
        }
        c = strv_cmp(x->paths, x->n_paths, y->paths, y->n_paths);
        if (c)
                return c;
        return strv_cmp(x->tags, x->n_tags, y->tags, y->n_tags);
}

static int key_cmp(const void *a, const void *b) {
        const Key *x = a, *y = b;
        int c = key_cmp_group(x, y);
        if (c)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

void cn_forget_groups_free(CnForgetGroup *g, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(g[i].paths);
                free(g[i].tags);
                free(g[i].snapshots);
        }
        free(g);
}

int cn_forget_group(const CnSnapshot *list, size_t n, unsigned group_by, CnForgetGroup **ret, size_t *ret_n) {
        Key *keys = calloc(n ? n : 1, sizeof *keys);
        CnForgetGroup *groups = NULL;
        size_t n_groups = 0, cap = 0;
        int r = -ENOMEM;

        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                keys[i] = (Key){.s = &list[i], .index = i};
                if (group_by & CN_FORGET_GROUP_HOST)
                        keys[i].host = list[i].hostname;
                if ((group_by & CN_FORGET_GROUP_PATHS) &&
                    sorted_strv(list[i].paths, keys[i].n_paths = list[i].n_paths, &keys[i].paths) < 0)
                        goto out;
                if ((group_by & CN_FORGET_GROUP_TAGS) &&
                    sorted_strv(list[i].tags, keys[i].n_tags = list[i].n_tags, &keys[i].tags) < 0)
                        goto out;
        }
        qsort(keys, n, sizeof *keys, key_cmp);
        for (size_t i = 0; i < n;) {
                size_t j = i + 1;
                while (j < n && key_cmp_group(&keys[i], &keys[j]) == 0)
                        j++;
                if (CN_GROW(groups, cap, n_groups + 1) < 0)
                        goto out;
                CnForgetGroup *g = &groups[n_groups];
                *g = (CnForgetGroup){
                        .controller = keys[i].s->controller,
                        .hostname = keys[i].host,
                        .paths = keys[i].paths,
                        .n_paths = keys[i].n_paths,
                        .tags = keys[i].tags,
                        .n_tags = keys[i].n_tags,
                        .snapshots = calloc(j - i, sizeof *g->snapshots),
                        .n = j - i,
                };
                keys[i].paths = NULL;
                keys[i].tags = NULL;
                n_groups++;
                if (!g->snapshots)
                        goto out;
                for (size_t k = i; k < j; k++)
                        g->snapshots[k - i] = keys[k].s;
                i = j;
        }
        *ret = TAKE_PTR(groups);
        *ret_n = n_groups;
        n_groups = 0;
        r = 0;
out:
        for (size_t i = 0; i < n; i++) {
                free(keys[i].paths);
                free(keys[i].tags);
        }
        free(keys);
        cn_forget_groups_free(groups, n_groups);
        return r;
}

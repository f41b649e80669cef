/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "retention.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "macro.h"
#include "sealed.h"

#define FOLDER "retention"

static const char *const magics[] = {CN_MAGIC_RETENTION};

void cn_retention_done(CnRetention *p) {
        free(p->creator);
        free(p->supersedes);
        *p = (CnRetention){};
}

void cn_retentions_done(CnRetentions *l) {
        for (size_t i = 0; i < l->n; i++)
                cn_retention_done(&l->v[i]);
        free(l->v);
        free(l->damaged);
        *l = (CnRetentions){};
}

static bool duration_valid(const CnDuration *d) {
        return d->years >= 0 && d->years <= CN_DURATION_MAX && d->months >= 0 && d->months <= CN_DURATION_MAX &&
               d->days >= 0 && d->days <= CN_DURATION_MAX && d->hours >= 0 && d->hours <= CN_DURATION_MAX;
}

bool cn_retention_policy_valid(const CnForgetPolicy *p) {
        if (p->n_keep_tags || p->keep_tags || p->holds || !cn_duration_zero(&p->within_bucket[CN_FORGET_LAST]))
                return false;
        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++)
                if (p->keep[r] < CN_FORGET_UNLIMITED || p->keep[r] > INT32_MAX || !duration_valid(&p->within_bucket[r]))
                        return false;
        return duration_valid(&p->within);
}

static bool retention_valid(const CnRetention *p) {
        if (!cn_retention_policy_valid(&p->policy) || !p->creator || strlen(p->creator) > CN_MAX_LABEL_BYTES ||
            p->n_supersedes > CN_RETENTION_MAX_SUPERSEDES)
                return false;
        for (size_t i = 1; i < p->n_supersedes; i++)
                if (memcmp(p->supersedes[i - 1], p->supersedes[i], CN_ID_BYTES) >= 0)
                        return false;
        return true;
}

/* The durations in body order: within, then within_bucket hourly..yearly. */
static CnDuration *duration_at(CnForgetPolicy *p, size_t i) {
        return i == 0 ? &p->within : &p->within_bucket[i];
}

int cn_retention_encode(const CnRetention *p, CnBuf *b) {
        int r = 0;
        if (!retention_valid(p))
                return -EINVAL;
        for (size_t i = 0; r >= 0 && i < _CN_FORGET_RULE_MAX; i++)
                r = cn_buf_put_i64(b, p->policy.keep[i]);
        for (size_t i = 0; r >= 0 && i < _CN_FORGET_RULE_MAX; i++) {
                const CnDuration *d = duration_at((CnForgetPolicy *) &p->policy, i);
                if ((r = cn_buf_put_u32(b, (uint32_t) d->years)) >= 0 &&
                    (r = cn_buf_put_u32(b, (uint32_t) d->months)) >= 0 &&
                    (r = cn_buf_put_u32(b, (uint32_t) d->days)) >= 0)
                        r = cn_buf_put_u32(b, (uint32_t) d->hours);
        }
        if (r >= 0 && (r = cn_buf_put_i64(b, p->created)) >= 0 &&
            (r = cn_buf_put_bytes32(b, p->creator, strlen(p->creator))) >= 0 &&
            (r = cn_buf_put_u32(b, (uint32_t) p->n_supersedes)) >= 0)
                r = cn_buf_append(b, p->supersedes, p->n_supersedes * CN_ID_BYTES);
        return r < 0 ? r : 0;
}

static int read_part(CnReader *rd, int *ret) {
        uint32_t v;
        if (cn_reader_u32(rd, &v) < 0 || v > CN_DURATION_MAX)
                return -EBADMSG;
        *ret = (int) v;
        return 0;
}

int cn_retention_decode(const uint8_t *p, size_t n, CnRetention *ret) {
        CnRetention x = {};
        CnReader rd;
        uint32_t count;
        int r = 0;

        cn_reader_init(&rd, p, n);
        for (size_t i = 0; r >= 0 && i < _CN_FORGET_RULE_MAX; i++)
                r = cn_reader_i64(&rd, &x.policy.keep[i]);
        for (size_t i = 0; r >= 0 && i < _CN_FORGET_RULE_MAX; i++) {
                CnDuration *d = duration_at(&x.policy, i);
                if ((r = read_part(&rd, &d->years)) >= 0 && (r = read_part(&rd, &d->months)) >= 0 &&
                    (r = read_part(&rd, &d->days)) >= 0)
                        r = read_part(&rd, &d->hours);
        }
        if (r < 0 || cn_reader_i64(&rd, &x.created) < 0)
                return -EBADMSG;
        r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &x.creator);
        if (r < 0)
                return r;
        if (cn_reader_u32(&rd, &count) < 0 || count > CN_RETENTION_MAX_SUPERSEDES ||
            rd.left != (size_t) count * CN_ID_BYTES) {
                cn_retention_done(&x);
                return -EBADMSG;
        }
        x.n_supersedes = count;
        x.supersedes = malloc(count ? count * CN_ID_BYTES : 1);
        if (!x.supersedes) {
                cn_retention_done(&x);
                return -ENOMEM;
        }
        (void) cn_reader_get(&rd, x.supersedes, (size_t) count * CN_ID_BYTES);
        if (!retention_valid(&x)) {
                cn_retention_done(&x);
                return -EBADMSG;
        }
        *ret = x;
        return 0;
}

/* ---- in the repository ---- */

typedef struct Load {
        CnRetentions l;
        size_t cap, damaged_cap;
        CnStoreDamagedFn damaged;
        void *userdata;
} Load;

static int load_one(const char *name, const uint8_t id[CN_ID_BYTES], _unused_ size_t kind, const uint8_t *body,
                    size_t n, void *u) {
        Load *x = u;
        CnRetention p = {};
        int r = cn_retention_decode(body, n, &p);
        if (r < 0)
                return r;
        if (CN_GROW(x->l.v, x->cap, x->l.n + 1) < 0) {
                cn_retention_done(&p);
                return -ENOMEM;
        }
        memcpy(p.id, id, CN_ID_BYTES);
        memcpy(p.id_hex, strrchr(name, '/') + 1, CN_ID_HEX + 1);
        x->l.v[x->l.n++] = p;
        return 0;
}

/* A damaged object: its id noted (its name is its id), then reported. */
static void load_damaged(const char *name, int error, void *u) {
        Load *x = u;
        const char *slash = strrchr(name, '/');
        uint8_t id[CN_ID_BYTES];
        if (slash && cn_hex_decode(slash + 1, id, CN_ID_BYTES) >= 0 && strlen(slash + 1) == CN_ID_HEX &&
            CN_GROW(x->l.damaged, x->damaged_cap, x->l.n_damaged + 1) >= 0)
                memcpy(x->l.damaged[x->l.n_damaged++], id, CN_ID_BYTES);
        if (x->damaged)
                x->damaged(name, error, x->userdata);
}

static int retention_cmp(const void *a, const void *b) {
        const CnRetention *x = a, *y = b;
        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return memcmp(x->id, y->id, CN_ID_BYTES);
}

static int id_cmp(const void *a, const void *b) {
        return memcmp(a, b, CN_ID_BYTES);
}

/* Whether some policy of l names id as superseded (l->v sorted by id in
 * ids, their superseded lists merged and sorted in all). */
static bool named(const uint8_t (*all)[CN_ID_BYTES], size_t n, const uint8_t id[CN_ID_BYTES]) {
        return n && bsearch(id, all, n, CN_ID_BYTES, id_cmp);
}

int cn_retentions_load(CnRepo *repo, const CnController *c, CnStoreDamagedFn damaged, void *userdata,
                       CnRetentions *ret) {
        Load x = {.damaged = damaged, .userdata = userdata};
        _cleanup_free_ uint8_t(*all)[CN_ID_BYTES] = NULL;
        size_t n_all = 0;
        int r;

        r = cn_sealed_list(repo, c, FOLDER, magics, CN_ELEMENTSOF(magics), load_one, &x, load_damaged, &x, NULL);
        if (r < 0) {
                cn_retentions_done(&x.l);
                return r;
        }
        if (x.l.n > 1)
                qsort(x.l.v, x.l.n, sizeof *x.l.v, retention_cmp);
        /* Every id named as superseded, sorted: n log n however many. */
        for (size_t i = 0; i < x.l.n; i++)
                n_all += x.l.v[i].n_supersedes;
        all = malloc(n_all ? n_all * CN_ID_BYTES : 1);
        if (!all) {
                cn_retentions_done(&x.l);
                return -ENOMEM;
        }
        n_all = 0;
        for (size_t i = 0; i < x.l.n; i++) {
                memcpy(all[n_all], x.l.v[i].supersedes, x.l.v[i].n_supersedes * CN_ID_BYTES);
                n_all += x.l.v[i].n_supersedes;
        }
        if (n_all > 1)
                qsort(all, n_all, CN_ID_BYTES, id_cmp);
        for (size_t i = 0; i < x.l.n; i++) {
                CnRetention *p = &x.l.v[i];
                p->superseded = named((const uint8_t(*)[CN_ID_BYTES]) all, n_all, p->id);
                if (!p->superseded) {
                        x.l.effective = p; /* oldest first: the last head is the newest */
                        x.l.n_heads++;
                }
        }
        for (size_t i = 0; i < x.l.n_damaged; i++)
                x.l.n_damaged_heads += !named((const uint8_t(*)[CN_ID_BYTES]) all, n_all, x.l.damaged[i]);
        *ret = x.l;
        return 0;
}

static void supersede_add(uint8_t (*v)[CN_ID_BYTES], size_t *n, const uint8_t id[CN_ID_BYTES]) {
        if (*n < CN_RETENTION_MAX_SUPERSEDES)
                memcpy(v[(*n)++], id, CN_ID_BYTES);
}

int cn_retention_set(CnRepo *repo, const CnController *c, const CnRetentions *cur, const CnForgetPolicy *p,
                     const char *creator, int64_t created, CnRetention *ret) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_SEALED_OBJECT_BYTES);
        uint8_t sup[CN_RETENTION_MAX_SUPERSEDES][CN_ID_BYTES];
        CnRetention x = {.policy = *p, .created = created, .creator = (char *) creator, .supersedes = sup};
        int r;

        /* Newest first, so that the cap drops the oldest. */
        for (size_t i = cur->n; i > 0; i--)
                if (!cur->v[i - 1].superseded)
                        supersede_add(sup, &x.n_supersedes, cur->v[i - 1].id);
        for (size_t i = 0; i < cur->n_damaged; i++)
                supersede_add(sup, &x.n_supersedes, cur->damaged[i]);
        if (x.n_supersedes > 1)
                qsort(sup, x.n_supersedes, CN_ID_BYTES, id_cmp);
        /* the same id twice (an object both opened and listed damaged cannot
         * be; a damaged one listed twice can) */
        size_t k = 0;
        for (size_t i = 0; i < x.n_supersedes; i++)
                if (k == 0 || memcmp(sup[k - 1], sup[i], CN_ID_BYTES) != 0)
                        memmove(sup[k++], sup[i], CN_ID_BYTES);
        x.n_supersedes = k;
        r = cn_retention_encode(&x, &body);
        if (r < 0)
                return r;
        r = cn_sealed_put(repo, c, FOLDER, CN_MAGIC_RETENTION, body.data, body.len, x.id);
        if (r < 0)
                return r;
        cn_hex_encode(x.id, CN_ID_BYTES, x.id_hex);
        /* Durable: what it supersedes may go, and what others superseded
         * before (a head past the cap stays, superseded by none). */
        for (size_t i = 0; i < cur->n; i++) {
                char name[CN_ENVELOPE_NAME_MAX];
                if (memcmp(cur->v[i].id, x.id, CN_ID_BYTES) == 0 ||
                    (!cur->v[i].superseded && !bsearch(cur->v[i].id, sup, x.n_supersedes, CN_ID_BYTES, id_cmp)))
                        continue;
                snprintf(name, sizeof name, FOLDER "/%s/%s", c->id_hex, cur->v[i].id_hex);
                (void) cn_backend_remove(cn_repo_backend(repo), name);
        }
        if (!ret)
                return 0;
        x.creator = strdup(creator);
        x.supersedes = malloc(x.n_supersedes ? x.n_supersedes * CN_ID_BYTES : 1);
        if (!x.creator || !x.supersedes) {
                cn_retention_done(&x);
                return -ENOMEM;
        }
        memcpy(x.supersedes, sup, x.n_supersedes * CN_ID_BYTES);
        *ret = x;
        return 0;
}

int cn_retention_load(CnRepo *repo, const CnController *c, CnForgetPolicy *ret, bool *ret_set, int64_t *ret_created) {
        _cleanup_(cn_retentions_done) CnRetentions l = {};
        int r = cn_retentions_load(repo, c, NULL, NULL, &l);
        if (r < 0)
                return r;
        if (l.n_damaged_heads)
                return -EBADMSG;
        const CnRetention *e = l.effective;
        bool set = e && !cn_forget_policy_empty(&e->policy);
        *ret = set ? e->policy : (CnForgetPolicy){};
        *ret_set = set;
        if (ret_created)
                *ret_created = set ? e->created : 0;
        return 0;
}

int cn_retention_read_object(CnRepo *repo, CnController *c, const char *name, CnBuf *ret) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_SEALED_OBJECT_BYTES);
        CnRetention p = {};
        size_t kind;
        int r = cn_sealed_open(repo, c, name, magics, CN_ELEMENTSOF(magics), ret, &body, &kind);
        if (r < 0)
                return r;
        r = cn_retention_decode(body.data, body.len, &p);
        cn_retention_done(&p);
        return r;
}

/* ---- expiry ---- */

static int time_cmp(CnTime a, CnTime b) {
        if (a.sec != b.sec)
                return a.sec < b.sec ? -1 : 1;
        return a.nsec < b.nsec ? -1 : a.nsec > b.nsec;
}

/* Whether the rule d no longer keeps a snapshot of time t once the newest
 * is T (seconds; t's nanoseconds). */
static bool ended(int64_t T, CnTime t, const CnDuration *d) {
        return time_cmp(cn_forget_within_limit((CnTime){T, t.nsec}, d), t) >= 0;
}

#define DAY 86400
#define LAST_TIME INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

CnTime cn_retention_within_expiry(CnTime t, const CnDuration *d) {
        struct tm tm;
        time_t sec = (time_t) t.sec;
        const CnTime never = {INT64_MAX, 0};

        if (cn_duration_zero(d) || !localtime_r(&sec, &tm))
                return never;
        /* t plus d on the calendar: where the limit comes back to t, but
         * for month ends (and clock changes) */
        tm.tm_year += d->years;
        tm.tm_mon += d->months;
        tm.tm_mday += d->days;
        tm.tm_isdst = -1;
        errno = 0;
        time_t base = mktime(&tm);
        if ((base == (time_t) -1 && errno) || (int64_t) base > LAST_TIME - (int64_t) d->hours * 3600 - 8 * DAY)
                return never;
        int64_t hi = (int64_t) base + (int64_t) d->hours * 3600, lo;
        for (int i = 0; i < 8 && !ended(hi, t, d); i++)
                hi += DAY;
        if (!ended(hi, t, d))
                return never;
        /* the limit stays before t at T = t itself (d is not zero) */
        for (lo = CN_MAX(hi - DAY, t.sec); lo > t.sec && ended(lo, t, d);) {
                hi = lo;
                lo = CN_MAX(lo - DAY, t.sec);
        }
        while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (ended(mid, t, d))
                        hi = mid;
                else
                        lo = mid;
        }
        return (CnTime){hi, t.nsec};
}

typedef struct Verdict {
        const CnForgetPolicy *p;
        CnRetentionVerdict *v;
} Verdict;

static void add_rule(const char *text, CnForgetReasonKind kind, unsigned index, void *u) {
        Verdict *x = u;
        CnRetentionVerdict *v = x->v;
        const CnDuration *d = NULL;

        if (kind == CN_FORGET_REASON_HELD)
                v->held = true;
        else if (kind == CN_FORGET_REASON_COUNTED || kind == CN_FORGET_REASON_TAGS)
                v->counted = true;
        else
                d = kind == CN_FORGET_REASON_WITHIN ? &x->p->within : &x->p->within_bucket[index];
        if (v->n_rules == CN_RETENTION_MAX_RULES)
                return;
        CnRetentionRule *rule = &v->rules[v->n_rules++];
        size_t len = strlen(text);
        if (len >= sizeof rule->text) {
                memcpy(rule->text, text, sizeof rule->text - 4);
                memcpy(rule->text + sizeof rule->text - 4, "...", 4);
        } else
                memcpy(rule->text, text, len + 1);
        rule->kind = kind;
        if (d) {
                rule->expiry = cn_retention_within_expiry(v->snapshot->time, d);
                rule->has_expiry = rule->expiry.sec != INT64_MAX;
        }
}

int cn_retention_expiry(const CnForgetPolicy *p, const CnSnapshot *list, size_t n, CnTime now,
                        CnRetentionVerdict *ret) {
        CnForgetGroup *groups = NULL;
        size_t n_groups = 0;
        int r;

        r = cn_forget_group(list, n, CN_FORGET_GROUP_HOST | CN_FORGET_GROUP_PATHS, &groups, &n_groups);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                ret[i] = (CnRetentionVerdict){.snapshot = &list[i]};
        for (size_t g = 0; r >= 0 && g < n_groups; g++) {
                CnForgetDecision *d = NULL;
                r = cn_forget_apply(groups[g].snapshots, groups[g].n, p, now, &d);
                for (size_t j = 0; r >= 0 && j < groups[g].n; j++) {
                        CnRetentionVerdict *v = &ret[d[j].snapshot - list];
                        Verdict x = {.p = p, .v = v};
                        v->keep = d[j].keep;
                        if (!v->keep)
                                continue;
                        cn_forget_reasons(p, &d[j].reasons, add_rule, &x);
                        v->has_expiry = !v->held && !v->counted;
                        for (size_t k = 0; v->has_expiry && k < v->n_rules; k++) {
                                v->has_expiry = v->rules[k].has_expiry;
                                if (k == 0 || time_cmp(v->rules[k].expiry, v->expiry) > 0)
                                        v->expiry = v->rules[k].expiry;
                        }
                        if (!v->has_expiry)
                                v->expiry = (CnTime){};
                }
                free(d);
        }
        cn_forget_groups_free(groups, n_groups);
        return r < 0 ? r : 0;
}

/* ---- JSON ---- */

static json_t *duration_json(const CnDuration *d) {
        char buf[64];
        return json_string(cn_duration_format(d, buf, sizeof buf));
}

json_t *cn_retention_policy_json(const CnForgetPolicy *p) {
        json_t *o = json_object();
        char key[64];
        for (size_t r = 0; o && r < _CN_FORGET_RULE_MAX; r++) {
                const char *name = cn_forget_rule_name((CnForgetRule) r);
                if (p->keep[r]) {
                        snprintf(key, sizeof key, "keep_%s", name);
                        if (json_object_set_new(
                                    o, key, p->keep[r] < 0 ? json_string("unlimited") : json_integer(p->keep[r])) < 0)
                                goto fail;
                }
                if (r != CN_FORGET_LAST && !cn_duration_zero(&p->within_bucket[r])) {
                        snprintf(key, sizeof key, "keep_within_%s", name);
                        if (json_object_set_new(o, key, duration_json(&p->within_bucket[r])) < 0)
                                goto fail;
                }
        }
        if (o && !cn_duration_zero(&p->within) && json_object_set_new(o, "keep_within", duration_json(&p->within)) < 0)
                goto fail;
        return o;
fail:
        json_decref(o);
        return NULL;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A rule "/P/{subject}/S" is kept as two anchored patterns, "/P" and "/S"
 * (none when nothing follows {subject}), and the number k of components
 * of P. P may not hold "**": the subject is always component k + 1 of a
 * path, never ambiguous (with "**" before it, the rule "/srv" "**"
 * "{subject}" would make every directory under /srv its own subject, as
 * the entry X names is tagged X). Applying a rule is two pattern matches, linear in
 * the path's length: the first k components against "/P", the rest after
 * component k + 1 against "/S". */
#include "subject.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "macro.h"
#include "pattern.h"

#define PLACEHOLDER "{subject}"

typedef struct Rule {
        CnPatterns prefix;
        CnPatterns suffix;              /* empty: nothing after {subject} */
        size_t depth;                   /* components of the prefix: the subject is the next one */
} Rule;

struct CnSubjectRules {
        Rule *rules;
        size_t n_rules;
        char **fixed;
        size_t n_fixed;
};

int cn_subject_rules_new(CnSubjectRules **ret) {
        CnSubjectRules *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

CnSubjectRules *cn_subject_rules_free(CnSubjectRules *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_rules; i++) {
                cn_patterns_done(&r->rules[i].prefix);
                cn_patterns_done(&r->rules[i].suffix);
        }
        free(r->rules);
        for (size_t i = 0; i < r->n_fixed; i++)
                free(r->fixed[i]);
        free(r->fixed);
        free(r);
        return NULL;
}

bool cn_subject_rules_empty(const CnSubjectRules *r) {
        return !r || (r->n_rules == 0 && r->n_fixed == 0);
}

int cn_subject_rules_add_subject(CnSubjectRules *r, const char *s) {
        if (!cn_subject_valid(s, strlen(s)))
                return -EINVAL;
        for (size_t i = 0; i < r->n_fixed; i++)
                if (strcmp(r->fixed[i], s) == 0)
                        return 0;
        if (r->n_fixed >= CN_MAX_SUBJECTS)
                return -E2BIG;
        char **v = reallocarray(r->fixed, r->n_fixed + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        r->fixed = v;
        if (!(v[r->n_fixed] = strdup(s)))
                return -ENOMEM;
        r->n_fixed++;
        return 0;
}

/* "/" followed by the components [from, to) of text (each "/"-separated). */
static int add_part(CnPatterns *p, const char *from, const char *to) {
        size_t len = (size_t) (to - from);
        _cleanup_free_ char *t = malloc(len + 2);
        if (!t)
                return -ENOMEM;
        t[0] = '/';
        memcpy(t + 1, from, len);
        t[len + 1] = 0;
        return cn_patterns_add(p, t);
}

static int rule_parse(Rule *rule, const char *text, const char **ret_why) {
        size_t len = strlen(text);
        const char *at = NULL;
        size_t comps = 0;

        while (len > 1 && text[len - 1] == '/')
                len--;          /* "dir/" means dir, as for --exclude */
        if (len == 0 || text[0] != '/') {
                *ret_why = "it is not absolute (a rule starts with '/')";
                return -EINVAL;
        }
        for (const char *c = text + 1; c < text + len;) {
                const char *e = memchr(c, '/', (size_t) (text + len - c));
                size_t clen = e ? (size_t) (e - c) : (size_t) (text + len - c);
                if (clen == 0) {
                        *ret_why = "it has an empty component ('//')";
                        return -EINVAL;
                }
                if (clen == strlen(PLACEHOLDER) && memcmp(c, PLACEHOLDER, clen) == 0) {
                        if (at) {
                                *ret_why = "it has more than one {subject} component";
                                return -EINVAL;
                        }
                        at = c;
                } else if (memmem(c, clen, PLACEHOLDER, strlen(PLACEHOLDER))) {
                        *ret_why = "{subject} must be a whole component, between two '/'";
                        return -EINVAL;
                } else if (!at) {
                        if (clen == 2 && c[0] == '*' && c[1] == '*') {
                                *ret_why = "it has '**' before {subject}, which would make any depth the "
                                           "subject's (use one '*' a level)";
                                return -EINVAL;
                        }
                        comps++;
                }
                if (!e)
                        break;
                c = e + 1;
        }
        if (!at) {
                *ret_why = "it has no {subject} component";
                return -EINVAL;
        }
        int r = add_part(&rule->prefix, text + 1, at > text + 1 ? at - 1 : text + 1);
        const char *after = at + strlen(PLACEHOLDER);
        if (r >= 0 && after < text + len)
                r = add_part(&rule->suffix, after + 1, text + len);
        if (r < 0)
                return r;
        rule->depth = comps;
        return 0;
}

int cn_subject_rules_add_rule(CnSubjectRules *r, const char *text, const char **ret_why) {
        Rule rule = {};
        int k;

        *ret_why = NULL;
        k = rule_parse(&rule, text, ret_why);
        if (k >= 0) {
                Rule *v = reallocarray(r->rules, r->n_rules + 1, sizeof *v);
                if (v) {
                        r->rules = v;
                        v[r->n_rules++] = rule;
                        return 0;
                }
                k = -ENOMEM;
        }
        cn_patterns_done(&rule.prefix);
        cn_patterns_done(&rule.suffix);
        if (k == -EINVAL && !*ret_why)
                *ret_why = "it is not a pattern";
        return k;
}

/* Tag n with s (len bytes) if it can be recorded, else count it left out. */
static int tag(CnNode *n, const char *s, size_t len, size_t *left_out) {
        if (!cn_subject_valid(s, len)) {
                (*left_out)++;
                return 0;
        }
        int r = cn_node_add_subject(n, s, len);
        if (r == -E2BIG) {
                (*left_out)++;
                return 0;
        }
        return r < 0 ? r : 0;
}

static int rule_apply(const Rule *rule, const char *path, size_t len, CnNode *n, size_t *left_out) {
        const char *end = path + len;
        const char *c = path + 1;       /* component i + 1 */

        for (size_t i = 0; i < rule->depth; i++) {
                const char *ce = c < end ? memchr(c, '/', (size_t) (end - c)) : NULL;
                if (!ce)
                        return 0;       /* no component after the prefix */
                c = ce + 1;
        }
        if (c >= end)
                return 0;
        const char *ce = memchr(c, '/', (size_t) (end - c));
        if (!ce)
                ce = end;
        /* The first depth components ("/" for none), then the subject
         * and what follows it: nothing (the entry X names), or the rest. */
        if (!cn_patterns_match_len(&rule->prefix, path, rule->depth == 0 ? 1 : (size_t) (c - 1 - path)) ||
            (ce < end && !cn_patterns_match_len(&rule->suffix, ce, (size_t) (end - ce))))
                return 0;
        return tag(n, c, (size_t) (ce - c), left_out);
}

int cn_subject_rules_apply(const CnSubjectRules *r, const char *path, size_t len, CnNode *n,
                           size_t *ret_left_out) {
        size_t left_out = 0;
        int k = 0;

        cn_node_clear_subjects(n);
        for (size_t i = 0; r && k >= 0 && i < r->n_fixed; i++)
                k = tag(n, r->fixed[i], strlen(r->fixed[i]), &left_out);
        for (size_t i = 0; r && k >= 0 && i < r->n_rules; i++)
                k = rule_apply(&r->rules[i], path, len, n, &left_out);
        if (k < 0)
                return k;
        *ret_left_out = left_out;
        return 0;
}

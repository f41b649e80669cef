/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Data-subject rules (core/subject.h): what each rule captures for which
 * path, bad rules and subjects refused, subjects that cannot be recorded
 * counted, and an entry's old subjects replaced. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "macro.h"
#include "subject.h"

/* The subjects rules give path, as "a,b" ("" for none). */
static void subjects_of(const CnSubjectRules *r, const char *path, char *out, size_t n, size_t *left_out) {
        CnNode node = {};
        size_t lo;
        cr_assert_eq(cn_subject_rules_apply(r, path, strlen(path), &node, &lo), 0);
        out[0] = 0;
        for (size_t i = 0; i < node.n_subjects; i++) {
                if (i)
                        strncat(out, ",", n - strlen(out) - 1);
                strncat(out, node.subjects[i], n - strlen(out) - 1);
        }
        if (left_out)
                *left_out = lo;
        cr_assert(cn_node_subjects_valid(&node));
        cn_node_done(&node);
}

static CnSubjectRules *rules_of(const char *rule) {
        CnSubjectRules *r;
        const char *why;
        cr_assert_eq(cn_subject_rules_new(&r), 0);
        cr_assert_eq(cn_subject_rules_add_rule(r, rule, &why), 0, "%s: %s", rule, why ? why : "");
        return r;
}

Test(subject, rules_capture_the_component_and_tag_the_prefix_directory) {
        static const struct {
                const char *rule, *path, *want;
        } cases[] = {
                { "/home/{subject}/**", "/home", "" },
                { "/home/{subject}/**", "/home/alice", "alice" },
                { "/home/{subject}/**", "/home/alice/docs/a.txt", "alice" },
                { "/home/{subject}/**", "/homex/alice/a", "" },
                { "/home/{subject}/**", "/srv/home/alice", "" },
                { "/home/{subject}/", "/home/alice", "alice" },         /* a trailing '/' is ignored */
                { "/home/{subject}", "/home/alice", "alice" },
                { "/home/{subject}", "/home/alice/a", "" },             /* nothing after it: X alone */
                { "/{subject}", "/etc", "etc" },
                { "/{subject}/**", "/etc/passwd", "etc" },
                { "/home/*/{subject}/**", "/home/u/alice/f", "alice" },
                { "/srv/c/{subject}/*.db", "/srv/c/acme", "acme" },
                { "/srv/c/{subject}/*.db", "/srv/c/acme/a.db", "acme" },
                { "/srv/c/{subject}/*.db", "/srv/c/acme/a.txt", "" },
                { "/srv/c/{subject}/*.db", "/srv/c/acme/x/a.db", "" },
                { "/srv/{subject}/**/data", "/srv/alice/x/y/data", "alice" },
                { "/srv/{subject}/**/data", "/srv/alice/x/y/data/z", "" },
                { "/srv/{subject}/**/data", "/srv/alice/x", "" },
                { "/srv/{subject}/**/data", "/srv/alice", "alice" },
                { "/h/[ab]*/{subject}/**", "/h/bx/carol/f", "carol" },
                { "/h/{subject}/**", "/h/\xff\x01 odd/f", "\xff\x01 odd" },
        };
        for (size_t t = 0; t < CN_ELEMENTSOF(cases); t++) {
                CnSubjectRules *r = rules_of(cases[t].rule);
                char got[1024];
                subjects_of(r, cases[t].path, got, sizeof got, NULL);
                cr_assert_str_eq(got, cases[t].want, "case %zu: %s on %s", t, cases[t].rule, cases[t].path);
                cn_subject_rules_free(r);
        }
}

Test(subject, bad_rules_are_refused_with_a_reason) {
        static const char *bad[] = { "home/{subject}/**", "/home/**",    "/a/{subject}/{subject}",
                                     "/a/x{subject}",     "/a/{subject}x/b", "/a//{subject}",
                                     "/",                 "",               "{subject}",
                                     "/srv/**/{subject}", "/**/{subject}/**" };
        CnSubjectRules *r;
        cr_assert_eq(cn_subject_rules_new(&r), 0);
        for (size_t t = 0; t < CN_ELEMENTSOF(bad); t++) {
                const char *why = NULL;
                cr_assert_eq(cn_subject_rules_add_rule(r, bad[t], &why), -EINVAL, "%s accepted", bad[t]);
                cr_assert_not_null(why);
        }
        cr_assert(cn_subject_rules_empty(r), "nothing was added");
        cn_subject_rules_free(r);
}

Test(subject, fixed_subjects_and_rules_add_up_sorted_and_once) {
        CnSubjectRules *r = rules_of("/home/{subject}/**");
        const char *why;
        cr_assert_eq(cn_subject_rules_add_rule(r, "/home/*/{subject}/**", &why), 0);
        cr_assert_eq(cn_subject_rules_add_subject(r, "zeta"), 0);
        cr_assert_eq(cn_subject_rules_add_subject(r, "acme"), 0);
        cr_assert_eq(cn_subject_rules_add_subject(r, "acme"), 0, "twice is once");
        char got[256];
        subjects_of(r, "/home/alice/bob/f", got, sizeof got, NULL);
        cr_assert_str_eq(got, "acme,alice,bob,zeta");
        subjects_of(r, "/home/acme", got, sizeof got, NULL);
        cr_assert_str_eq(got, "acme,zeta");
        subjects_of(r, "/etc", got, sizeof got, NULL);
        cr_assert_str_eq(got, "acme,zeta");
        cn_subject_rules_free(r);
}

Test(subject, invalid_fixed_subjects_are_refused) {
        CnSubjectRules *r;
        char big[CN_MAX_SUBJECT_BYTES + 2];
        cr_assert_eq(cn_subject_rules_new(&r), 0);
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        cr_assert_eq(cn_subject_rules_add_subject(r, ""), -EINVAL);
        cr_assert_eq(cn_subject_rules_add_subject(r, "a/b"), -EINVAL);
        cr_assert_eq(cn_subject_rules_add_subject(r, big), -EINVAL, "257 bytes");
        big[CN_MAX_SUBJECT_BYTES] = 0;
        cr_assert_eq(cn_subject_rules_add_subject(r, big), 0, "256 bytes");
        for (int i = 1; i < CN_MAX_SUBJECTS; i++) {
                char s[16];
                snprintf(s, sizeof s, "s%d", i);
                cr_assert_eq(cn_subject_rules_add_subject(r, s), 0);
        }
        cr_assert_eq(cn_subject_rules_add_subject(r, "one-more"), -E2BIG);
        cn_subject_rules_free(r);
}

/* A captured component over 256 bytes, or a 65th subject, is counted and
 * left out; the entry keeps the others. */
Test(subject, subjects_that_cannot_be_recorded_are_counted) {
        CnSubjectRules *r = rules_of("/home/{subject}/**");
        char path[600] = "/home/", got[8192];
        size_t left_out;
        memset(path + 6, 'x', CN_MAX_SUBJECT_BYTES + 1);
        strcat(path, "/f");
        subjects_of(r, path, got, sizeof got, &left_out);
        cr_assert_str_eq(got, "");
        cr_assert_eq(left_out, 1);
        memset(path + 6, 'y', CN_MAX_SUBJECT_BYTES);
        strcpy(path + 6 + CN_MAX_SUBJECT_BYTES, "/f");
        subjects_of(r, path, got, sizeof got, &left_out);
        cr_assert_eq(strlen(got), CN_MAX_SUBJECT_BYTES, "256 bytes are a subject");
        cr_assert_eq(left_out, 0);
        for (int i = 0; i < CN_MAX_SUBJECTS; i++) {
                char s[16];
                snprintf(s, sizeof s, "s%02d", i);
                cr_assert_eq(cn_subject_rules_add_subject(r, s), 0);
        }
        subjects_of(r, "/home/alice/f", got, sizeof got, &left_out);
        cr_assert_eq(left_out, 1, "the rule's subject is a 65th");
        cr_assert_null(strstr(got, "alice"));
        cn_subject_rules_free(r);
}

Test(subject, apply_replaces_what_the_entry_had) {
        CnSubjectRules *r = rules_of("/home/{subject}/**");
        CnNode n = {};
        size_t lo;
        cr_assert_eq(cn_node_add_subject(&n, "old", 3), 1);
        cr_assert_eq(cn_subject_rules_apply(r, "/etc/x", 6, &n, &lo), 0);
        cr_assert_eq(n.n_subjects, 0, "rules that give nothing clear the old subjects");
        cr_assert_eq(cn_node_add_subject(&n, "old", 3), 1);
        cr_assert_eq(cn_subject_rules_apply(NULL, "/etc/x", 6, &n, &lo), 0);
        cr_assert_eq(n.n_subjects, 0, "no rules at all: no subjects");
        cr_assert_eq(cn_subject_rules_apply(r, "/home/bob/x", 11, &n, &lo), 0);
        cr_assert_eq(n.n_subjects, 1);
        cr_assert_str_eq(n.subjects[0], "bob");
        cn_node_done(&n);
        cn_subject_rules_free(r);
}

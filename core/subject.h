/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Data-subject rules of a backup (docs/cli/backup.md "Data subjects").
 *
 * A rule is an absolute pattern in the syntax of --exclude (pattern.h) with
 * exactly one component "{subject}". An entry gets subject X from it when
 * the components before "{subject}" match the leading components of its
 * path, X is the component that follows them, and the rest of the rule
 * matches the rest of the path; the entry whose path ends at X (the
 * directory the prefix names) gets X too. Fixed subjects tag every entry.
 * Subjects go on tree entries only (v3 trees), never on chunks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "node.h"

typedef struct CnSubjectRules CnSubjectRules;

int cn_subject_rules_new(CnSubjectRules **ret);
CnSubjectRules *cn_subject_rules_free(CnSubjectRules *r);
static inline void cn_subject_rules_freep(CnSubjectRules **r) {
        cn_subject_rules_free(*r);
}
/* Add a rule. -EINVAL when it is not one, with *ret_why a static phrase
 * saying why ("it has no {subject} component", ...); -ENOMEM. */
int cn_subject_rules_add_rule(CnSubjectRules *r, const char *rule, const char **ret_why);
/* Tag every entry with s. -EINVAL when s is not a valid subject
 * (cn_subject_valid), -E2BIG past CN_MAX_SUBJECTS fixed subjects. */
int cn_subject_rules_add_subject(CnSubjectRules *r, const char *s);
bool cn_subject_rules_empty(const CnSubjectRules *r);

/* Replace n's subjects with those r gives the entry at path (absolute,
 * clean, len bytes): the fixed subjects, then each rule's in the order the
 * rules were added. *ret_left_out counts those that cannot be recorded (a
 * captured component over CN_MAX_SUBJECT_BYTES, or one past
 * CN_MAX_SUBJECTS); the entry is tagged with the rest. -ENOMEM. */
int cn_subject_rules_apply(const CnSubjectRules *r, const char *path, size_t len, CnNode *n,
                           size_t *ret_left_out);

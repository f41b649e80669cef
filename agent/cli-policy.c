/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli-policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A --keep-* count: a number up to 2^31, or "unlimited". */
static bool parse_count(const char *arg, int64_t *ret) {
        char *end;
        if (strcmp(arg, "unlimited") == 0) {
                *ret = CN_FORGET_UNLIMITED;
                return true;
        }
        errno = 0;
        long long v = strtoll(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || v > INT32_MAX)
                return false;
        *ret = v;
        return true;
}

int cli_policy_option(const char *verb, CnForgetPolicy *p, CnTagList *tags, int c, const char *arg) {
        if (c >= OPT_POLICY_KEEP && c < OPT_POLICY_KEEP + _CN_FORGET_RULE_MAX) {
                CnForgetRule rule = (CnForgetRule) (c - OPT_POLICY_KEEP);
                if (!parse_count(arg, &p->keep[rule]))
                        return cli_usage_error(verb,
                                               "--keep-%s takes a number (0 to 2147483647) or 'unlimited', not %s",
                                               cn_forget_rule_name(rule), CLI_ESC(arg));
                return 0;
        }
        if (c == OPT_POLICY_WITHIN ||
            (c > OPT_POLICY_WITHIN_BUCKET && c < OPT_POLICY_WITHIN_BUCKET + _CN_FORGET_RULE_MAX)) {
                bool all = c == OPT_POLICY_WITHIN;
                CnDuration *d = all ? &p->within : &p->within_bucket[c - OPT_POLICY_WITHIN_BUCKET];
                if (cn_duration_parse(arg, d) < 0)
                        return cli_usage_error(verb,
                                               "--keep-within%s%s takes a duration such as 30d, 1y6m or 2d12h (y, m, "
                                               "d, h), not %s",
                                               all ? "" : "-",
                                               all ? ""
                                                   : cn_forget_rule_name((CnForgetRule) (c - OPT_POLICY_WITHIN_BUCKET)),
                                               CLI_ESC(arg));
                return 0;
        }
        if (c == OPT_POLICY_KEEP_TAG) {
                if (p->n_keep_tags == CN_FORGET_MAX_TAG_LISTS)
                        return cli_usage_error(verb, "at most %d --keep-tag lists", CN_FORGET_MAX_TAG_LISTS);
                if (cn_tag_list_parse(arg, &tags[p->n_keep_tags]) < 0) {
                        cli_error("%s: out of memory", verb);
                        return CLI_EXIT_ERROR;
                }
                p->keep_tags = tags;
                p->n_keep_tags++;
                return 0;
        }
        return -1;
}

void cli_policy_print(FILE *f, const CnForgetPolicy *p) {
        char dur[64];
        bool any = false;
        fputs("keep ", f);
        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++)
                if (p->keep[r]) {
                        const char *name = r == CN_FORGET_LAST ? "latest" : cn_forget_rule_name((CnForgetRule) r);
                        if (p->keep[r] < 0)
                                fprintf(f, "%sall %s", any ? ", " : "", name);
                        else
                                fprintf(f, "%s%" PRId64 " %s", any ? ", " : "", p->keep[r], name);
                        any = true;
                }
        if (any)
                fputs(" snapshots", f);
        for (size_t r = CN_FORGET_HOURLY; r < _CN_FORGET_RULE_MAX; r++)
                if (!cn_duration_zero(&p->within_bucket[r])) {
                        fprintf(f, "%s%s snapshots within %s", any ? ", " : "", cn_forget_rule_name((CnForgetRule) r),
                                cn_duration_format(&p->within_bucket[r], dur, sizeof dur));
                        any = true;
                }
        for (size_t t = 0; t < p->n_keep_tags; t++) {
                fprintf(f, "%sall snapshots with tags [", any ? " and " : "");
                for (size_t j = 0; j < p->keep_tags[t].n_tags; j++)
                        fprintf(f, "%s%s", j ? ", " : "", CLI_ESC(p->keep_tags[t].tags[j]));
                fputs("]", f);
                any = true;
        }
        if (!cn_duration_zero(&p->within)) {
                fprintf(f, "%sall snapshots within %s of the newest", any ? " and " : "",
                        cn_duration_format(&p->within, dur, sizeof dur));
                any = true;
        }
        if (!any)
                fputs("nothing", f);
}

const char *cli_policy_flags(const CnForgetPolicy *p, char *buf, size_t size) {
        char dur[64];
        size_t n = 0;
#define ADD(...)                                                                                                       \
        do {                                                                                                           \
                if (n + 1 < size)                                                                                      \
                        n += (size_t) snprintf(buf + n, size - n, __VA_ARGS__);                                        \
        } while (0)
        buf[0] = 0;
        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++) {
                const char *name = cn_forget_rule_name((CnForgetRule) r);
                if (p->keep[r] < 0)
                        ADD("%s--keep-%s unlimited", n ? " " : "", name);
                else if (p->keep[r] > 0)
                        ADD("%s--keep-%s %" PRId64, n ? " " : "", name, p->keep[r]);
        }
        if (!cn_duration_zero(&p->within))
                ADD("%s--keep-within %s", n ? " " : "", cn_duration_format(&p->within, dur, sizeof dur));
        for (size_t r = CN_FORGET_HOURLY; r < _CN_FORGET_RULE_MAX; r++)
                if (!cn_duration_zero(&p->within_bucket[r]))
                        ADD("%s--keep-within-%s %s", n ? " " : "", cn_forget_rule_name((CnForgetRule) r),
                            cn_duration_format(&p->within_bucket[r], dur, sizeof dur));
#undef ADD
        return buf;
}

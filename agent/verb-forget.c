/* SPDX-License-Identifier: GPL-3.0-or-later */
/* forget: remove snapshots by a retention policy or by id (docs/cli/forget.md).
 * The policy is core/forget's; here are the flags, the ids, the table, the
 * JSON and the removal of the snapshot objects. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "forget.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] forget [POLICY] [--group-by host,paths] [FILTERS] [--dry-run] [--json]\n"
              "       cairn [-r REPO] forget ID... [--dry-run] [--prune [--max-unused LIMIT]] [--json]\n"
              "\n"
              "Remove the snapshots a retention policy does not keep, per group of snapshots\n"
              "(by controller, then by host and paths unless --group-by says otherwise), or\n"
              "the snapshots named by id (whole or a unique prefix; any controller's, or only\n"
              "--controller's; ids and a policy or filters together are refused). Only the\n"
              "snapshot objects go; their data stays until a prune.\n"
              "\n"
              "Policy (restic's rules; a snapshot any rule keeps is kept):\n"
              "      --keep-last N            the N newest (N or 'unlimited', for each --keep-*)\n"
              "      --keep-hourly N          the newest of each of the last N hours with a snapshot\n"
              "      --keep-daily N           ... days\n"
              "      --keep-weekly N          ... ISO weeks\n"
              "      --keep-monthly N         ... months\n"
              "      --keep-yearly N          ... years\n"
              "      --keep-within DURATION   all newer than the newest snapshot minus DURATION (1y2m3d4h)\n"
              "      --keep-within-hourly DURATION, --keep-within-daily, -weekly, -monthly, -yearly\n"
              "                               the newest of each hour, day, ... within DURATION\n"
              "      --keep-tag T[,T...]      all with every tag of the list (repeatable: any list)\n"
              "      --keep-none              allow removing every snapshot of a group (with no policy:\n"
              "                               every snapshot the filters select)\n"
              "\n"
              "  -g, --group-by LIST          host, paths, tags, comma-separated; '' for none\n"
              "                               (default host,paths; always by controller)\n"
              "  -n, --dry-run                print what would be removed, remove nothing\n"
              "      --prune                  then prune: delete the data no snapshot needs any more\n"
              "                               (as 'cairn prune'; with --dry-run, what it would delete)\n"
              "      --max-unused LIMIT       with --prune: as prune's (default 5%)\n" CLI_FILTER_HELP "\n"
              "Calendar buckets are in local time (TZ). A policy that would remove every\n"
              "snapshot of a group is refused (exit 2) without --keep-none. A snapshot under\n"
              "a legal hold ('cairn hold') is never removed; one named by id is shown as held\n"
              "and forget exits 1 (the other named snapshots are removed).\n",
              stdout);
}

static const char *const rule_names[_CN_FORGET_RULE_MAX] = {
        [CN_FORGET_LAST] = "last",     [CN_FORGET_HOURLY] = "hourly",   [CN_FORGET_DAILY] = "daily",
        [CN_FORGET_WEEKLY] = "weekly", [CN_FORGET_MONTHLY] = "monthly", [CN_FORGET_YEARLY] = "yearly",
};

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

typedef void (*ReasonFn)(void *ctx, const char *text);

/* Each reason d was kept for, as restic words it, in restic's order. */
static void reasons(const CnForgetPolicy *p, const CnForgetDecision *d, ReasonFn fn, void *ctx) {
        char text[1200], dur[64];
        const CnForgetReasons *w = &d->reasons;
        if (w->held)
                fn(ctx, "held (legal hold)");
        for (size_t t = 0; t < p->n_keep_tags; t++)
                if (w->tags & (UINT64_C(1) << t)) {
                        size_t n = (size_t) snprintf(text, sizeof text, "has tags [");
                        for (size_t j = 0; j < p->keep_tags[t].n_tags && n + 1 < sizeof text; j++)
                                n += (size_t) snprintf(text + n, sizeof text - n, "%s%s", j ? ", " : "",
                                                       p->keep_tags[t].tags[j]);
                        if (n + 1 < sizeof text)
                                snprintf(text + n, sizeof text - n, "]");
                        fn(ctx, text);
                }
        if (w->within) {
                snprintf(text, sizeof text, "within %s", cn_duration_format(&p->within, dur, sizeof dur));
                fn(ctx, text);
        }
        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++)
                if (w->counted & (1u << r)) {
                        snprintf(text, sizeof text, "%s%s snapshot", (w->counted_oldest & (1u << r)) ? "oldest " : "",
                                 rule_names[r]);
                        fn(ctx, text);
                }
        for (size_t r = CN_FORGET_HOURLY; r < _CN_FORGET_RULE_MAX; r++)
                if (w->within_bucket & (1u << r)) {
                        snprintf(text, sizeof text, "%s%s within %s",
                                 (w->within_bucket_oldest & (1u << r)) ? "oldest " : "", rule_names[r],
                                 cn_duration_format(&p->within_bucket[r], dur, sizeof dur));
                        fn(ctx, text);
                }
}

/* Append ", NAME [a b c]" (escaped) to buf at n; returns the new length. */
static size_t append_list(char *buf, size_t size, size_t n, const char *name, const char *const *v, size_t len) {
        if (n + 1 < size)
                n += (size_t) snprintf(buf + n, size - n, ", %s [", name);
        for (size_t i = 0; i < len && n + 1 < size; i++)
                n += (size_t) snprintf(buf + n, size - n, "%s%s", i ? " " : "", CLI_ESC(v[i]));
        if (n + 1 < size)
                n += (size_t) snprintf(buf + n, size - n, "]");
        return CN_MIN(n, size - 1);
}

/* "controller acme, host db1, paths [/etc /srv]" for headers and messages. */
static const char *group_text(const CnForgetGroup *g, char *buf, size_t size) {
        size_t n = (size_t) snprintf(buf, size, "controller %s", CLI_ESC(g->controller->name));
        if (g->hostname && n + 1 < size)
                n += (size_t) snprintf(buf + n, size - n, ", host %s", CLI_ESC(g->hostname));
        if (g->paths)
                n = append_list(buf, size, n, "paths", g->paths, g->n_paths);
        if (g->tags)
                append_list(buf, size, n, "tags", g->tags, g->n_tags);
        return buf;
}

#define REASON_COLUMN 51 /* where the reasons start: after id, time, host and tags */

static void print_paths(const CnSnapshot *s) {
        for (size_t j = 0; j < s->n_paths; j++) {
                if (j)
                        putchar(' ');
                cli_print_escaped(stdout, s->paths[j], strlen(s->paths[j]));
        }
}

/* A kept row: the first reason and the paths on the row, the other
 * reasons under the first, as restic lays them out. */
typedef struct Row {
        const CnSnapshot *s;
        bool first;
} Row;

static void reason_line(void *ctx, const char *text) {
        Row *row = ctx;
        if (row->first) {
                printf("%-22s  ", CLI_ESC(text));
                print_paths(row->s);
        } else
                printf("\n%*s%s", REASON_COLUMN, "", CLI_ESC(text));
        row->first = false;
}

/* One table row, oldest first as 'snapshots' prints; with reasons (kept)
 * or without (removed). */
static void print_row(const CnForgetPolicy *p, const CnForgetDecision *d, bool with_reasons) {
        const CnSnapshot *s = d->snapshot;
        char t[64], tags[256] = "";
        for (size_t j = 0, k = 0; j < s->n_tags && k + 1 < sizeof tags; j++)
                k += (size_t) snprintf(tags + k, sizeof tags - k, "%s%s", j ? "," : "", s->tags[j]);
        printf("%.8s  %-19s  %-10s  %-6s  ", s->id_hex, cli_time(s->time.sec, t), CLI_ESC(s->hostname), CLI_ESC(tags));
        Row row = {.s = s, .first = true};
        if (with_reasons)
                reasons(p, d, reason_line, &row);
        if (row.first)
                print_paths(s);
        putchar('\n');
}

static void print_table(const CnForgetPolicy *p, const CnForgetDecision *d, size_t n, bool keep) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
                count += d[i].keep == keep;
        if (!count)
                return;
        printf("%s %zu snapshot%s:\n", keep ? "keep" : "remove", count, count == 1 ? "" : "s");
        if (keep)
                printf("%-8s  %-19s  %-10s  %-6s  %-22s  Paths\n", "ID", "Time", "Host", "Tags", "Reasons");
        else
                printf("%-8s  %-19s  %-10s  %-6s  Paths\n", "ID", "Time", "Host", "Tags");
        for (size_t i = n; i > 0; i--)
                if (d[i - 1].keep == keep)
                        print_row(p, &d[i - 1], keep);
}

static void reason_json(void *ctx, const char *text) {
        Row *l = ctx;
        if (!l->first)
                putchar(',');
        l->first = false;
        cli_json_string(stdout, text, strlen(text));
}

/* One group as restic's forget --json prints it, with the controller:
 * {"controller":{..},"host":..,"paths":..,"tags":..,"keep":[..],"remove":[..],
 *  "reasons":[{"snapshot":{..},"matches":[..]}]}; oldest first. */
static void print_json_group(const CnForgetPolicy *p, const CnForgetGroup *g, const CnForgetDecision *d) {
        printf("{\"controller\":{\"id\":\"%s\",\"name\":", g->controller->id_hex);
        cli_json_string(stdout, g->controller->name, strlen(g->controller->name));
        printf("},\"host\":");
        if (g->hostname)
                cli_json_string(stdout, g->hostname, strlen(g->hostname));
        else
                printf("null");
        printf(",\"paths\":");
        if (g->paths)
                cli_json_strv(stdout, g->paths, g->n_paths);
        else
                printf("null");
        printf(",\"tags\":");
        if (g->tags)
                cli_json_strv(stdout, g->tags, g->n_tags);
        else
                printf("null");
        for (int pass = 0; pass < 3; pass++) {
                bool first = true;
                printf(",\"%s\":[", pass == 0 ? "keep" : pass == 1 ? "remove" : "reasons");
                for (size_t i = g->n; i > 0; i--) {
                        const CnForgetDecision *x = &d[i - 1];
                        if (x->keep != (pass != 1))
                                continue;
                        if (!first)
                                putchar(',');
                        first = false;
                        if (pass < 2) {
                                cli_json_snapshot(stdout, x->snapshot);
                                continue;
                        }
                        printf("{\"snapshot\":");
                        cli_json_snapshot(stdout, x->snapshot);
                        printf(",\"matches\":[");
                        Row l = {.first = true};
                        reasons(p, x, reason_json, &l);
                        printf("],\"counters\":{");
                        for (size_t r = 0, k = 0; r < _CN_FORGET_RULE_MAX; r++)
                                if (p->keep[r] > 0)
                                        printf("%s\"%s\":%" PRId64, k++ ? "," : "", rule_names[r], x->counters[r]);
                        printf("}}");
                }
                putchar(']');
        }
        putchar('}');
}

/* "keep 7 daily, 4 weekly snapshots, daily snapshots within 7d, all
 * snapshots with tags [keep] and all within 30d of the newest", as restic. */
static void print_policy(const CnForgetPolicy *p) {
        char dur[64];
        bool any = false;
        printf("Applying policy: keep ");
        for (size_t r = 0; r < _CN_FORGET_RULE_MAX; r++)
                if (p->keep[r]) {
                        if (p->keep[r] < 0)
                                printf("%sall %s", any ? ", " : "", r == CN_FORGET_LAST ? "latest" : rule_names[r]);
                        else
                                printf("%s%" PRId64 " %s", any ? ", " : "", p->keep[r],
                                       r == CN_FORGET_LAST ? "latest" : rule_names[r]);
                        any = true;
                }
        if (any)
                printf(" snapshots");
        for (size_t r = CN_FORGET_HOURLY; r < _CN_FORGET_RULE_MAX; r++)
                if (!cn_duration_zero(&p->within_bucket[r])) {
                        printf("%s%s snapshots within %s", any ? ", " : "", rule_names[r],
                               cn_duration_format(&p->within_bucket[r], dur, sizeof dur));
                        any = true;
                }
        for (size_t t = 0; t < p->n_keep_tags; t++) {
                printf("%sall snapshots with tags [", any ? " and " : "");
                for (size_t j = 0; j < p->keep_tags[t].n_tags; j++)
                        printf("%s%s", j ? ", " : "", CLI_ESC(p->keep_tags[t].tags[j]));
                printf("]");
                any = true;
        }
        if (!cn_duration_zero(&p->within)) {
                printf("%sall snapshots within %s of the newest", any ? " and " : "",
                       cn_duration_format(&p->within, dur, sizeof dur));
                any = true;
        }
        printf("%s\n", any ? "" : "nothing (--keep-none)");
}

/* Move the snapshots of list that ids (full ids or unique prefixes) name to
 * its front, each once however often named, and set *ret_n to how many.
 * Every id that names no snapshot or several is reported, and then none is
 * selected: returns 0 or the exit code. */
static int select_named(CnSnapshot *list, size_t n, char *const *ids, size_t n_ids, size_t *ret_n) {
        _cleanup_free_ bool *named = calloc(n ? n : 1, sizeof *named);
        size_t bad = 0, k = 0;
        if (!named) {
                cli_error("forget: out of memory");
                return CLI_EXIT_ERROR;
        }
        for (size_t i = 0; i < n_ids; i++) {
                CnSnapshot *s = cli_find_snapshot(list, n, ids[i]);
                if (s)
                        named[s - list] = true;
                else
                        bad++;
        }
        if (bad) {
                cli_error("%zu of the %zu snapshot ids given name%s no single snapshot (said above): nothing was "
                          "removed",
                          bad, n_ids, bad == 1 ? "s" : "");
                return CLI_EXIT_ERROR;
        }
        /* Positions before k are named, from k to i - 1 not: a swap moves
         * only a snapshot already looked at. */
        for (size_t i = 0; i < n; i++)
                if (named[i]) {
                        CnSnapshot t = list[k];
                        list[k++] = list[i];
                        list[i] = t;
                }
        *ret_n = k;
        return 0;
}

int verb_forget(Cli *cli, int argc, char **argv) {
        enum {
                OPT_KEEP = _OPT_GLOBAL_MAX, /* + CnForgetRule */
                OPT_WITHIN = OPT_KEEP + _CN_FORGET_RULE_MAX,
                OPT_WITHIN_BUCKET, /* + CnForgetRule */
                OPT_KEEP_TAG = OPT_WITHIN_BUCKET + _CN_FORGET_RULE_MAX,
                OPT_KEEP_NONE,
                OPT_PRUNE,
                OPT_MAX_UNUSED,
        };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                CLI_FILTER_LONG,
                {"keep-last", required_argument, NULL, OPT_KEEP + CN_FORGET_LAST},
                {"keep-hourly", required_argument, NULL, OPT_KEEP + CN_FORGET_HOURLY},
                {"keep-daily", required_argument, NULL, OPT_KEEP + CN_FORGET_DAILY},
                {"keep-weekly", required_argument, NULL, OPT_KEEP + CN_FORGET_WEEKLY},
                {"keep-monthly", required_argument, NULL, OPT_KEEP + CN_FORGET_MONTHLY},
                {"keep-yearly", required_argument, NULL, OPT_KEEP + CN_FORGET_YEARLY},
                {"keep-within", required_argument, NULL, OPT_WITHIN},
                {"keep-within-hourly", required_argument, NULL, OPT_WITHIN_BUCKET + CN_FORGET_HOURLY},
                {"keep-within-daily", required_argument, NULL, OPT_WITHIN_BUCKET + CN_FORGET_DAILY},
                {"keep-within-weekly", required_argument, NULL, OPT_WITHIN_BUCKET + CN_FORGET_WEEKLY},
                {"keep-within-monthly", required_argument, NULL, OPT_WITHIN_BUCKET + CN_FORGET_MONTHLY},
                {"keep-within-yearly", required_argument, NULL, OPT_WITHIN_BUCKET + CN_FORGET_YEARLY},
                {"keep-tag", required_argument, NULL, OPT_KEEP_TAG},
                {"keep-none", no_argument, NULL, OPT_KEEP_NONE},
                {"prune", no_argument, NULL, OPT_PRUNE},
                {"max-unused", required_argument, NULL, OPT_MAX_UNUSED},
                {"group-by", required_argument, NULL, 'g'},
                {"dry-run", no_argument, NULL, 'n'},
                {},
        };
        _cleanup_(cn_snapshot_filter_done) CnSnapshotFilter filter = {};
        _cleanup_(cn_holds_done) CnHolds holds = {};
        size_t damaged_holds = 0;
        CnTagList keep_tags[CN_FORGET_MAX_TAG_LISTS] = {};
        CnForgetPolicy p = {.keep_tags = keep_tags};
        CnForgetGroup *groups = NULL;
        CnForgetDecision **decisions = NULL;
        CnSnapshot *list = NULL;
        size_t n = 0, n_groups = 0, removed = 0, failed = 0, to_remove = 0, held = 0;
        unsigned group_by = CN_FORGET_GROUP_HOST | CN_FORGET_GROUP_PATHS;
        bool dry_run = false, keep_none = false, group_by_given = false, prune = false, max_unused = false;
        CnPruneOptions prune_opts = {.percent = true, .max_unused = CN_PRUNE_DEFAULT_MAX_UNUSED_PERCENT};
        int c, r, ret = CLI_EXIT_ERROR;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT "g:n", opts)) >= 0) {
                if (c == 'h') {
                        help();
                        ret = CLI_EXIT_OK;
                        goto out;
                }
                if (c >= OPT_KEEP && c < OPT_KEEP + _CN_FORGET_RULE_MAX) {
                        if (!parse_count(optarg, &p.keep[c - OPT_KEEP])) {
                                ret = cli_usage_error("forget",
                                                      "--keep-%s takes a number (0 to 2147483647) or "
                                                      "'unlimited', not %s",
                                                      rule_names[c - OPT_KEEP], CLI_ESC(optarg));
                                goto out;
                        }
                } else if (c == OPT_WITHIN || (c > OPT_WITHIN_BUCKET && c < OPT_WITHIN_BUCKET + _CN_FORGET_RULE_MAX)) {
                        CnDuration *d = c == OPT_WITHIN ? &p.within : &p.within_bucket[c - OPT_WITHIN_BUCKET];
                        if (cn_duration_parse(optarg, d) < 0) {
                                ret = cli_usage_error("forget",
                                                      "--keep-within%s%s takes a duration such as 30d, 1y6m "
                                                      "or 2d12h (y, m, d, h), not %s",
                                                      c == OPT_WITHIN ? "" : "-",
                                                      c == OPT_WITHIN ? "" : rule_names[c - OPT_WITHIN_BUCKET],
                                                      CLI_ESC(optarg));
                                goto out;
                        }
                } else if (c == OPT_KEEP_TAG) {
                        if (p.n_keep_tags == CN_FORGET_MAX_TAG_LISTS) {
                                ret = cli_usage_error("forget", "at most %d --keep-tag lists", CN_FORGET_MAX_TAG_LISTS);
                                goto out;
                        }
                        if (cn_tag_list_parse(optarg, &keep_tags[p.n_keep_tags]) < 0)
                                goto out;
                        p.n_keep_tags++;
                } else if (c == OPT_KEEP_NONE)
                        keep_none = true;
                else if (c == OPT_PRUNE)
                        prune = true;
                else if (c == OPT_MAX_UNUSED) {
                        if (!cli_parse_max_unused(optarg, &prune_opts)) {
                                ret = cli_usage_error("forget", CLI_MAX_UNUSED_USAGE, CLI_ESC(optarg));
                                goto out;
                        }
                        max_unused = true;
                } else if (c == 'g') {
                        group_by_given = true;
                        if (cn_forget_group_by_parse(optarg, &group_by) < 0) {
                                ret = cli_usage_error("forget",
                                                      "--group-by takes host, paths and tags, "
                                                      "comma-separated ('' for none), not %s",
                                                      CLI_ESC(optarg));
                                goto out;
                        }
                } else if (c == 'n')
                        dry_run = true;
                else if (!cli_filter_option(&filter, c, optarg)) {
                        ret = cli_usage_error("forget", "unknown option");
                        goto out;
                }
        }
        /* Snapshot ids name what to remove: restic's 'forget ID...'. restic
         * then ignores every policy flag without a word; cairn refuses them. */
        char **ids = argv + optind;
        size_t n_ids = (size_t) (argc - optind);
        if (n_ids && (!cn_forget_policy_empty(&p) || keep_none || group_by_given)) {
                ret = cli_usage_error("forget", "give snapshot ids or a policy (--keep-*, --keep-none, --group-by), "
                                                "not both: the ids alone say what to remove");
                goto out;
        }
        if (max_unused && !prune) {
                ret = cli_usage_error("forget", "--max-unused is prune's: give --prune too");
                goto out;
        }
        for (size_t i = 0; i < n_ids; i++) {
                size_t len = strlen(ids[i]);
                if (strcmp(ids[i], "latest") == 0) {
                        ret = cli_usage_error("forget", "forget takes snapshot ids, not 'latest': name the snapshot "
                                                        "by its id ('cairn snapshots' lists them)");
                        goto out;
                }
                if (len == 0 || len > CN_ID_HEX || strspn(ids[i], "0123456789abcdefABCDEF") != len) {
                        ret = cli_usage_error("forget",
                                              "%s is not a snapshot id: give the whole id or its first hex "
                                              "digits ('cairn snapshots' lists them)",
                                              *ids[i] ? CLI_ESC(ids[i]) : "''");
                        goto out;
                }
        }
        if (n_ids && !cn_snapshot_filter_empty(&filter)) {
                ret = cli_usage_error("forget", "--host, --tag and --path select snapshots for a policy; with "
                                                "snapshot ids, the ids alone say what to remove");
                goto out;
        }
        if (n_ids == 0 && cn_forget_policy_empty(&p) && !keep_none) {
                ret = cli_usage_error("forget", "no policy given, so nothing would be kept or removed: give at "
                                                "least one --keep-* option");
                goto out;
        }
        if (n_ids == 0 && cn_forget_policy_empty(&p) && cn_snapshot_filter_empty(&filter)) {
                ret = cli_usage_error("forget", "--keep-none without a policy removes every snapshot the "
                                                "filters select: give --host, --tag or --path to say which");
                goto out;
        }

        r = cli_open(cli, true);
        if (r != 0) {
                ret = r;
                goto out;
        }
        CnController *ctl = NULL;
        if (cli->controller && (r = cli_controller(cli, "", &ctl)) != 0) {
                ret = r;
                goto out;
        }
        r = cli_load_snapshots(cli, ctl, &list, &n);
        if (r != 0) {
                ret = r;
                goto out;
        }
        size_t selected;
        if (n_ids) {
                r = select_named(list, n, ids, n_ids, &selected);
                if (r != 0) {
                        ret = r;
                        goto out;
                }
        } else
                selected = cn_snapshot_filter_list(list, n, &filter);
        /* Every active hold keeps what it covers; a hold object that does not
         * open may be one, so nothing is removed then. */
        r = cn_holds_load(cli->rp, ctl, cli_damaged, cli, &holds, &damaged_holds);
        if (r < 0) {
                ret = cli_repo_error(cli, "cannot read the legal holds", r);
                goto out;
        }
        if (damaged_holds && !dry_run) {
                cli_error("%zu hold object(s) could not be read (said above) and may keep snapshots: forget removes "
                          "nothing until they are repaired ('cairn check' names them); --dry-run shows the rest",
                          damaged_holds);
                goto out;
        }
        p.holds = &holds;
        if (cn_forget_group(list, selected, group_by, &groups, &n_groups) < 0 ||
            !(decisions = calloc(n_groups ? n_groups : 1, sizeof *decisions)))
                goto oom;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        CnTime now = {ts.tv_sec, (uint32_t) ts.tv_nsec};
        for (size_t g = 0; g < n_groups; g++) {
                if (cn_forget_apply(groups[g].snapshots, groups[g].n, &p, now, &decisions[g]) < 0)
                        goto oom;
                /* Kept by a rule, not only held: a hold ends some day, the
                 * policy's consent to an empty group must be explicit.
                 * Snapshots named by id go but those held (no rule is
                 * given): naming them is the consent. */
                size_t kept = 0, by_rules = 0;
                for (size_t i = 0; i < groups[g].n; i++) {
                        const CnForgetDecision *x = &decisions[g][i];
                        kept += x->keep;
                        by_rules += x->keep && (x->reasons.counted || x->reasons.within_bucket || x->reasons.within ||
                                                x->reasons.tags);
                }
                to_remove += groups[g].n - kept;
                if (n_ids)
                        held += kept;
                else if (by_rules == 0 && !keep_none) {
                        char text[2048];
                        cli_error("refusing to remove every snapshot (%zu) of the group %s%s: nothing was "
                                  "removed; give a policy that keeps one, narrow it with --host/--tag/--path, or "
                                  "add --keep-none if that is what you want",
                                  groups[g].n, group_text(&groups[g], text, sizeof text),
                                  kept ? " but those under a legal hold" : "");
                        ret = CLI_EXIT_USAGE;
                        goto out;
                }
        }

        if (cli->json)
                putchar('[');
        else if (!cli->quiet && n_ids)
                printf("Removing %zu snapshot%s named by id (never one under a legal hold)\n", selected,
                       selected == 1 ? "" : "s");
        else if (!cli->quiet)
                print_policy(&p);
        for (size_t g = 0; g < n_groups; g++) {
                if (cli->json) {
                        if (g)
                                putchar(',');
                        print_json_group(&p, &groups[g], decisions[g]);
                        continue;
                }
                if (cli->quiet)
                        continue;
                char text[2048];
                printf("\nsnapshots of %s:\n", group_text(&groups[g], text, sizeof text));
                print_table(&p, decisions[g], groups[g].n, true);
                print_table(&p, decisions[g], groups[g].n, false);
        }
        if (cli->json)
                printf("]\n");
        fflush(stdout);

        /* What this forget removed, for the audit log. */
        const CnSnapshot **gone = dry_run ? NULL : calloc(n ? n : 1, sizeof *gone);
        size_t n_gone = 0;
        for (size_t g = 0; g < n_groups && !dry_run; g++)
                for (size_t i = 0; i < groups[g].n; i++) {
                        const CnSnapshot *s = decisions[g][i].snapshot;
                        if (decisions[g][i].keep)
                                continue;
                        r = cn_snapshot_remove(cli->rp, s);
                        if (r >= 0 && gone)
                                gone[n_gone++] = s;
                        if (r >= 0 || r == -ENOENT) {
                                removed++; /* gone already: another forget took it */
                                continue;
                        }
                        failed++;
                        char what[160];
                        snprintf(what, sizeof what, "cannot remove snapshot %.8s (snapshots/%s/%s)", s->id_hex,
                                 s->controller->id_hex, s->id_hex);
                        (void) cli_repo_error(cli, what, r);
                }
        for (size_t i = 0; i < cn_repo_n_controllers(cli->rp) && n_gone; i++)
                cli_audit_snapshots(cli, cli->rp, cn_repo_controller(cli->rp, i), CN_AUDIT_FORGET, "remove", NULL,
                                    gone, n_gone);
        free(gone);
        if (dry_run)
                cli_info(cli, "\n--dry-run: %zu snapshot%s would be removed; nothing was removed\n", to_remove,
                         to_remove == 1 ? "" : "s");
        else
                cli_info(cli,
                         "\nremoved %zu snapshot%s; the data only they used stays in the repository "
                         "until a prune\n",
                         removed, removed == 1 ? "" : "s");
        if (failed) {
                cli_error("%zu snapshot%s could not be removed (said above); run forget again", failed,
                          failed == 1 ? "" : "s");
                goto out;
        }
        if (prune) {
                cli_info(cli, "\n");
                prune_opts.dry_run = dry_run;
                ret = cli_prune(cli, &prune_opts);
                if (ret != CLI_EXIT_OK || !held)
                        goto out;
        }
        if (held) {
                cli_error("%zu of the snapshots named %s under a legal hold and %s removed (shown as held); "
                          "'cairn hold list' shows the holds, and a hold ends only by 'cairn hold release'",
                          held, held == 1 ? "is" : "are",
                          dry_run     ? "would not be"
                          : held == 1 ? "was not"
                                      : "were not");
                ret = CLI_EXIT_ERROR;
                goto out;
        }
        ret = CLI_EXIT_OK;
        goto out;
oom:
        cli_error("forget: out of memory");
out:
        for (size_t g = 0; decisions && g < n_groups; g++)
                free(decisions[g]);
        free(decisions);
        cn_forget_groups_free(groups, n_groups);
        cn_snapshots_free(list, n);
        for (size_t t = 0; t < CN_FORGET_MAX_TAG_LISTS; t++)
                cn_tag_list_done(&keep_tags[t]);
        return ret;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* forget: remove snapshots by a retention policy or by id (docs/cli/forget.md).
 * The policy is core/forget's; here are the flags, the ids, the table, the
 * JSON and the removal of the snapshot objects. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli-policy.h"
#include "cli.h"
#include "forget.h"
#include "macro.h"
#include "retention.h"

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
              "Policy (restic's rules; a snapshot any rule keeps is kept). Without one, the\n"
              "policy stored for each controller ('cairn retention set') is applied:\n" CLI_POLICY_HELP
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

typedef void (*ReasonFn)(void *ctx, const char *text);

typedef struct Reasons {
        ReasonFn fn;
        void *ctx;
} Reasons;

static void reason_text(const char *text, _unused_ CnForgetReasonKind kind, _unused_ unsigned index, void *u) {
        Reasons *x = u;
        x->fn(x->ctx, text);
}

/* Each reason d was kept for, as restic words it, in restic's order. */
static void reasons(const CnForgetPolicy *p, const CnForgetDecision *d, ReasonFn fn, void *ctx) {
        Reasons x = {fn, ctx};
        cn_forget_reasons(p, &d->reasons, reason_text, &x);
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
                                        printf("%s\"%s\":%" PRId64, k++ ? "," : "",
                                               cn_forget_rule_name((CnForgetRule) r), x->counters[r]);
                        printf("}}");
                }
                putchar(']');
        }
        putchar('}');
}

/* "Applying policy: keep 7 daily, 4 weekly snapshots, daily snapshots
 * within 7d, all snapshots with tags [keep] and all within 30d of the
 * newest", as restic; for a stored policy, whose it is. */
static void print_policy(const CnForgetPolicy *p, const CnController *stored) {
        if (stored)
                printf("Applying the stored retention policy of controller %s: ", CLI_ESC(stored->name));
        else
                printf("Applying policy: ");
        cli_policy_print(stdout, p);
        printf("%s\n", cn_forget_policy_empty(p) ? " (--keep-none)" : "");
}

/* The policies stored for the controllers in scope (c, or every one) into
 * policies (one a controller, by its number in the repository), set[i]
 * when one is. Returns 0, or the exit code after saying why. */
static int load_stored(Cli *cli, const CnController *c, CnForgetPolicy *policies, bool *set) {
        size_t any = 0;
        for (size_t i = 0; i < cn_repo_n_controllers(cli->rp); i++) {
                const CnController *x = cn_repo_controller(cli->rp, i);
                if (c && x != c)
                        continue;
                int r = cn_retention_load(cli->rp, x, &policies[i], &set[i], NULL);
                if (r == -EBADMSG) {
                        cli_error("the retention policy of controller %s cannot be read (an object under "
                                  "retention/%s/ is damaged): forget removes nothing; 'cairn retention show' names "
                                  "it, and 'cairn retention set' stores a policy that replaces it; meanwhile give "
                                  "the policy as --keep-* options",
                                  CLI_ESC(x->name), x->id_hex);
                        return CLI_EXIT_ERROR;
                }
                if (r < 0)
                        return cli_repo_error(cli, "cannot read the stored retention policies", r);
                any += set[i];
        }
        if (any == 0)
                return cli_usage_error("forget",
                                       "no policy given, and %s a stored retention policy, so nothing "
                                       "would be kept or removed: give at least one --keep-* option, or "
                                       "store a policy with 'cairn retention set'",
                                       c ? "the controller has not" : "no controller has");
        return 0;
}

static size_t controller_number(Cli *cli, const CnController *c) {
        size_t i = 0;
        while (i < cn_repo_n_controllers(cli->rp) && cn_repo_controller(cli->rp, i) != c)
                i++;
        return i;
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
                OPT_KEEP_NONE = _OPT_POLICY_MAX,
                OPT_PRUNE,
                OPT_MAX_UNUSED,
        };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                CLI_FILTER_LONG,
                CLI_POLICY_LONG,
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
        CnForgetPolicy *policies = NULL, **group_policy = NULL; /* stored, one a controller; each group's */
        bool *policy_set = NULL;
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
                r = cli_policy_option("forget", &p, keep_tags, c, optarg);
                if (r > 0) {
                        ret = r;
                        goto out;
                }
                if (r == 0)
                        continue;
                if (c == OPT_KEEP_NONE)
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
        /* No rule given: each controller's stored policy (retention.md);
         * flags, --keep-none too, say the policy instead. */
        bool stored = n_ids == 0 && cn_forget_policy_empty(&p) && !keep_none;
        if (!stored && n_ids == 0 && cn_forget_policy_empty(&p) && cn_snapshot_filter_empty(&filter)) {
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
        if (stored) {
                size_t nc = cn_repo_n_controllers(cli->rp);
                if (!(policies = calloc(nc ? nc : 1, sizeof *policies)) ||
                    !(policy_set = calloc(nc ? nc : 1, sizeof *policy_set)))
                        goto oom;
                r = load_stored(cli, ctl, policies, policy_set);
                if (r != 0) {
                        ret = r;
                        goto out;
                }
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
            !(decisions = calloc(n_groups ? n_groups : 1, sizeof *decisions)) ||
            !(group_policy = calloc(n_groups ? n_groups : 1, sizeof *group_policy)))
                goto oom;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        CnTime now = {ts.tv_sec, (uint32_t) ts.tv_nsec};
        for (size_t g = 0; g < n_groups; g++) {
                group_policy[g] = &p;
                if (stored) {
                        /* a controller without a stored policy: its snapshots are left alone */
                        size_t k = controller_number(cli, groups[g].controller);
                        if (!policy_set[k])
                                continue;
                        group_policy[g] = &policies[k];
                        policies[k].holds = &holds;
                }
                if (cn_forget_apply(groups[g].snapshots, groups[g].n, group_policy[g], now, &decisions[g]) < 0)
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
                                  "add --keep-none%s if that is what you want",
                                  groups[g].n, group_text(&groups[g], text, sizeof text),
                                  kept ? " but those under a legal hold" : "",
                                  stored ? " with the policy as --keep-* options (the stored policy is in effect: "
                                           "'cairn retention show')"
                                         : "");
                        ret = CLI_EXIT_USAGE;
                        goto out;
                }
        }

        if (cli->json)
                putchar('[');
        else if (!cli->quiet && n_ids)
                printf("Removing %zu snapshot%s named by id (never one under a legal hold)\n", selected,
                       selected == 1 ? "" : "s");
        else if (!cli->quiet && !stored)
                print_policy(&p, NULL);
        for (size_t i = 0; stored && !cli->quiet && !cli->json && i < cn_repo_n_controllers(cli->rp); i++) {
                const CnController *x = cn_repo_controller(cli->rp, i);
                if (ctl && x != ctl)
                        continue;
                if (policy_set[i])
                        print_policy(&policies[i], x);
                else
                        printf("Controller %s has no stored retention policy: its snapshots are left as they "
                               "are\n",
                               CLI_ESC(x->name));
        }
        for (size_t g = 0, k = 0; g < n_groups; g++) {
                if (!decisions[g])
                        continue;
                if (cli->json) {
                        if (k++)
                                putchar(',');
                        print_json_group(group_policy[g], &groups[g], decisions[g]);
                        continue;
                }
                if (cli->quiet)
                        continue;
                char text[2048];
                printf("\nsnapshots of %s:\n", group_text(&groups[g], text, sizeof text));
                print_table(group_policy[g], decisions[g], groups[g].n, true);
                print_table(group_policy[g], decisions[g], groups[g].n, false);
        }
        if (cli->json)
                printf("]\n");
        fflush(stdout);

        /* What this forget removed, for the audit log. */
        const CnSnapshot **gone = dry_run ? NULL : calloc(n ? n : 1, sizeof *gone);
        size_t n_gone = 0;
        for (size_t g = 0; g < n_groups && !dry_run; g++)
                for (size_t i = 0; decisions[g] && i < groups[g].n; i++) {
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
                cli_audit_snapshots(cli, cli->rp, cn_repo_controller(cli->rp, i), CN_AUDIT_FORGET, CN_AUDIT_OK,
                                    "remove", NULL, gone, n_gone);
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
        free(group_policy);
        free(policies);
        free(policy_set);
        cn_forget_groups_free(groups, n_groups);
        cn_snapshots_free(list, n);
        for (size_t t = 0; t < CN_FORGET_MAX_TAG_LISTS; t++)
                cn_tag_list_done(&keep_tags[t]);
        return ret;
}

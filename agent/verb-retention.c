/* SPDX-License-Identifier: GPL-3.0-or-later */
/* retention: the policy forget applies when it is given none, stored per
 * controller (docs/cli/retention.md); core/retention's objects. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "certificate.h"
#include "cli-policy.h"
#include "cli.h"
#include "hold.h"
#include "macro.h"
#include "retention.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] retention set [--controller C] POLICY\n"
              "       cairn [-r REPO] retention show [--controller C] [--snapshots] [--json]\n"
              "       cairn [-r REPO] retention clear [--controller C]\n"
              "\n"
              "The retention policy of a controller: the rules 'cairn forget' applies to its\n"
              "snapshots when it is given none. set stores a new policy (it replaces the one in\n"
              "effect) and prints its id; clear leaves the controller without one; show prints\n"
              "the policy in effect, and with --snapshots what it keeps of each snapshot now,\n"
              "by which rules, and until when.\n"
              "\n"
              "Policy (forget's rules; a snapshot any rule keeps is kept):\n" CLI_POLICY_HELP "\n"
              "A snapshot under a legal hold ('cairn hold') is kept whatever the policy says.\n",
              stdout);
}

static void damaged(const char *name, int error, _unused_ void *userdata) {
        cli_warn("%s is %s; skipped: it may be the retention policy in effect, so forget does not use the stored "
                 "policy until 'cairn retention set' stores one that replaces it",
                 CLI_ESC(name), cli_damage_reason(error));
}

static const char *rfc3339(int64_t t, char buf[CN_RFC3339_BYTES]) {
        cn_certificate_time(t, buf);
        return buf;
}

static json_t *retention_json(const CnRetention *x) {
        char t[CN_RFC3339_BYTES];
        if (!x)
                return json_null();
        return json_pack("{s:s, s:s%, s:s, s:o, s:o}", "id", x->id_hex, "short_id", x->id_hex, (size_t) 8, "created",
                         rfc3339(x->created, t), "creator", cli_json_text(x->creator), "policy",
                         cn_retention_policy_json(&x->policy));
}

static int set(Cli *cli, CnForgetPolicy *p, bool clear) {
        _cleanup_(cn_retentions_done) CnRetentions cur = {};
        _cleanup_(cn_retention_done) CnRetention stored = {};
        char creator[CLI_USER_AT_HOST_MAX];
        CnController *c;
        int r;

        r = cli_open(cli, true);
        if (r != 0)
                return r;
        r = cli_controller(cli, "a retention policy belongs to one of them", &c);
        if (r != 0)
                return r;
        r = cn_retentions_load(cli->rp, c, damaged, cli, &cur);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the stored retention policies", r);
        bool in_effect = cur.effective && !cn_forget_policy_empty(&cur.effective->policy);
        if (clear && !in_effect && cur.n_heads <= 1 && cur.n_damaged_heads == 0) {
                cli_info(cli, "controller %s has no stored retention policy; nothing to clear\n", CLI_ESC(c->name));
                return CLI_EXIT_OK;
        }
        r = cn_retention_set(cli->rp, c, &cur, p, cli_user_at_host(creator), time(NULL), &stored);
        if (r < 0)
                return cli_repo_error(
                        cli, clear ? "cannot clear the retention policy" : "cannot store the retention policy", r);
        CnAuditEvent *e = cli_audit_event(CN_AUDIT_RETENTION, clear ? "clear" : "set");
        if (e && !clear) {
                char flags[512];
                (void) cn_audit_event_text(e, CN_AUDIT_F_SCOPE, cli_policy_flags(p, flags, sizeof flags));
        }
        cli_audit(cli, c, e);
        if (cur.n_heads > 1)
                cli_warn("%zu retention policies of controller %s had been set at the same time; this one replaces "
                         "them all",
                         cur.n_heads, CLI_ESC(c->name));
        if (clear) {
                cli_info(cli,
                         "cleared the retention policy of controller %s: forget needs --keep-* options for it "
                         "again\n",
                         CLI_ESC(c->name));
                return CLI_EXIT_OK;
        }
        /* Standard output is the id alone (id=$(cairn retention set ...)); -v says more. */
        if (cli->json)
                printf("{\"id\":\"%s\"}\n", stored.id_hex);
        else
                printf("%s\n", stored.id_hex);
        if (cli->verbose) {
                fprintf(stderr, "stored the retention policy of controller %s: ", CLI_ESC(c->name));
                cli_policy_print(stderr, p);
                fputc('\n', stderr);
        }
        return CLI_EXIT_OK;
}

/* Whether the stored policy l holds is one in effect (not cleared). */
static bool in_effect(const CnRetentions *l) {
        return l->effective && !cn_forget_policy_empty(&l->effective->policy);
}

static void show_text(const CnController *c, const CnRetentions *l) {
        char t[CN_RFC3339_BYTES];
        printf("controller %s: ", CLI_ESC(c->name));
        if (in_effect(l)) {
                cli_policy_print(stdout, &l->effective->policy);
                printf("\n  set %s by %s (policy %.8s)\n", rfc3339(l->effective->created, t),
                       CLI_ESC(l->effective->creator), l->effective->id_hex);
        } else if (l->effective)
                printf("no stored retention policy (cleared %s by %s)\n", rfc3339(l->effective->created, t),
                       CLI_ESC(l->effective->creator));
        else
                printf("no stored retention policy\n");
        for (size_t i = 0; l->n_heads > 1 && i < l->n; i++) {
                const CnRetention *x = &l->v[i];
                if (x->superseded || x == l->effective)
                        continue;
                printf("  also set at the same time, not in effect (the newer one is): policy %.8s, %s by %s: ",
                       x->id_hex, rfc3339(x->created, t), CLI_ESC(x->creator));
                cli_policy_print(stdout, &x->policy);
                putchar('\n');
        }
        if (l->n_damaged_heads)
                printf("  %zu policy object%s could not be read (said above): forget does not use the stored policy "
                       "until 'cairn retention set' replaces %s\n",
                       l->n_damaged_heads, l->n_damaged_heads == 1 ? "" : "s", l->n_damaged_heads == 1 ? "it" : "them");
}

static json_t *show_json(const CnController *c, const CnRetentions *l) {
        json_t *concurrent = json_array();
        for (size_t i = 0; concurrent && l->n_heads > 1 && i < l->n; i++)
                if (!l->v[i].superseded && &l->v[i] != l->effective &&
                    json_array_append_new(concurrent, retention_json(&l->v[i])) < 0) {
                        json_decref(concurrent);
                        concurrent = NULL;
                }
        return json_pack("{s:{s:s, s:o}, s:o, s:b, s:o, s:I}", "controller", "id", c->id_hex, "name",
                         cli_json_text(c->name), "retention", retention_json(in_effect(l) ? l->effective : NULL),
                         "cleared", l->effective && !in_effect(l), "concurrent", concurrent, "damaged",
                         (json_int_t) l->n_damaged_heads);
}

/* What the policy keeps of each snapshot of c now (retention show --snapshots). */
static int show_snapshots(Cli *cli, CnController *c, const CnRetentions *l, json_t *out) {
        _cleanup_(cn_holds_done) CnHolds holds = {};
        _cleanup_free_ CnRetentionVerdict *v = NULL;
        CnSnapshot *list = NULL;
        size_t n = 0;
        char t[CN_RFC3339_BYTES], when[64];
        int r;

        CnForgetPolicy p = in_effect(l) ? l->effective->policy : (CnForgetPolicy){};
        r = cn_holds_load(cli->rp, c, cli_damaged, cli, &holds, NULL);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the legal holds", r);
        p.holds = &holds;
        r = cli_load_snapshots(cli, c, &list, &n);
        if (r != 0)
                return r;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (!(v = calloc(n ? n : 1, sizeof *v)) ||
            (r = cn_retention_expiry(&p, list, n, (CnTime){ts.tv_sec, (uint32_t) ts.tv_nsec}, v)) < 0) {
                cn_snapshots_free(list, n);
                return cli_repo_error(cli, "cannot apply the retention policy", v ? r : -ENOMEM);
        }
        for (size_t i = 0; i < n; i++) {
                const CnRetentionVerdict *x = &v[i];
                if (out) {
                        json_t *rules = json_array();
                        for (size_t k = 0; rules && k < x->n_rules; k++)
                                if (json_array_append_new(
                                            rules, json_pack("{s:s, s:o}", "rule", x->rules[k].text, "expiry",
                                                             x->rules[k].has_expiry
                                                                     ? json_string(rfc3339(x->rules[k].expiry.sec, t))
                                                                     : json_null())) < 0) {
                                        json_decref(rules);
                                        rules = NULL;
                                }
                        if (json_array_append_new(out,
                                                  json_pack("{s:s, s:s, s:b, s:b, s:o, s:o}", "snapshot",
                                                            list[i].id_hex, "time", rfc3339(list[i].time.sec, t),
                                                            "keep", x->keep, "held", x->held, "rules", rules, "expiry",
                                                            x->has_expiry ? json_string(rfc3339(x->expiry.sec, t))
                                                                          : json_null())) < 0) {
                                cn_snapshots_free(list, n);
                                return cli_repo_error(cli, "cannot list the snapshots", -ENOMEM);
                        }
                        continue;
                }
                if (!x->keep)
                        snprintf(when, sizeof when, "removed by the next forget");
                else if (x->held)
                        snprintf(when, sizeof when, "held: kept until the hold is released");
                else if (x->counted)
                        snprintf(when, sizeof when, "kept: no date (a count keeps it)");
                else if (!x->has_expiry)
                        snprintf(when, sizeof when, "kept: until after the year 9999");
                else
                        snprintf(when, sizeof when, "kept until a snapshot of %s or newer", rfc3339(x->expiry.sec, t));
                printf("  %.8s  %s  %s\n", list[i].id_hex, rfc3339(list[i].time.sec, t), when);
                for (size_t k = 0; k < x->n_rules; k++) {
                        printf("            %s", CLI_ESC(x->rules[k].text));
                        if (x->rules[k].has_expiry)
                                printf(" (until a snapshot of %s or newer)", rfc3339(x->rules[k].expiry.sec, t));
                        putchar('\n');
                }
        }
        cn_snapshots_free(list, n);
        return 0;
}

static int show(Cli *cli, bool snapshots) {
        CnController *only = NULL;
        json_t *all = cli->json ? json_array() : NULL;
        int r = cli_open(cli, true);
        if (r != 0)
                goto out;
        if (cli->controller && (r = cli_controller(cli, "", &only)) != 0)
                goto out;
        for (size_t i = 0; i < cn_repo_n_controllers(cli->rp); i++) {
                _cleanup_(cn_retentions_done) CnRetentions l = {};
                CnController *c = cn_repo_controller(cli->rp, i);
                if (only && c != only)
                        continue;
                r = cn_retentions_load(cli->rp, c, damaged, cli, &l);
                if (r < 0) {
                        r = cli_repo_error(cli, "cannot read the stored retention policies", r);
                        goto out;
                }
                if (!cli->json) {
                        show_text(c, &l);
                        if (snapshots && (r = show_snapshots(cli, c, &l, NULL)) != 0)
                                goto out;
                        continue;
                }
                json_t *o = show_json(c, &l), *s = snapshots ? json_array() : NULL;
                if (o && snapshots && (!s || json_object_set_new(o, "snapshots", s) < 0))
                        o = (json_decref(o), NULL);
                if (o && s && (r = show_snapshots(cli, c, &l, s)) != 0) {
                        json_decref(o);
                        goto out;
                }
                if (!o || json_array_append_new(all, o) < 0) {
                        r = cli_repo_error(cli, "cannot show the retention policies", -ENOMEM);
                        goto out;
                }
        }
        if (cli->json)
                return cli_json_print(TAKE_PTR(all));
        return CLI_EXIT_OK;
out:
        json_decref(all);
        return r;
}

int verb_retention(Cli *cli, int argc, char **argv) {
        enum { OPT_SNAPSHOTS = _OPT_POLICY_MAX };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                CLI_POLICY_LONG,
                {"snapshots", no_argument, NULL, OPT_SNAPSHOTS},
                {},
        };
        CnTagList tags[CN_FORGET_MAX_TAG_LISTS] = {};
        CnForgetPolicy p = {};
        bool snapshots = false, rules = false;
        int c, r = CLI_EXIT_OK;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        goto out;
                }
                if (c == OPT_SNAPSHOTS) {
                        snapshots = true;
                        continue;
                }
                if (c == OPT_POLICY_KEEP_TAG) {
                        r = cli_usage_error("retention", "--keep-tag is forget's alone: a stored policy keeps by "
                                                         "counts and durations; to keep tagged snapshots for good, "
                                                         "put a hold on the tag ('cairn hold add --tag T')");
                        goto out;
                }
                r = cli_policy_option("retention", &p, tags, c, optarg);
                if (r > 0)
                        goto out;
                if (r < 0) {
                        r = cli_usage_error("retention", "unknown option");
                        goto out;
                }
                rules = true;
        }
        r = CLI_EXIT_OK;
        if (optind >= argc) {
                r = cli_usage_error("retention", "give a subcommand: set, show or clear");
                goto out;
        }
        const char *sub = argv[optind];
        bool is_set = strcmp(sub, "set") == 0, is_show = strcmp(sub, "show") == 0, is_clear = strcmp(sub, "clear") == 0;
        if (!is_set && !is_show && !is_clear) {
                r = cli_usage_error("retention", "unknown subcommand '%s'", CLI_ESC(sub));
                goto out;
        }
        if (argc - optind != 1) {
                r = cli_usage_error("retention", "too many arguments");
                goto out;
        }
        if (!is_set && rules) {
                r = cli_usage_error("retention", "the --keep-* options are for retention set");
                goto out;
        }
        if (!is_show && snapshots) {
                r = cli_usage_error("retention", "--snapshots is for retention show");
                goto out;
        }
        if (is_set && cn_forget_policy_empty(&p)) {
                r = cli_usage_error("retention", "retention set needs at least one --keep-* rule that keeps "
                                                 "something; 'cairn retention clear' removes the policy");
                goto out;
        }
        if (is_show)
                r = show(cli, snapshots);
        else
                r = set(cli, &p, is_clear);
out:
        for (size_t t = 0; t < CN_FORGET_MAX_TAG_LISTS; t++)
                cn_tag_list_done(&tags[t]);
        return r;
}

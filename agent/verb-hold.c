/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hex.h"
#include "hold.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] hold add (--snapshot ID | --controller C | --path PATTERN | --tag T)\n"
              "                                --reason TEXT [--reference REF] [--until YYYY-MM-DD]\n"
              "       cairn [-r REPO] hold list [--json] [--controller C]\n"
              "       cairn [-r REPO] hold release ID --reason TEXT\n"
              "\n"
              "A legal hold keeps a snapshot, a controller's snapshots, the snapshots with a tag,\n"
              "or the snapshots that may hold files under an absolute path pattern, from forget,\n"
              "prune and erasure until it is released. --until only flags the hold for review\n"
              "after that date (UTC); it never ends it. Releasing is recorded with its reason.\n",
              stdout);
}

/* "YYYY-MM-DD" as 00:00 UTC of that day. */
static int parse_date(const char *s, int64_t *ret) {
        struct tm tm = {};
        const char *end = strptime(s, "%Y-%m-%d", &tm);
        if (!end || *end || strlen(s) != 10)
                return -EINVAL;
        struct tm asked = tm, back;
        time_t t = timegm(&tm);
        /* timegm() moves 2026-02-30 to March: refuse a day the month lacks */
        if (t == (time_t) -1 || !gmtime_r(&t, &back) || back.tm_mday != asked.tm_mday || back.tm_mon != asked.tm_mon)
                return -EINVAL;
        *ret = t;
        return 0;
}

static const char *utc_date(int64_t sec, char buf[32]) {
        time_t t = (time_t) sec;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d", &tm) == 0)
                snprintf(buf, 32, "%lld", (long long) sec);
        return buf;
}

static bool review_due(const CnHold *h, int64_t now) {
        return cn_hold_active(h) && h->has_review && now >= h->review;
}

/* Open the repository and load the holds of --controller (of every
 * controller without it), warning about each that does not open and then
 * about them all. */
static int load(Cli *cli, CnHolds *ret) {
        CnController *c = NULL;
        size_t damaged = 0;
        int r = cli_open(cli, true);
        if (r != 0)
                return r;
        if (cli->controller && (r = cli_controller(cli, "", &c)) != 0)
                return r;
        r = cn_holds_load(cli->rp, c, cli_damaged, cli, ret, &damaged);
        if (r < 0)
                return cli_repo_error(cli, "cannot list holds", r);
        if (damaged)
                cli_warn("%zu hold object%s could not be read: the list below may miss holds or releases, and "
                         "forget and prune delete nothing until %s repaired",
                         damaged, damaged == 1 ? "" : "s", damaged == 1 ? "it is" : "they are");
        return 0;
}

static CnHold *find(CnHolds *holds, const char *spec) {
        CnHold *h = NULL;
        int r = cn_holds_find(holds, spec, &h);
        if (r == 1)
                return h;
        if (r > 1)
                cli_error("ambiguous: %d holds start with %s; give more digits of the id ('cairn hold list --json' "
                          "shows them whole)",
                          r, CLI_ESC(spec));
        else if (r == 0)
                cli_error("no hold %s; 'cairn hold list' lists them", CLI_ESC(spec));
        else
                cli_error("%s is not a hold id: give the first hex digits of one ('cairn hold list' lists them)",
                          CLI_ESC(spec));
        return NULL;
}

static void list_json(const CnHolds *holds, int64_t now) {
        putchar('[');
        for (size_t i = 0; i < holds->n; i++) {
                const CnHold *h = &holds->v[i];
                printf("%s{\"id\":\"%s\",\"short_id\":\"%.8s\",\"controller\":{\"id\":\"%s\",\"name\":", i ? "," : "",
                       h->id_hex, h->id_hex, h->controller->id_hex);
                cli_json_string(stdout, h->controller->name, strlen(h->controller->name));
                printf("},\"scope\":\"%s\",\"value\":", cn_hold_scope_name(h->scope));
                cli_json_string(stdout, h->value, strlen(h->value));
                printf(",\"reason\":");
                cli_json_string(stdout, h->reason, strlen(h->reason));
                printf(",\"reference\":");
                cli_json_string(stdout, h->reference, strlen(h->reference));
                printf(",\"creator\":");
                cli_json_string(stdout, h->creator, strlen(h->creator));
                printf(",\"created\":%lld,\"review\":", (long long) h->created);
                if (h->has_review)
                        printf("%lld", (long long) h->review);
                else
                        printf("null");
                printf(",\"review_due\":%s,\"active\":%s,\"release\":", review_due(h, now) ? "true" : "false",
                       cn_hold_active(h) ? "true" : "false");
                if (h->release) {
                        printf("{\"reason\":");
                        cli_json_string(stdout, h->release->reason, strlen(h->release->reason));
                        printf(",\"creator\":");
                        cli_json_string(stdout, h->release->creator, strlen(h->release->creator));
                        printf(",\"time\":%lld}", (long long) h->release->created);
                } else
                        printf("null");
                putchar('}');
        }
        printf("]\n");
}

static void list_text(const CnHolds *holds, int64_t now) {
        size_t active = 0;
        printf("%-8s  %-19s  %-12s  %-10s  %-24s  %s\n", "ID", "Created", "Controller", "Status", "Scope", "Reason");
        for (size_t i = 0; i < holds->n; i++) {
                const CnHold *h = &holds->v[i];
                char t[64], scope[CLI_ESCAPE_MAX + 16], d[32];
                const char *status = !cn_hold_active(h) ? "released" : review_due(h, now) ? "review" : "active";
                active += cn_hold_active(h);
                if (h->scope == CN_HOLD_CONTROLLER)
                        snprintf(scope, sizeof scope, "controller");
                else if (h->scope == CN_HOLD_SNAPSHOT)
                        snprintf(scope, sizeof scope, "snapshot %.8s", h->value);
                else
                        snprintf(scope, sizeof scope, "%s %s", cn_hold_scope_name(h->scope), CLI_ESC(h->value));
                printf("%.8s  %-19s  %-12s  %-10s  %-24s  ", h->id_hex, cli_time(h->created, t),
                       CLI_ESC(h->controller->name), status, scope);
                cli_print_escaped(stdout, h->reason, strlen(h->reason));
                putchar('\n');
                printf("          by %s", CLI_ESC(h->creator));
                if (*h->reference)
                        printf("; reference %s", CLI_ESC(h->reference));
                if (h->has_review)
                        printf("; review %s %s", review_due(h, now) ? "due since" : "after", utc_date(h->review, d));
                putchar('\n');
                if (h->release) {
                        printf("          released %s by %s: ", cli_time(h->release->created, t),
                               CLI_ESC(h->release->creator));
                        cli_print_escaped(stdout, h->release->reason, strlen(h->release->reason));
                        putchar('\n');
                }
        }
        printf("%zu hold%s, %zu active\n", holds->n, holds->n == 1 ? "" : "s", active);
}

/* The snapshot --snapshot names: "latest" of one controller, or an id prefix. */
static int find_snapshot(Cli *cli, const char *spec, CnHold *h) {
        CnSnapshot *list = NULL, *s = NULL;
        CnController *only = NULL;
        size_t n = 0;
        int r;

        if (cli->controller && (r = cli_controller(cli, "", &only)) != 0)
                return r;
        if (strcmp(spec, "latest") == 0 && !only &&
            (r = cli_controller(cli, "'latest' means the newest snapshot of one of them", &only)) != 0)
                return r;
        r = cli_load_snapshots(cli, only, &list, &n);
        if (r != 0)
                return r;
        s = cli_find_snapshot(list, n, spec);
        if (!s) {
                cn_snapshots_free(list, n);
                return CLI_EXIT_ERROR;
        }
        h->controller = s->controller;
        h->value = strdup(s->id_hex);
        cn_snapshots_free(list, n);
        return h->value ? 0 : cli_repo_error(cli, "cannot add the hold", -ENOMEM);
}

static int hold_add(Cli *cli, const char *snapshot, bool controller_scope, const char *path, const char *tag,
                    const char *reason, const char *reference, const char *until) {
        char creator[CLI_USER_AT_HOST_MAX];
        CnHold h = {.reason = (char *) reason,
                    .reference = (char *) (reference ? reference : ""),
                    .creator = (char *) cli_user_at_host(creator),
                    .created = time(NULL)};
        _cleanup_free_ char *value = NULL;
        int r;

        if (!!snapshot + controller_scope + !!path + !!tag != 1)
                return cli_usage_error("hold", "hold add takes one scope: --snapshot ID, --controller C, "
                                               "--path PATTERN or --tag T");
        if (!reason || !*reason)
                return cli_usage_error("hold", "hold add needs --reason TEXT: why the data must be kept");
        if (strlen(reason) > CN_MAX_HOLD_REASON_BYTES)
                return cli_usage_error("hold", "--reason is longer than %u bytes", CN_MAX_HOLD_REASON_BYTES);
        if (strlen(h.reference) > CN_MAX_HOLD_REFERENCE_BYTES)
                return cli_usage_error("hold", "--reference is longer than %u bytes", CN_MAX_HOLD_REFERENCE_BYTES);
        if (until) {
                if (parse_date(until, &h.review) < 0)
                        return cli_usage_error("hold", "--until %s is not a date: give YYYY-MM-DD", CLI_ESC(until));
                h.has_review = true;
        }
        if (path) {
                CnPatterns p = {};
                if (path[0] != '/')
                        return cli_usage_error("hold",
                                               "--path %s is not absolute: give a pattern starting with '/' "
                                               "(as the paths 'cairn snapshots' shows)",
                                               CLI_ESC(path));
                if (strlen(path) > CN_MAX_PATH_BYTES)
                        return cli_usage_error("hold", "--path is longer than %u bytes", CN_MAX_PATH_BYTES);
                r = cn_patterns_add(&p, path);
                cn_patterns_done(&p);
                if (r < 0)
                        return cli_usage_error("hold", "--path %s is not a pattern", CLI_ESC(path));
        }
        if (tag && (!*tag || strlen(tag) > CN_MAX_LABEL_BYTES))
                return cli_usage_error("hold", "--tag must be 1 to %u bytes", CN_MAX_LABEL_BYTES);
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        if (snapshot) {
                h.scope = CN_HOLD_SNAPSHOT;
                r = find_snapshot(cli, snapshot, &h);
                value = h.value;
        } else {
                r = cli_controller(cli, "a hold belongs to one of them", &h.controller);
                if (r == 0 && controller_scope) {
                        h.scope = CN_HOLD_CONTROLLER;
                        h.value = value = strdup(h.controller->id_hex);
                        if (!value)
                                r = cli_repo_error(cli, "cannot add the hold", -ENOMEM);
                } else {
                        h.scope = path ? CN_HOLD_PATH : CN_HOLD_TAG;
                        h.value = (char *) (path ? path : tag);
                }
        }
        if (r != 0)
                return r;
        r = cn_hold_save(cli->rp, &h);
        if (r < 0)
                return cli_repo_error(cli, "cannot add the hold", r);
        CnAuditEvent *e = cli_audit_event(CN_AUDIT_HOLD, "add");
        if (e) {
                static const char *const scopes[] = {"", "snapshot", "controller", "path", "tag"};
                uint8_t id[CN_ID_BYTES];
                (void) cn_audit_event_id(e, CN_AUDIT_F_HOLD, h.id);
                (void) cn_audit_event_text(e, CN_AUDIT_F_SCOPE, scopes[h.scope]);
                if (h.scope == CN_HOLD_SNAPSHOT && cn_hex_decode(h.value, id, CN_ID_BYTES) == 0)
                        (void) cn_audit_event_id(e, CN_AUDIT_F_SNAPSHOT, id);
                else if (h.scope == CN_HOLD_PATH)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_PATH, h.value, strlen(h.value));
                else if (h.scope == CN_HOLD_TAG)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_NAME, h.value, strlen(h.value));
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_TEXT, h.reason, strlen(h.reason));
                if (h.reference && *h.reference)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_TEXT, h.reference, strlen(h.reference));
        }
        cli_audit(cli, h.controller, e);
        if (cli->json)
                printf("{\"id\":\"%s\"}\n", h.id_hex);
        else
                printf("%s\n", h.id_hex);
        /* Standard output is the id alone (id=$(cairn hold add ...)); -v says more. */
        if (cli->verbose && h.scope == CN_HOLD_CONTROLLER)
                fprintf(stderr, "added a hold on controller %s\n", CLI_ESC(h.controller->name));
        else if (cli->verbose)
                fprintf(stderr, "added a hold on %s %s of controller %s\n", cn_hold_scope_name(h.scope), CLI_ESC(h.value),
                        CLI_ESC(h.controller->name));
        return CLI_EXIT_OK;
}

static int hold_release(Cli *cli, const char *spec, const char *reason) {
        char creator[CLI_USER_AT_HOST_MAX], t[64];
        CnHolds holds = {};
        CnHold *h;
        int r;

        if (!reason || !*reason)
                return cli_usage_error("hold", "hold release needs --reason TEXT: why the data may go now");
        if (strlen(reason) > CN_MAX_HOLD_REASON_BYTES)
                return cli_usage_error("hold", "--reason is longer than %u bytes", CN_MAX_HOLD_REASON_BYTES);
        r = load(cli, &holds);
        if (r != 0)
                return r;
        h = find(&holds, spec);
        if (!h) {
                cn_holds_done(&holds);
                return CLI_EXIT_ERROR;
        }
        CnHoldRelease rel = {
                .reason = (char *) reason, .creator = (char *) cli_user_at_host(creator), .created = time(NULL)};
        r = cn_hold_release(cli->rp, &holds, h, &rel);
        if (r == -EALREADY) {
                cli_error("hold %s was already released on %s by %s (%s); nothing to do", h->id_hex,
                          cli_time(h->release->created, t), CLI_ESC(h->release->creator), CLI_ESC(h->release->reason));
                cn_holds_done(&holds);
                return CLI_EXIT_ERROR;
        }
        if (r < 0) {
                cn_holds_done(&holds);
                return cli_repo_error(cli, "cannot release the hold", r);
        }
        cli_info(cli, "released hold %s\n", h->id_hex);
        CnController *c = h->controller;
        CnAuditEvent *e = cli_audit_event(CN_AUDIT_RELEASE, "release");
        if (e) {
                (void) cn_audit_event_id(e, CN_AUDIT_F_HOLD, h->id);
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_TEXT, reason, strlen(reason));
        }
        cli_audit(cli, c, e);
        cn_holds_done(&holds);
        /* What the hold deferred is erased now (docs/cli/erase.md). */
        return cli_erase_pending(cli, c);
}

int verb_hold(Cli *cli, int argc, char **argv) {
        enum { OPT_SNAPSHOT = _OPT_GLOBAL_MAX, OPT_PATH, OPT_TAG, OPT_REASON, OPT_REFERENCE, OPT_UNTIL };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
                {"path", required_argument, NULL, OPT_PATH},
                {"tag", required_argument, NULL, OPT_TAG},
                {"reason", required_argument, NULL, OPT_REASON},
                {"reference", required_argument, NULL, OPT_REFERENCE},
                {"until", required_argument, NULL, OPT_UNTIL},
                {},
        };
        const char *snapshot = NULL, *path = NULL, *tag = NULL, *reason = NULL, *reference = NULL, *until = NULL;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == OPT_SNAPSHOT)
                        snapshot = optarg;
                else if (c == OPT_PATH)
                        path = optarg;
                else if (c == OPT_TAG)
                        tag = optarg;
                else if (c == OPT_REASON)
                        reason = optarg;
                else if (c == OPT_REFERENCE)
                        reference = optarg;
                else if (c == OPT_UNTIL)
                        until = optarg;
                else
                        return cli_usage_error("hold", "unknown option");
        }
        if (optind >= argc)
                return cli_usage_error("hold", "give a subcommand: add, list or release ID");
        const char *sub = argv[optind];
        bool is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0,
             is_release = strcmp(sub, "release") == 0;
        if (!is_add && !is_list && !is_release)
                return cli_usage_error("hold", "unknown subcommand '%s'", CLI_ESC(sub));
        if (argc - optind != (is_release ? 2 : 1))
                return cli_usage_error("hold", is_release ? "hold release takes one hold ID" : "too many arguments");
        if (!is_add && (snapshot || path || tag || reference || until))
                return cli_usage_error("hold", "--snapshot, --path, --tag, --reference and --until are for hold add");
        if (is_list && reason)
                return cli_usage_error("hold", "--reason is for hold add and hold release");
        if (is_add)
                /* --controller from the command line (not CAIRN_CONTROLLER) with no other scope. */
                return hold_add(cli, snapshot, cli->controller && !snapshot && !path && !tag, path, tag, reason,
                                reference, until);
        if (is_release)
                return hold_release(cli, argv[optind + 1], reason);

        CnHolds holds = {};
        r = load(cli, &holds);
        if (r != 0)
                return r;
        if (cli->json)
                list_json(&holds, time(NULL));
        else
                list_text(&holds, time(NULL));
        cn_holds_done(&holds);
        return CLI_EXIT_OK;
}

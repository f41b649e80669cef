/* SPDX-License-Identifier: GPL-3.0-or-later */
/* request: access, erasure, rectification and disclosure requests, their
 * dates and outcome, linked to what answered them (docs/cli/request.md);
 * core/request's objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "certificate.h"
#include "cli.h"
#include "hex.h"
#include "macro.h"
#include "request.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] request add --kind access|erasure|rectification|disclosure --reference REF\n"
              "                                   [--received DATE] [--subject S | --path PATTERN | --controller C]\n"
              "                                   [--note TEXT]\n"
              "       cairn [-r REPO] request close ID --outcome answered|refused|partial|withdrawn\n"
              "                                   [--export DIGEST] [--certificate ID] [--note TEXT]\n"
              "       cairn [-r REPO] request list [--open] [--subject S | --path PATTERN] [--json]\n"
              "       cairn [-r REPO] request show ID [--json]\n"
              "\n"
              "The requests a controller received about the data kept for it: when, under which\n"
              "reference, about what, and how they were answered. add prints the new request's\n"
              "id; close records the outcome once, with the export (the SHA-256 'cairn export'\n"
              "prints) or the erasure certificate that answered it. list shows every request,\n"
              "the open ones with how many days they are open. DATE is YYYY-MM-DD or\n"
              "YYYY-MM-DDTHH:MM:SSZ (UTC; default now). A subject or path is kept only as a\n"
              "keyed pseudonym: list --subject S finds the requests about S.\n",
              stdout);
}

static void damaged(const char *name, int error, _unused_ void *userdata) {
        cli_warn("%s is %s; skipped: a request or its closing is not listed; put it back from a copy of the "
                 "repository ('cairn check' names it)",
                 CLI_ESC(name), cli_damage_reason(error));
}

static const char *rfc3339(int64_t t, char buf[CN_RFC3339_BYTES]) {
        cn_certificate_time(t, buf);
        return buf;
}

/* "YYYY-MM-DD" (00:00 UTC) or "YYYY-MM-DDTHH:MM:SSZ": a real UTC second,
 * written back the same (no 2026-02-30, no 24:00:00). */
static int parse_date(const char *s, int64_t *ret) {
        char back[CN_RFC3339_BYTES], full[CN_RFC3339_BYTES];
        struct tm tm = {};
        if (strlen(s) == 10)
                snprintf(full, sizeof full, "%sT00:00:00Z", s);
        else if (strlen(s) == CN_RFC3339_BYTES - 1)
                memcpy(full, s, sizeof full);
        else
                return -EINVAL;
        if (sscanf(full, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                   &tm.tm_sec) != 6)
                return -EINVAL;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t t = timegm(&tm);
        if (t == (time_t) -1 || t < 0 || t > CN_REQUEST_MAX_TIME)
                return -EINVAL;
        cn_certificate_time(t, back);
        if (strcmp(back, full) != 0)
                return -EINVAL;
        *ret = t;
        return 0;
}

/* Whole days from a to b. */
static int64_t days(int64_t a, int64_t b) {
        return b > a ? (b - a) / 86400 : 0;
}

/* Open the repository and load the requests of --controller (of every
 * controller without it). */
static int load(Cli *cli, CnRequests *ret) {
        CnController *c = NULL;
        size_t n_damaged = 0;
        int r = cli_open(cli, true);
        if (r != 0)
                return r;
        if (cli->controller && (r = cli_controller(cli, "", &c)) != 0)
                return r;
        r = cn_requests_load(cli->rp, c, damaged, cli, ret, &n_damaged);
        if (r < 0)
                return cli_repo_error(cli, "cannot list requests", r);
        if (n_damaged)
                cli_warn("%zu request object%s could not be read: the list may miss requests or their outcome",
                         n_damaged, n_damaged == 1 ? "" : "s");
        return 0;
}

static CnRequest *find(CnRequests *l, const char *spec) {
        CnRequest *q = NULL;
        int r = cn_requests_find(l, spec, &q);
        if (r == 1)
                return q;
        if (r > 1)
                cli_error("ambiguous: %d requests start with %s; give more digits of the id ('cairn request list "
                          "--json' shows them whole)",
                          r, CLI_ESC(spec));
        else if (r == 0)
                cli_error("no request %s; 'cairn request list' lists them", CLI_ESC(spec));
        else
                cli_error("%s is not a request id: give the first hex digits of one ('cairn request list' lists "
                          "them)",
                          CLI_ESC(spec));
        return NULL;
}

/* An audit entry of a request (docs/cli/request.md "Audit"): the action,
 * the request's kind and id, its reference as a pseudonym. */
static CnAuditEvent *request_event(const CnRequest *q, const char *action) {
        CnAuditEvent *e = cli_audit_event(CN_AUDIT_REQUEST, action);
        if (e) {
                (void) cn_audit_event_text(e, CN_AUDIT_F_KIND, cn_request_kind_name(q->kind));
                (void) cn_audit_event_id(e, CN_AUDIT_F_REQUEST, q->id);
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_TEXT, q->reference, strlen(q->reference));
        }
        return e;
}

typedef struct AddArgs {
        const char *kind, *reference, *received, *subject, *path, *note;
        bool controller_scope;
} AddArgs;

static int add(Cli *cli, const AddArgs *a) {
        char creator[CLI_USER_AT_HOST_MAX];
        CnRequest q = {.reference = (char *) a->reference,
                       .note = (char *) (a->note ? a->note : ""),
                       .creator = (char *) cli_user_at_host(creator),
                       .created = time(NULL)};
        CnController *c;
        int r;

        if (!a->kind || cn_request_kind_parse(a->kind, &q.kind) < 0)
                return cli_usage_error("request",
                                       "request add needs --kind access, erasure, rectification or "
                                       "disclosure%s%s",
                                       a->kind ? ", not " : "", a->kind ? CLI_ESC(a->kind) : "");
        if (!a->reference || !*a->reference)
                return cli_usage_error("request", "request add needs --reference REF: the controller's case "
                                                  "reference");
        if (strlen(a->reference) > CN_MAX_LABEL_BYTES)
                return cli_usage_error("request", "--reference is longer than %u bytes", CN_MAX_LABEL_BYTES);
        if (strlen(q.note) > CN_MAX_REQUEST_NOTE_BYTES)
                return cli_usage_error("request", "--note is longer than %u bytes", CN_MAX_REQUEST_NOTE_BYTES);
        if (!!a->subject + !!a->path + a->controller_scope > 1)
                return cli_usage_error("request", "a request is about one thing: --subject S, --path PATTERN or "
                                                  "--controller C (alone), or nothing more");
        if (a->subject && (!*a->subject || strlen(a->subject) > CN_MAX_SUBJECT_BYTES))
                return cli_usage_error("request", "--subject must be 1 to %u bytes", CN_MAX_SUBJECT_BYTES);
        if (a->path && (a->path[0] != '/' || strlen(a->path) > CN_MAX_PATH_BYTES))
                return cli_usage_error("request", "--path %s is not absolute: give a pattern starting with '/'",
                                       CLI_ESC(a->path));
        q.received = q.created;
        if (a->received && parse_date(a->received, &q.received) < 0)
                return cli_usage_error("request",
                                       "--received %s is not a date: give YYYY-MM-DD or "
                                       "YYYY-MM-DDTHH:MM:SSZ (UTC)",
                                       CLI_ESC(a->received));
        if (q.received > q.created)
                return cli_usage_error("request", "--received %s is in the future", CLI_ESC(a->received));
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        r = cli_controller(cli, "a request is made to one of them", &c);
        if (r != 0)
                return r;
        q.controller = c;
        const char *value = a->subject ? a->subject : a->path ? a->path : a->controller_scope ? c->id_hex : NULL;
        q.scope = a->subject ? CN_REQUEST_SCOPE_SUBJECT
                  : a->path  ? CN_REQUEST_SCOPE_PATH
                  : value    ? CN_REQUEST_SCOPE_CONTROLLER
                             : CN_REQUEST_SCOPE_NONE;
        if (value && (r = cn_audit_pseudonym(c, value, strlen(value), q.scope_pseudonym)) < 0)
                return cli_repo_error(cli, "cannot record the request", r);
        r = cn_request_add(cli->rp, &q);
        if (r < 0)
                return cli_repo_error(cli, "cannot record the request", r);
        CnAuditEvent *e = request_event(&q, "add");
        if (e && value) {
                (void) cn_audit_event_text(e, CN_AUDIT_F_SCOPE, cn_request_scope_name(q.scope));
                if (q.scope == CN_REQUEST_SCOPE_SUBJECT)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_SUBJECT, value, strlen(value));
                else if (q.scope == CN_REQUEST_SCOPE_PATH)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_PATH, value, strlen(value));
        }
        cli_audit(cli, c, e);
        /* Standard output is the id alone (id=$(cairn request add ...)); -v says more. */
        if (cli->json)
                printf("{\"id\":\"%s\"}\n", q.id_hex);
        else
                printf("%s\n", q.id_hex);
        if (cli->verbose)
                fprintf(stderr, "recorded %s request %s of controller %s\n", cn_request_kind_name(q.kind),
                        CLI_ESC(q.reference), CLI_ESC(c->name));
        return CLI_EXIT_OK;
}

typedef struct CloseArgs {
        const char *outcome, *export_digest, *certificate, *note;
} CloseArgs;

/* --certificate: a stored certificate of q's controller, by id prefix. */
static int find_certificate(Cli *cli, const CnRequest *q, const char *spec, uint8_t ret[CN_ID_BYTES]) {
        char id[CN_ID_HEX + 1];
        CnCertificate cert = {};
        int r = cn_certificate_find(cli->rp, spec, id);
        if (r < 0 && r != -EINVAL)
                return cli_repo_error(cli, "cannot list certificates", r);
        if (r != 1) {
                if (r == -EINVAL)
                        cli_error("--certificate %s is not a certificate id: give the first hex digits of one "
                                  "('cairn certificate list' lists them)",
                                  CLI_ESC(spec));
                else if (r == 0)
                        cli_error("no certificate %s in the repository; 'cairn certificate list' lists them, and "
                                  "the request stays open",
                                  CLI_ESC(spec));
                else
                        cli_error("ambiguous: %d certificates start with %s; give more digits of the id", r,
                                  CLI_ESC(spec));
                return CLI_EXIT_ERROR;
        }
        r = cn_certificate_get(cli->rp, id, NULL, &cert);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the certificate", r);
        bool same = memcmp(cert.controller, q->controller->id, CN_UUID_BYTES) == 0;
        cn_certificate_done(&cert);
        if (!same) {
                cli_error("certificate %s is of another controller than request %.8s (of controller %s): link the "
                          "certificate of this controller's erasure",
                          id, q->id_hex, CLI_ESC(q->controller->name));
                return CLI_EXIT_ERROR;
        }
        return cn_hex_decode(id, ret, CN_ID_BYTES) < 0 ? CLI_EXIT_ERROR : 0;
}

static int close_request(Cli *cli, const char *spec, const CloseArgs *a) {
        _cleanup_(cn_requests_done) CnRequests l = {};
        char creator[CLI_USER_AT_HOST_MAX], t[CN_RFC3339_BYTES];
        CnRequestClosing x = {.note = (char *) (a->note ? a->note : ""),
                              .creator = (char *) cli_user_at_host(creator),
                              .created = time(NULL)};
        CnRequest *q;
        int r;

        if (!a->outcome || cn_request_outcome_parse(a->outcome, &x.outcome) < 0)
                return cli_usage_error("request",
                                       "request close needs --outcome answered, refused, partial or "
                                       "withdrawn%s%s",
                                       a->outcome ? ", not " : "", a->outcome ? CLI_ESC(a->outcome) : "");
        if (strlen(x.note) > CN_MAX_REQUEST_NOTE_BYTES)
                return cli_usage_error("request", "--note is longer than %u bytes", CN_MAX_REQUEST_NOTE_BYTES);
        if (a->export_digest) {
                size_t len = strlen(a->export_digest);
                if (len != CN_ID_HEX || strspn(a->export_digest, "0123456789abcdefABCDEF") != len ||
                    cn_hex_decode(a->export_digest, x.export_digest, CN_ID_BYTES) < 0)
                        return cli_usage_error("request",
                                               "--export takes the SHA-256 of the export file, 64 hex "
                                               "digits (as 'cairn export' prints it), not %s",
                                               CLI_ESC(a->export_digest));
                x.links |= CN_REQUEST_LINK_EXPORT;
        }
        r = load(cli, &l);
        if (r != 0)
                return r;
        q = find(&l, spec);
        if (!q)
                return CLI_EXIT_ERROR;
        if (q->closing) {
                cli_error("request %.8s (%s) was already closed on %s as %s; nothing to do", q->id_hex,
                          CLI_ESC(q->reference), rfc3339(q->closing->created, t),
                          cn_request_outcome_name(q->closing->outcome));
                return CLI_EXIT_ERROR;
        }
        if (a->certificate) {
                r = find_certificate(cli, q, a->certificate, x.certificate);
                if (r != 0)
                        return r;
                x.links |= CN_REQUEST_LINK_CERTIFICATE;
        }
        r = cn_request_close(cli->rp, q, &x);
        if (r < 0)
                return cli_repo_error(cli, "cannot close the request", r);
        CnAuditEvent *e = request_event(q, "close");
        if (e) {
                (void) cn_audit_event_text(e, CN_AUDIT_F_ACTION, cn_request_outcome_name(x.outcome));
                if (x.links & CN_REQUEST_LINK_CERTIFICATE)
                        (void) cn_audit_event_id(e, CN_AUDIT_F_CERTIFICATE, x.certificate);
                if (x.links & CN_REQUEST_LINK_EXPORT)
                        (void) cn_audit_event_id(e, CN_AUDIT_F_DIGEST, x.export_digest);
        }
        cli_audit(cli, q->controller, e);
        cli_info(cli, "closed request %.8s (%s) as %s after %lld days\n", q->id_hex, CLI_ESC(q->reference),
                 cn_request_outcome_name(x.outcome), (long long) days(q->received, x.created));
        return CLI_EXIT_OK;
}

static json_t *hex_json(const uint8_t *p) {
        char hex[CN_ID_HEX + 1];
        cn_hex_encode(p, CN_ID_BYTES, hex);
        return json_string(hex);
}

static json_t *request_json(const CnRequest *q, int64_t now) {
        char t[3][CN_RFC3339_BYTES];
        const CnRequestClosing *x = q->closing;
        json_t *closing = json_null();
        if (x)
                closing = json_pack(
                        "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:I}", "id", x->id_hex, "outcome",
                        cn_request_outcome_name(x->outcome), "closed_at", rfc3339(x->created, t[2]), "export",
                        (x->links & CN_REQUEST_LINK_EXPORT) ? hex_json(x->export_digest) : json_null(), "certificate",
                        (x->links & CN_REQUEST_LINK_CERTIFICATE) ? hex_json(x->certificate) : json_null(), "note",
                        cli_json_text(x->note), "creator", cli_json_text(x->creator), "days",
                        (json_int_t) days(q->received, x->created));
        return json_pack("{s:s, s:s%, s:{s:s, s:o}, s:s, s:o, s:s, s:s, s:{s:s, s:o}, s:o, s:o, s:b, s:I, s:o}", "id",
                         q->id_hex, "short_id", q->id_hex, (size_t) 8, "controller", "id", q->controller->id_hex,
                         "name", cli_json_text(q->controller->name), "kind", cn_request_kind_name(q->kind), "reference",
                         cli_json_text(q->reference), "received", rfc3339(q->received, t[0]), "recorded",
                         rfc3339(q->created, t[1]), "scope", "kind", cn_request_scope_name(q->scope), "pseudonym",
                         q->scope == CN_REQUEST_SCOPE_NONE ? json_null() : hex_json(q->scope_pseudonym), "note",
                         cli_json_text(q->note), "creator", cli_json_text(q->creator), "open", !x, "days",
                         (json_int_t) days(q->received, x ? x->created : now), "closing", closing);
}

typedef struct ListArgs {
        bool open_only;
        const char *subject, *path;
} ListArgs;

/* Whether q is about value (of scope): its pseudonym under q's controller. */
static bool about(const CnRequest *q, CnRequestScope scope, const char *value) {
        uint8_t p[CN_ID_BYTES];
        return q->scope == scope && cn_audit_pseudonym(q->controller, value, strlen(value), p) >= 0 &&
               memcmp(p, q->scope_pseudonym, CN_ID_BYTES) == 0;
}

static int list(Cli *cli, const ListArgs *a) {
        _cleanup_(cn_requests_done) CnRequests l = {};
        int64_t now = time(NULL);
        size_t shown = 0, open = 0;
        int r = load(cli, &l);
        if (r != 0)
                return r;
        json_t *all = cli->json ? json_array() : NULL;
        if (!cli->json)
                printf("%-8s  %-13s  %-20s  %-12s  %-28s  %s\n", "ID", "Kind", "Received", "Controller", "Status",
                       "Reference");
        for (size_t i = 0; i < l.n; i++) {
                const CnRequest *q = &l.v[i];
                char t[CN_RFC3339_BYTES], status[64];
                if ((a->open_only && q->closing) || (a->subject && !about(q, CN_REQUEST_SCOPE_SUBJECT, a->subject)) ||
                    (a->path && !about(q, CN_REQUEST_SCOPE_PATH, a->path)))
                        continue;
                shown++;
                open += !q->closing;
                if (cli->json) {
                        if (json_array_append_new(all, request_json(q, now)) < 0) {
                                json_decref(all);
                                return cli_repo_error(cli, "cannot list requests", -ENOMEM);
                        }
                        continue;
                }
                if (q->closing)
                        snprintf(status, sizeof status, "%s after %lld days",
                                 cn_request_outcome_name(q->closing->outcome),
                                 (long long) days(q->received, q->closing->created));
                else
                        snprintf(status, sizeof status, "open for %lld days", (long long) days(q->received, now));
                printf("%.8s  %-13s  %-20s  %-12s  %-28s  ", q->id_hex, cn_request_kind_name(q->kind),
                       rfc3339(q->received, t), CLI_ESC(q->controller->name), status);
                cli_print_escaped(stdout, q->reference, strlen(q->reference));
                putchar('\n');
        }
        if (cli->json)
                return cli_json_print(all);
        printf("%zu request%s, %zu open\n", shown, shown == 1 ? "" : "s", open);
        return CLI_EXIT_OK;
}

static int show(Cli *cli, const char *spec) {
        _cleanup_(cn_requests_done) CnRequests l = {};
        char t[CN_RFC3339_BYTES], hex[CN_ID_HEX + 1];
        int64_t now = time(NULL);
        int r = load(cli, &l);
        if (r != 0)
                return r;
        CnRequest *q = find(&l, spec);
        if (!q)
                return CLI_EXIT_ERROR;
        if (cli->json)
                return cli_json_print(request_json(q, now));
        printf("request %s\n", q->id_hex);
        printf("  controller  %s\n", CLI_ESC(q->controller->name));
        printf("  kind        %s\n", cn_request_kind_name(q->kind));
        printf("  reference   %s\n", CLI_ESC(q->reference));
        printf("  received    %s\n", rfc3339(q->received, t));
        printf("  recorded    %s by %s\n", rfc3339(q->created, t), CLI_ESC(q->creator));
        if (q->scope == CN_REQUEST_SCOPE_NONE)
                printf("  about       (not said)\n");
        else {
                cn_hex_encode(q->scope_pseudonym, CN_ID_BYTES, hex);
                printf("  about       a %s, pseudonym %s\n", cn_request_scope_name(q->scope), hex);
        }
        if (*q->note)
                printf("  note        %s\n", CLI_ESC(q->note));
        const CnRequestClosing *x = q->closing;
        if (!x) {
                printf("  status      open for %lld days\n", (long long) days(q->received, now));
                return CLI_EXIT_OK;
        }
        printf("  status      %s on %s by %s, after %lld days\n", cn_request_outcome_name(x->outcome),
               rfc3339(x->created, t), CLI_ESC(x->creator), (long long) days(q->received, x->created));
        if (x->links & CN_REQUEST_LINK_EXPORT) {
                cn_hex_encode(x->export_digest, CN_ID_BYTES, hex);
                printf("  export      sha256 %s\n", hex);
        }
        if (x->links & CN_REQUEST_LINK_CERTIFICATE) {
                cn_hex_encode(x->certificate, CN_ID_BYTES, hex);
                printf("  certificate %s\n", hex);
        }
        if (*x->note)
                printf("  closing     %s\n", CLI_ESC(x->note));
        return CLI_EXIT_OK;
}

int verb_request(Cli *cli, int argc, char **argv) {
        enum {
                OPT_KIND = _OPT_GLOBAL_MAX,
                OPT_REFERENCE,
                OPT_RECEIVED,
                OPT_SUBJECT,
                OPT_PATH,
                OPT_NOTE,
                OPT_OUTCOME,
                OPT_EXPORT,
                OPT_CERTIFICATE,
                OPT_OPEN,
        };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {"kind", required_argument, NULL, OPT_KIND},
                {"reference", required_argument, NULL, OPT_REFERENCE},
                {"received", required_argument, NULL, OPT_RECEIVED},
                {"subject", required_argument, NULL, OPT_SUBJECT},
                {"path", required_argument, NULL, OPT_PATH},
                {"note", required_argument, NULL, OPT_NOTE},
                {"outcome", required_argument, NULL, OPT_OUTCOME},
                {"export", required_argument, NULL, OPT_EXPORT},
                {"certificate", required_argument, NULL, OPT_CERTIFICATE},
                {"open", no_argument, NULL, OPT_OPEN},
                {},
        };
        AddArgs add_args = {};
        CloseArgs close_args = {};
        ListArgs list_args = {};
        int c;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return CLI_EXIT_OK;
                case OPT_KIND:
                        add_args.kind = optarg;
                        break;
                case OPT_REFERENCE:
                        add_args.reference = optarg;
                        break;
                case OPT_RECEIVED:
                        add_args.received = optarg;
                        break;
                case OPT_SUBJECT:
                        add_args.subject = list_args.subject = optarg;
                        break;
                case OPT_PATH:
                        add_args.path = list_args.path = optarg;
                        break;
                case OPT_NOTE:
                        add_args.note = close_args.note = optarg;
                        break;
                case OPT_OUTCOME:
                        close_args.outcome = optarg;
                        break;
                case OPT_EXPORT:
                        close_args.export_digest = optarg;
                        break;
                case OPT_CERTIFICATE:
                        close_args.certificate = optarg;
                        break;
                case OPT_OPEN:
                        list_args.open_only = true;
                        break;
                default:
                        return cli_usage_error("request", "unknown option");
                }
        }
        if (optind >= argc)
                return cli_usage_error("request", "give a subcommand: add, close ID, list or show ID");
        const char *sub = argv[optind];
        bool is_add = strcmp(sub, "add") == 0, is_close = strcmp(sub, "close") == 0, is_list = strcmp(sub, "list") == 0,
             is_show = strcmp(sub, "show") == 0;
        if (!is_add && !is_close && !is_list && !is_show)
                return cli_usage_error("request", "unknown subcommand '%s'", CLI_ESC(sub));
        if ((is_close || is_show) && argc - optind != 2)
                return cli_usage_error("request", "request %s takes one request ID", sub);
        if (!is_close && !is_show && argc - optind != 1)
                return cli_usage_error("request", "too many arguments");
        if (!is_add && (add_args.kind || add_args.reference || add_args.received))
                return cli_usage_error("request", "--kind, --reference and --received are for request add");
        if (!is_add && !is_list && (add_args.subject || add_args.path))
                return cli_usage_error("request", "--subject and --path are for request add and request list");
        if (!is_close && (close_args.outcome || close_args.export_digest || close_args.certificate))
                return cli_usage_error("request", "--outcome, --export and --certificate are for request close");
        if (!is_add && !is_close && add_args.note)
                return cli_usage_error("request", "--note is for request add and request close");
        if (!is_list && list_args.open_only)
                return cli_usage_error("request", "--open is for request list");
        if (is_list && list_args.subject && list_args.path)
                return cli_usage_error("request", "request list takes --subject or --path, not both");
        if (is_add) {
                /* --controller from the command line (not CAIRN_CONTROLLER) with no other scope. */
                add_args.controller_scope = cli->controller && !add_args.subject && !add_args.path;
                return add(cli, &add_args);
        }
        if (is_close)
                return close_request(cli, argv[optind + 1], &close_args);
        if (is_show)
                return show(cli, argv[optind + 1]);
        return list(cli, &list_args);
}

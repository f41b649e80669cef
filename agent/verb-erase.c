/* SPDX-License-Identifier: GPL-3.0-or-later */
/* erase: a controller, a data subject, a path pattern or a snapshot, for
 * good (docs/cli/erase.md). The work is core/erase's; here are the flags,
 * the report, the JSON. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "erase.h"
#include "hex.h"
#include "macro.h"
#include "snapshot.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] [--controller C] erase (--subject S | --path PATTERN | --snapshot ID)\n"
              "                                        [--reason TEXT] [--reference REF] [--dry-run] [--json]\n"
              "       cairn [-r REPO] erase --controller C [--reason TEXT] [--reference REF] [--dry-run] [--json]\n"
              "\n"
              "Erase for good what the request reaches: every entry tagged with a data subject\n"
              "(backup --subject-rule), every entry whose path matches PATTERN (the syntax of\n"
              "backup --exclude) in every snapshot, one snapshot, or, with --controller alone,\n"
              "the whole controller. Snapshots are rewritten without it, the packs that held it\n"
              "are rewritten, and the controller moves to a new key: no copy of the repository,\n"
              "of any age, opens what was erased with any key cairn still holds. Chunks that\n"
              "data outside the request still needs are kept and reported. A part a legal hold\n"
              "keeps is deferred. A signed certificate records it ('cairn certificate show').\n"
              "\n"
              "      --subject S         the entries tagged with data subject S\n"
              "      --path PATTERN      the entries whose path matches PATTERN, and below them\n"
              "      --snapshot ID       one snapshot (an id, a unique prefix of one, or latest)\n"
              "      --reason TEXT       why (goes into the certificate)\n"
              "      --reference REF     the request's case or ticket number (certificate)\n"
              "  -n, --dry-run           say what would be erased and kept; change nothing\n"
              "      --pending           carry out the requests that remain: deferred by a hold\n"
              "                          ('hold release' does it too), or stopped before the end\n"
              "      --replica URL       carry it to this replica too (repeatable; its password:\n"
              "                          --from-password-file, CAIRN_FROM_PASSWORD; its key store:\n"
              "                          --from-key-store, else as this repository's)\n"
              "      --json              the report as one JSON object\n"
              "\n"
              "Exit 0 erased at every location; 3 partial (a key store location was not\n"
              "reached: run again) or deferred (a hold keeps part of it); 1 error.\n",
              stdout);
}

static json_t *hex_json(const uint8_t *p, size_t n) {
        char hex[2 * CN_ID_BYTES + 1];
        cn_hex_encode(p, n, hex);
        return json_string(hex);
}

static json_t *report_json(const CnEraseRequest *q, const char *controller, const CnEraseResult *r, bool dry_run) {
        static const char *const scopes[] = { "", "snapshot", "controller", "path", "subject" };
        json_t *kept = json_array(), *deferred = json_array(), *touched = json_array(), *locs = json_array();
        for (size_t i = 0; i < r->n_kept_by; i++)
                json_array_append_new(kept, json_pack("{s:o, s:s, s:b}", "snapshot",
                                                      hex_json(r->kept_by[i].snapshot, CN_ID_BYTES), "path",
                                                      r->kept_by[i].path, "held", r->kept_by[i].held));
        for (size_t i = 0; i < r->n_deferred; i++) {
                json_t *snaps = json_array();
                for (size_t j = 0; j < r->deferred[i].n_snapshots; j++)
                        json_array_append_new(snaps, hex_json(r->deferred[i].snapshots[j], CN_ID_BYTES));
                json_array_append_new(deferred, json_pack("{s:o, s:o, s:I}", "hold",
                                                          hex_json(r->deferred[i].hold, CN_ID_BYTES), "snapshots",
                                                          snaps, "entries", (json_int_t) r->deferred[i].entries));
        }
        for (size_t i = 0; i < r->n_snapshots_touched; i++)
                json_array_append_new(touched, hex_json(r->snapshots_touched[i], CN_ID_BYTES));
        for (size_t i = 0; i < r->n_locations; i++)
                json_array_append_new(locs, json_pack("{s:s, s:s}", "url", r->locations[i], "status",
                                                      r->location_results[i] == 0 ? "done" : "unreachable"));
        json_t *reps = json_array();
        for (size_t i = 0; i < r->n_replicas; i++)
                json_array_append_new(reps, json_pack("{s:s, s:s}", "url", r->replicas[i], "status",
                                                      r->replica_results[i] == 0 ? "done" : "unreachable"));
        const CnCertificateCounts *c = &r->counts;
        return json_pack("{s:b, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, "
                         "s:o, s:o, s:I, s:I, s:o, s:o, s:b, s:b, s:s?}",
                         "dry_run", dry_run, "scope", scopes[q->scope], "value", q->value, "controller", controller,
                         "snapshots", touched, "counts", "snapshots_deleted", (json_int_t) c->snapshots_deleted,
                         "snapshots_rewritten", (json_int_t) c->snapshots_rewritten, "entries_erased",
                         (json_int_t) c->entries_erased, "bytes_erased", (json_int_t) c->bytes_erased,
                         "chunks_destroyed", (json_int_t) c->chunks_destroyed, "keys_destroyed",
                         (json_int_t) c->keys_destroyed, "packs_deleted", (json_int_t) c->packs_deleted,
                         "packs_rewritten", (json_int_t) c->packs_rewritten, "chunks_kept",
                         (json_int_t) r->chunks_kept, "chunks_reached", (json_int_t) r->chunks_reached, "kept_by",
                         kept, "deferred", deferred, "epoch_from", (json_int_t) r->epoch_from, "epoch_to",
                         (json_int_t) r->epoch_to, "key_store_locations", locs, "replicas", reps,
                         "controller_destroyed", r->controller_destroyed, "cryptographically_complete",
                         r->cryptographically_complete && !r->n_deferred, /* as the certificate says */
                         "certificate", r->certificate[0] ? r->certificate : NULL);
}

static void report_text(const Cli *cli, const CnEraseRequest *q, const CnEraseResult *r, bool dry_run) {
        char a[32];
        const char *would = dry_run ? "would be " : "";
        const CnCertificateCounts *c = &r->counts;

        cli_info(cli, "%zu snapshot%s reached: %" PRIu64 " %sremoved, %" PRIu64 " %srewritten; %" PRIu64
                      " entr%s (%s of files) %serased\n",
                 r->n_snapshots_touched, r->n_snapshots_touched == 1 ? "" : "s", c->snapshots_deleted, would,
                 c->snapshots_rewritten, would, c->entries_erased, c->entries_erased == 1 ? "y" : "ies",
                 cli_size(c->bytes_erased, a), would);
        cli_info(cli, "%" PRIu64 " chunk%s %sdestroyed; %" PRIu64 " kept because data outside the request needs "
                      "them%s\n",
                 c->chunks_destroyed, c->chunks_destroyed == 1 ? "" : "s", would, r->chunks_kept,
                 r->n_kept_by ? ":" : "");
        for (size_t i = 0; i < r->n_kept_by; i++) {
                char hex[CN_ID_HEX + 1];
                cn_hex_encode(r->kept_by[i].snapshot, CN_ID_BYTES, hex);
                cli_info(cli, "  snapshot %.8s %s%s\n", hex, CLI_ESC(r->kept_by[i].path),
                         r->kept_by[i].held ? " (held)" : "");
        }
        for (size_t i = 0; i < r->n_deferred; i++) {
                char hex[CN_ID_HEX + 1];
                cn_hex_encode(r->deferred[i].hold, CN_ID_BYTES, hex);
                cli_info(cli, "hold %.8s defers %zu snapshot%s (%" PRIu64 " entries): erased when it is released\n",
                         hex, r->deferred[i].n_snapshots, r->deferred[i].n_snapshots == 1 ? "" : "s",
                         r->deferred[i].entries);
        }
        if (dry_run) {
                cli_info(cli, "--dry-run: nothing was written or deleted\n");
                return;
        }
        if (r->controller_destroyed)
                cli_info(cli, "controller erased: every object and its key store entry are gone\n");
        else if (r->epoch_to)
                cli_info(cli, "%" PRIu64 " packs deleted, %" PRIu64 " rewritten; key epoch %" PRIu32 " -> %" PRIu32
                              "\n",
                         c->packs_deleted, c->packs_rewritten, r->epoch_from, r->epoch_to);
        for (size_t i = 0; i < r->n_locations; i++)
                if (r->location_results[i] < 0)
                        cli_warn("key store location %s was not reached (%s): the old key is still there; run "
                                 "the same erase again when it is reachable",
                                 CLI_ESC(r->locations[i]), strerror(-r->location_results[i]));
        for (size_t i = 0; i < r->n_replicas; i++)
                if (r->replica_results[i] == 0)
                        cli_info(cli, "replica %s: erased there too\n", CLI_ESC(r->replicas[i]));
                else
                        cli_warn("replica %s: not erased there (%s): run 'cairn erase --pending --replica %s' when "
                                 "it is reachable",
                                 CLI_ESC(r->replicas[i]), strerror(-r->replica_results[i]), CLI_ESC(r->replicas[i]));
        if (r->certificate[0])
                cli_info(cli, "certificate %.16s ('cairn certificate show %.16s')\n", r->certificate,
                         r->certificate);
        (void) q;
}

/* The replicas an erasure is carried to (--replica URL), opened as the
 * other repository of copy is (--from-password-file, CAIRN_FROM_PASSWORD,
 * --from-key-store). */
#define MAX_REPLICAS 16
typedef struct Replicas {
        Cli *cli;
        const Cli *opts;                /* password file, key hint, key store of the replicas */
        const char *urls[MAX_REPLICAS];
        size_t n;
} Replicas;

static int to_replicas(const CnEraseRequest *request, const uint8_t ctrl[CN_UUID_BYTES], uint32_t epoch,
                       const uint8_t *key, CnEraseResult *res, void *u) {
        Replicas *rs = u;
        char hex[CN_UUID_HEX + 1];
        cn_hex_encode(ctrl, CN_UUID_BYTES, hex);
        for (size_t i = 0; i < rs->n; i++) {
                Cli rc = { .source = true, .replica = true, .repo = rs->urls[i], .password_file = rs->opts->password_file,
                           .key_hint = rs->opts->key_hint, .key_store = rs->opts->key_store, .quiet = rs->cli->quiet };
                int k = cli_open(&rc, true) != 0 ? -EHOSTUNREACH : 0;
                CnController *c = NULL;
                for (size_t j = 0; k == 0 && j < cn_repo_n_controllers(rc.rp) && !c; j++)
                        if (strcmp(cn_repo_controller(rc.rp, j)->id_hex, hex) == 0)
                                c = cn_repo_controller(rc.rp, j);
                if (k == 0 && c && key && c->epoch == epoch && cn_memeq(c->epoch_key, key, CN_KEY_BYTES))
                        c = NULL;       /* there already */
                else if (k == 0 && c && c->epoch >= epoch && key) {
                        cli_error("replica %s: controller %.8s is at key epoch %" PRIu32 " there, not below %" PRIu32
                                  ": not a replica of this repository any more",
                                  CLI_ESC(rs->urls[i]), hex, c->epoch, epoch);
                        k = -EXDEV;
                }
                if (k == 0 && c) {
                        CnEraseOptions ro = { .damaged = cli_damaged, .userdata = &rc, .next_epoch = epoch,
                                              .next_key = key };
                        CnEraseRequest q = *request;
                        CnEraseResult rr;
                        if (!key) {     /* the controller is gone at the source: here too */
                                q.scope = CN_ERASE_CONTROLLER;
                                q.value = hex;
                        }
                        k = cn_erase(rc.rp, c, &q, &ro, &rr);
                        if (k < 0)
                                cli_error("replica %s: the erasure failed there: %s", CLI_ESC(rs->urls[i]), strerror(-k));
                        else if (rr.locations_failed || rr.n_deferred)
                                k = -EAGAIN;
                        cn_erase_result_done(&rr);
                }
                cli_close(&rc);
                int a = cn_erase_result_add_replica(res, rs->urls[i], k);
                if (a < 0)
                        return a;
        }
        return 0;
}

typedef struct PendingRun {
        Cli *cli;
        int exit;
        /* bound to the controller before it runs (one of the requests may
         * erase the controller): the entries are copies of it */
        CnAuditEvent *audit;
} PendingRun;

/* The audit entry of an erasure (its request's value is in the event
 * already, as a pseudonym, or it is not: the certificate has it). */
static void audit_erasure(Cli *cli, CnAuditEvent *ev, const CnEraseRequest *q, int r, const CnEraseResult *res) {
        static const char *const scopes[] = { "", "snapshot", "controller", "path", "subject" };
        uint8_t id[CN_ID_BYTES];
        bool part = false;

        if (!ev) {
                cli_audit(cli, NULL, NULL);
                return;
        }
        (void) cn_audit_event_text(ev, CN_AUDIT_F_SCOPE, scopes[q->scope]);
        if (q->scope == CN_ERASE_SNAPSHOT && cn_hex_decode(q->value, id, CN_ID_BYTES) == 0)
                (void) cn_audit_event_id(ev, CN_AUDIT_F_SNAPSHOT, id);
        if (r >= 0) {
                part = res->n_deferred || res->locations_failed;
                for (size_t i = 0; i < res->n_replicas; i++)
                        part = part || res->replica_results[i] != 0;
                if (res->certificate[0] && cn_hex_decode(res->certificate, id, CN_ID_BYTES) == 0)
                        (void) cn_audit_event_id(ev, CN_AUDIT_F_CERTIFICATE, id);
                (void) cn_audit_event_u64(ev, CN_AUDIT_F_FILES, res->counts.entries_erased);
                (void) cn_audit_event_u64(ev, CN_AUDIT_F_BYTES, res->counts.bytes_erased);
                (void) cn_audit_event_u64(ev, CN_AUDIT_F_SNAPSHOTS,
                                          res->counts.snapshots_deleted + res->counts.snapshots_rewritten);
                if (res->epoch_to)
                        (void) cn_audit_event_u64(ev, CN_AUDIT_F_EPOCH, res->epoch_to);
        }
        cn_audit_event_set_outcome(ev, r < 0 ? CN_AUDIT_FAILED : part ? CN_AUDIT_PARTIAL : CN_AUDIT_OK);
        cli_audit(cli, NULL, ev);
}

static void on_pending(const CnEraseRequest *q, int result, const CnEraseResult *res, void *u) {
        PendingRun *p = u;
        static const char *const scopes[] = { "", "snapshot", "controller", "path", "subject" };
        CnAuditEvent *ev = NULL;
        if (p->audit && cn_audit_event_copy(p->audit, &ev) < 0)
                ev = NULL;
        audit_erasure(p->cli, ev, q, result, res);
        if (result < 0) {
                cli_error("the remaining erasure of %s %s failed: %s; it stays, to be carried out by 'cairn erase "
                          "--pending'",
                          scopes[q->scope], CLI_ESC(q->value), strerror(-result));
                p->exit = CLI_EXIT_ERROR;
                return;
        }
        if (res->n_deferred || res->locations_failed) {
                cli_info(p->cli, "erasure of %s %s: still %s\n", scopes[q->scope], CLI_ESC(q->value),
                         res->n_deferred ? "deferred by a hold" : "partial (a key store location not reached)");
                if (p->exit == CLI_EXIT_OK)
                        p->exit = CLI_EXIT_PARTIAL;
                return;
        }
        cli_info(p->cli, "erasure of %s %s carried out: %" PRIu64 " entries, %" PRIu64 " snapshots removed, %" PRIu64
                         " rewritten; certificate %.16s\n",
                 scopes[q->scope], CLI_ESC(q->value), res->counts.entries_erased, res->counts.snapshots_deleted,
                 res->counts.snapshots_rewritten, res->certificate);
}

static int erase_pending(Cli *cli, CnController *c, Replicas *rs) {
        PendingRun p = { .cli = cli, .audit = cli_audit_event(CN_AUDIT_ERASURE, "pending") };
        CnEraseOptions o = { .damaged = cli_damaged, .userdata = cli };
        if (p.audit && cn_audit_event_bind(p.audit, c) < 0)
                p.audit = cn_audit_event_free(p.audit);
        if (rs && rs->n)
                o.replicas = to_replicas, o.replicas_userdata = rs;
        int r = cn_erase_pending(cli->rp, c, &o, on_pending, &p);
        cn_audit_event_free(p.audit);
        if (r < 0 && p.exit == CLI_EXIT_OK)
                return cli_repo_error(cli, "cannot carry out the remaining erasures", r);
        return p.exit;
}

int cli_erase_pending(Cli *cli, CnController *c) {
        return erase_pending(cli, c, NULL);
}

/* Whether the absolute pattern p can match a path as snapshots store them:
 * no empty component ("//"), no "." or ".." (a trailing '/' is allowed:
 * "dir/" is dir). A typo there would erase nothing, and say so in a
 * certificate. */
bool cli_path_pattern_plain(const char *p) {
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/')
                n--;
        for (size_t i = 1, start = 1; i <= n && n > 1; i++)
                if (i == n || p[i] == '/') {
                        size_t len = i - start;
                        if (len == 0 || (len == 1 && p[start] == '.') ||
                            (len == 2 && p[start] == '.' && p[start + 1] == '.'))
                                return false;
                        start = i + 1;
                }
        return true;
}

int verb_erase(Cli *cli, int argc, char **argv) {
        enum { OPT_SUBJECT = _OPT_GLOBAL_MAX, OPT_PATH, OPT_SNAPSHOT, OPT_REASON, OPT_REFERENCE, OPT_PENDING,
               OPT_REPLICA };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                CLI_FROM_LONG,
                { "replica", required_argument, NULL, OPT_REPLICA },
                { "subject", required_argument, NULL, OPT_SUBJECT },
                { "path", required_argument, NULL, OPT_PATH },
                { "snapshot", required_argument, NULL, OPT_SNAPSHOT },
                { "reason", required_argument, NULL, OPT_REASON },
                { "reference", required_argument, NULL, OPT_REFERENCE },
                { "dry-run", no_argument, NULL, 'n' },
                { "pending", no_argument, NULL, OPT_PENDING },
                {},
        };
        bool pending = false;
        Cli ropts = { .source = true };
        Replicas rs = { .cli = cli, .opts = &ropts };
        CnEraseRequest q = { .reason = "", .reference = "" };
        CnEraseOptions o = { .damaged = cli_damaged, .userdata = cli };
        const char *snapshot = NULL;
        char who[CLI_USER_AT_HOST_MAX];
        size_t scopes = 0;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, "n" CLI_GLOBAL_SHORT, opts)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return CLI_EXIT_OK;
                case OPT_SUBJECT:
                        q.scope = CN_ERASE_SUBJECT, q.value = optarg, scopes++;
                        break;
                case OPT_PATH:
                        q.scope = CN_ERASE_PATH, q.value = optarg, scopes++;
                        break;
                case OPT_SNAPSHOT:
                        q.scope = CN_ERASE_SNAPSHOT, snapshot = optarg, scopes++;
                        break;
                case OPT_REASON:
                        q.reason = optarg;
                        break;
                case OPT_REFERENCE:
                        q.reference = optarg;
                        break;
                case 'n':
                        o.dry_run = true;
                        break;
                case OPT_PENDING:
                        pending = true;
                        break;
                case OPT_REPLICA:
                        if (rs.n == MAX_REPLICAS)
                                return cli_usage_error("erase", "at most %d --replica", MAX_REPLICAS);
                        rs.urls[rs.n++] = optarg;
                        break;
                default:
                        if (cli_from_option(&ropts, c, optarg))
                                break;
                        return cli_usage_error("erase", "unknown option");
                }
        }
        if (optind < argc)
                return cli_usage_error("erase", "erase takes no arguments");
        if (pending) {
                if (scopes || o.dry_run)
                        return cli_usage_error("erase", "--pending takes no scope and no --dry-run");
                if ((r = cli_open(cli, true)) != 0)
                        return r;
                int worst = CLI_EXIT_OK;
                for (size_t i = cn_repo_n_controllers(cli->rp); i-- > 0;) {
                        CnController *ctl = cn_repo_controller(cli->rp, i);
                        if (cli->controller && ctl != cn_repo_find_controller(cli->rp, cli->controller))
                                continue;
                        int k = erase_pending(cli, ctl, &rs);
                        worst = k == CLI_EXIT_ERROR || worst == CLI_EXIT_ERROR ? CLI_EXIT_ERROR : CN_MAX(worst, k);
                }
                return worst;
        }
        if (scopes > 1)
                return cli_usage_error("erase", "give one of --subject, --path and --snapshot");
        if (scopes == 0 && !cli->controller)
                return cli_usage_error("erase", "erase what? --subject S, --path PATTERN, --snapshot ID, or "
                                                "--controller C for a whole controller");
        if (!cn_certificate_text_valid(q.reason, 4096) || !cn_certificate_text_valid(q.reference, 1024))
                return cli_usage_error("erase", "--reason (4096 bytes) and --reference (1024 bytes) are UTF-8 text "
                                                "without control characters");
        if (q.scope == CN_ERASE_PATH && q.value[0] != '/')
                return cli_usage_error("erase", "--path takes an absolute pattern (starting with /)");
        if (q.scope == CN_ERASE_PATH && !cli_path_pattern_plain(q.value))
                return cli_usage_error("erase", "--path: a pattern with an empty, '.' or '..' component matches no "
                                                "path a snapshot holds; write it as 'cairn ls' shows paths");
        if (q.scope == CN_ERASE_SUBJECT && (!*q.value || strlen(q.value) > CN_MAX_SUBJECT_BYTES || strchr(q.value, '/')))
                return cli_usage_error("erase", "a subject is 1 to 256 bytes without '/'");
        r = cli_open(cli, true);
        if (r != 0)
                return r;

        CnController *ctl = NULL;
        CnSnapshot *list = NULL, *found = NULL;
        size_t n = 0;
        char value[CN_ID_HEX + 1];
        if (q.scope == CN_ERASE_SNAPSHOT) {
                /* Of --controller's snapshots only, when given; 'latest' of one controller. */
                r = cli_select_snapshot(cli, snapshot, NULL, &list, &n, &found);
                if (r != 0) {
                        cn_snapshots_free(list, n);
                        return r;
                }
                ctl = found->controller;
                snprintf(value, sizeof value, "%s", found->id_hex);
                q.value = value;
                cn_snapshots_free(list, n);
        } else if ((r = cli_controller(cli, "an erasure is of one of them", &ctl)) != 0)
                return r;
        if (scopes == 0) {
                q.scope = CN_ERASE_CONTROLLER;
                q.value = ctl->id_hex;
        }
        q.requester = cli_user_at_host(who);
        q.created = time(NULL);
        char ctl_hex[CN_UUID_HEX + 1], ctl_name[CN_MAX_LABEL_BYTES + 1];
        snprintf(ctl_hex, sizeof ctl_hex, "%s", ctl->id_hex);
        snprintf(ctl_name, sizeof ctl_name, "%s", ctl->name);
        if (q.scope == CN_ERASE_CONTROLLER)
                q.value = ctl_hex;      /* ctl is freed by a controller erasure */

        if (rs.n && !o.dry_run) {
                o.replicas = to_replicas;
                o.replicas_userdata = &rs;
        }
        /* Its audit entry is bound to the controller before the erasure:
         * a controller erasure takes the pseudonym key with it. */
        static const unsigned value_field[] = { 0, CN_AUDIT_F_SNAPSHOT, CN_AUDIT_F_NAME, CN_AUDIT_F_PATH,
                                                CN_AUDIT_F_SUBJECT };
        CnAuditEvent *ev = NULL;
        if (!o.dry_run && cn_audit_event_new(CN_AUDIT_ERASURE, CN_AUDIT_OK, &ev) >= 0) {
                if (q.scope != CN_ERASE_SNAPSHOT)
                        (void) cn_audit_event_pseudonym(ev, value_field[q.scope], q.value, strlen(q.value));
                if (q.reason && *q.reason)
                        (void) cn_audit_event_pseudonym(ev, CN_AUDIT_F_TEXT, q.reason, strlen(q.reason));
                if (q.reference && *q.reference)
                        (void) cn_audit_event_pseudonym(ev, CN_AUDIT_F_TEXT, q.reference, strlen(q.reference));
                if (cn_audit_event_bind(ev, ctl) < 0)
                        ev = cn_audit_event_free(ev);
        }
        CnEraseResult res;
        r = cn_erase(cli->rp, ctl, &q, &o, &res);
        if (!o.dry_run)
                audit_erasure(cli, ev, &q, r, &res);
        if (r == -EOPNOTSUPP) {
                cli_error("controller %s (%.8s) is of format version 1: its keys are in the repository, where "
                          "old copies keep them, so it cannot be erased; back its data up into a new controller "
                          "and delete this repository and its copies (docs/FORMAT.md \"Erasure\")",
                          CLI_ESC(ctl_name), ctl_hex);
                cn_erase_result_done(&res);
                return CLI_EXIT_ERROR;
        }
        if (r == -EBUSY) {
                cli_error("a backup, copy, prune or erasure of controller %s runs now: an erasure runs alone; "
                          "nothing was changed, run it again when that one ends",
                          CLI_ESC(ctl_name));
                cn_erase_result_done(&res);
                return CLI_EXIT_ERROR;
        }
        if (r == -EUCLEAN) {
                cli_error("erase of %s stopped: something it must read does not open (said above); what was done "
                          "is kept and the request stays: run 'cairn check', then the same erase again",
                          CLI_ESC(ctl_name));
                cn_erase_result_done(&res);
                return CLI_EXIT_ERROR;
        }
        if (r < 0) {
                cn_erase_result_done(&res);
                return cli_repo_error(cli, "erase failed (what was done is kept; the same erase again resumes it)",
                                      r);
        }
        if (cli->json) {
                json_t *j = report_json(&q, ctl_hex, &res, o.dry_run);
                char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
                json_decref(j);
                if (!s) {
                        cn_erase_result_done(&res);
                        cli_error("out of memory");
                        return CLI_EXIT_ERROR;
                }
                printf("%s\n", s);
                free(s);
        } else
                report_text(cli, &q, &res, o.dry_run);
        bool partial = !o.dry_run && (res.n_deferred || res.locations_failed);
        for (size_t i = 0; i < res.n_replicas; i++)
                partial = partial || res.replica_results[i] != 0;
        cn_erase_result_done(&res);
        return partial ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "fileio.h"
#include "hex.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] audit show [--since T] [--resolve VALUE]... [--match VALUE]... [--json]\n"
              "       cairn [-r REPO] audit verify [--checkpoint FILE]...\n"
              "       cairn [-r REPO] audit checkpoint [-o FILE]\n"
              "\n"
              "The audit log: one hash-chained entry per backup, restore, dump, export, copy,\n"
              "forget, prune, erasure, hold, release, break-glass read, key, location, request\n"
              "and retention change, per controller, in the repository. It holds no personal\n"
              "data: hosts, users, paths, subjects, names and free text appear only as keyed\n"
              "pseudonyms (#1a2b3c4d), which --resolve VALUE names where they are VALUE and\n"
              "--match VALUE also keeps only the entries that mention it.\n"
              "\n"
              "  --controller C    the controller's log (needed when there are several); the id\n"
              "                    of an erased controller reads its log (its pseudonyms no\n"
              "                    longer resolve)\n"
              "  --since T         entries from T on: 2026-12-01, 2026-12-01T10:00:00Z, or 7d, 12h\n"
              "\n"
              "verify checks every controller's log (or --controller's): each entry opens and\n"
              "chains to the one before; it names the first broken entry. A cut tail shows only\n"
              "against a checkpoint: 'audit checkpoint' writes one, signed with the processor's\n"
              "key, for you to keep outside the repository; give it back with --checkpoint.\n"
              "\n"
              "Exit codes: 0 intact, 1 broken or an error, 2 usage.\n",
              stdout);
}

/* The log to read: --controller names a controller of the repository (or
 * is the id of one whose log remains); else the only controller. An id
 * that is neither a controller nor has a log is refused, unless may_be_gone
 * (a checkpoint names it: its whole log may have been deleted). */
static int pick(Cli *cli, bool may_be_gone, uint8_t ret[CN_UUID_BYTES], CnController **ret_c) {
        CnController *c = NULL;
        int r;
        if (cli->controller && strlen(cli->controller) == CN_UUID_HEX &&
            !cn_repo_find_controller(cli->rp, cli->controller) &&
            cn_hex_decode(cli->controller, ret, CN_UUID_BYTES) == 0) {
                _cleanup_(cn_audit_log_done) CnAuditLog l = {};
                if (!may_be_gone && (r = cn_audit_load(cli->rp, ret, &l)) >= 0 && l.n == 0 && !l.broken &&
                    !l.n_foreign) {
                        cli_error("%s is no controller of the repository at %s, and no audit log of that id is "
                                  "there; 'cairn controller list' names the controllers, and 'cairn audit verify' "
                                  "lists every log (erased controllers' too)",
                                  CLI_ESC(cli->controller), CLI_ESC(cn_backend_url(cli->backend)));
                        return CLI_EXIT_ERROR;
                }
                *ret_c = NULL;
                return 0;
        }
        if (!cli->controller && cn_repo_n_controllers(cli->rp) == 0) {
                cli_error("the repository at %s has no data controller any more (each was erased); the log of an "
                          "erased one is read with --controller ID ('cairn audit verify' lists them)",
                          CLI_ESC(cn_backend_url(cli->backend)));
                return CLI_EXIT_ERROR;
        }
        if ((r = cli_controller(cli, "each controller has its own audit log", &c)) != 0)
                return r;
        memcpy(ret, c->id, CN_UUID_BYTES);
        *ret_c = c;
        return 0;
}

/* --since: a date, a UTC time, or an age (Nd, Nh, Nm). */
static bool parse_since(const char *s, int64_t *ret) {
        struct tm tm = {};
        const char *end;
        char *e;
        if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) && !*end) {
                *ret = (int64_t) timegm(&tm);
                return true;
        }
        memset(&tm, 0, sizeof tm);
        if ((end = strptime(s, "%Y-%m-%d", &tm)) && !*end) {
                *ret = (int64_t) timegm(&tm);
                return true;
        }
        errno = 0;
        long long n = strtoll(s, &e, 10);
        if (errno || e == s || n < 0 || n > 100000 || (strcmp(e, "d") != 0 && strcmp(e, "h") != 0 && strcmp(e, "m") != 0))
                return false;
        *ret = (int64_t) time(NULL) - n * (*e == 'd' ? 86400 : *e == 'h' ? 3600 : 60);
        return true;
}

typedef struct Resolve {
        const char *value;
        uint8_t pseudonym[CN_ID_BYTES];
        bool match;
} Resolve;

/* The value of r that pseudonym p stands for, if any. */
static const char *resolved(const Resolve *r, size_t n, const uint8_t *p) {
        for (size_t i = 0; i < n; i++)
                if (memcmp(r[i].pseudonym, p, CN_ID_BYTES) == 0)
                        return r[i].value;
        return NULL;
}

static bool matches(const CnAuditEntry *e, const Resolve *r, size_t n) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
                if (!r[i].match)
                        continue;
                any = true;
                for (size_t j = 0; j < e->n_items; j++)
                        if (cn_audit_field_type(e->items[j].field) == CN_AUDIT_TYPE_PSEUDONYM &&
                            memcmp(e->items[j].value, r[i].pseudonym, CN_ID_BYTES) == 0)
                                return true;
        }
        return !any;
}

static void print_entry(const CnAuditEntry *e, const Resolve *res, size_t n_res) {
        char t[32], num[16], hex[2 * CN_AUDIT_MAX_TEXT_BYTES + 1];
        struct tm tm;
        time_t tt = (time_t) e->time;
        const char *kind = cn_audit_kind_name(e->kind), *outcome = cn_audit_outcome_name(e->outcome);

        if (!gmtime_r(&tt, &tm) || !strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(t, sizeof t, "%lld", (long long) e->time);
        if (!kind) {
                snprintf(num, sizeof num, "%d", (int) e->kind);
                kind = num;
        }
        printf("%-6llu %s  %-11s %-8s", (unsigned long long) e->seq, t, kind,
               outcome ? outcome : "?");
        for (size_t i = 0; i < e->n_items; i++) {
                const CnAuditItem *it = &e->items[i];
                const char *name = cn_audit_field_name(it->field), *v;
                uint64_t u = 0;
                if (name)
                        printf(" %s=", name);
                else
                        printf(" %u=", it->field);
                switch (cn_audit_field_type(it->field)) {
                case CN_AUDIT_TYPE_PSEUDONYM:
                        if ((v = resolved(res, n_res, it->value)))
                                printf("\"%s\"", CLI_ESC(v));
                        else {
                                cn_hex_encode(it->value, 4, hex);
                                printf("#%s", hex);
                        }
                        break;
                case CN_AUDIT_TYPE_ID:
                        cn_hex_encode(it->value, 4, hex);
                        printf("%s", hex);
                        break;
                case CN_AUDIT_TYPE_U64:
                        for (size_t j = 0; j < 8; j++)
                                u |= (uint64_t) it->value[j] << (8 * j);
                        printf("%llu", (unsigned long long) u);
                        break;
                default:
                        printf("%.*s", (int) it->len, (const char *) it->value);
                }
        }
        putchar('\n');
}

static void broken_message(const CnAuditLog *l, const char *label) {
        char hex[CN_UUID_HEX + 1], later[96] = "";
        cn_hex_encode(l->controller, CN_UUID_BYTES, hex);
        if (l->later_seq > l->broken_seq)
                snprintf(later, sizeof later,
                         " (the next name there is %016llx: entries were deleted, or that name was "
                         "planted)",
                         (unsigned long long) l->later_seq);
        cli_error("audit log of %s is broken at entry %llu (audit/%s/%016llx): it %s%s; entries from there on cannot "
                  "be trusted; restore the object from a copy of the repository, or keep this as evidence of tampering",
                  label, (unsigned long long) l->broken_seq, hex, (unsigned long long) l->broken_seq, l->why, later);
}

/* Objects in the log's folder that are no entry: skipped, and said. */
static void foreign_warning(const CnAuditLog *l) {
        if (l->n_foreign)
                cli_warn("%s is not an entry of the audit log (not 16 lower-case hex digits)%s; skipped: remove it if "
                         "it is not yours",
                         CLI_ESC(l->foreign), l->n_foreign > 1 ? ", nor are others beside it" : "");
}

static int load(Cli *cli, const uint8_t id[CN_UUID_BYTES], CnAuditLog *l) {
        int r = cn_audit_load(cli->rp, id, l);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the audit log", r);
        foreign_warning(l);
        return 0;
}

static int show(Cli *cli, const char *since, char **values, size_t n_values, bool *match) {
        _cleanup_(cn_audit_log_done) CnAuditLog l = {};
        _cleanup_free_ Resolve *res = NULL;
        CnController *c;
        uint8_t id[CN_UUID_BYTES];
        int64_t from = INT64_MIN;
        int r;

        if (since && !parse_since(since, &from))
                return cli_usage_error("audit", "--since takes a date (2026-12-01), a UTC time "
                                                "(2026-12-01T10:00:00Z) or an age (7d, 12h, 30m), not %s",
                                       CLI_ESC(since));
        if ((r = cli_open(cli, true)) != 0 || (r = pick(cli, false, id, &c)) != 0)
                return r;
        if (n_values && !c) {
                cli_error("the controller %s was erased: its pseudonym key is gone, so nothing resolves",
                          CLI_ESC(cli->controller));
                return CLI_EXIT_ERROR;
        }
        if (n_values && !(res = calloc(n_values, sizeof *res)))
                return cli_repo_error(cli, "cannot resolve", -ENOMEM);
        for (size_t i = 0; i < n_values; i++) {
                res[i].value = values[i];
                res[i].match = match[i];
                if ((r = cn_audit_pseudonym(c, values[i], strlen(values[i]), res[i].pseudonym)) < 0)
                        return cli_repo_error(cli, "cannot resolve", r);
        }
        if ((r = load(cli, id, &l)) != 0)
                return r;
        if (cli->json) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < l.n; i++) {
                        json_t *j;
                        if (l.v[i].time < from || !matches(&l.v[i], res, n_values))
                                continue;
                        j = cn_audit_entry_json(&l.v[i]);
                        if (j && n_values) {
                                json_t *rv = json_object();
                                for (size_t k = 0; rv && k < l.v[i].n_items; k++) {
                                        const CnAuditItem *it = &l.v[i].items[k];
                                        const char *v;
                                        if (cn_audit_field_type(it->field) == CN_AUDIT_TYPE_PSEUDONYM &&
                                            (v = resolved(res, n_values, it->value)) &&
                                            json_object_set_new(rv, cn_audit_field_name(it->field) ?: "?",
                                                                cli_json_text(v)) < 0) {
                                                json_decref(rv);
                                                rv = NULL;
                                        }
                                }
                                if (!rv || json_object_set_new(j, "resolved", rv) < 0) {
                                        json_decref(j);
                                        j = NULL;
                                }
                        }
                        if (!j || json_array_append_new(a, j) < 0) {
                                json_decref(a);
                                a = NULL;
                        }
                }
                if (a && l.broken)
                        broken_message(&l, c ? c->name : cli->controller);
                r = cli_json_print(a);
                return r ? r : l.broken ? CLI_EXIT_ERROR : CLI_EXIT_OK;
        }
        printf("%-6s %-20s  %-11s %-8s %s\n", "SEQ", "TIME (UTC)", "KIND", "OUTCOME", "FIELDS");
        for (size_t i = 0; i < l.n; i++)
                if (l.v[i].time >= from && matches(&l.v[i], res, n_values))
                        print_entry(&l.v[i], res, n_values);
        if (l.broken) {
                broken_message(&l, c ? CLI_ESC(c->name) : CLI_ESC(cli->controller));
                return CLI_EXIT_ERROR;
        }
        return CLI_EXIT_OK;
}

static int read_checkpoint(Cli *cli, const char *path, CnAuditCheckpoint *cp) {
        _cleanup_(cn_buf_donep) CnBuf b = CN_BUF_INIT(CN_AUDIT_MAX_CHECKPOINT_BYTES + 1);
        const char *why = NULL;
        int r = cn_read_file_at(AT_FDCWD, path, &b);
        if (r < 0 && r != -E2BIG) {
                cli_error("cannot read the checkpoint %s: %s; check the path", CLI_ESC(path), strerror(-r));
                return CLI_EXIT_ERROR;
        }
        if (r >= 0)
                r = cn_audit_checkpoint_verify(b.data, b.len, cn_repo_processor_public_key(cli->rp), cp, &why);
        if (r < 0) {
                cli_error("checkpoint %s is not valid for this repository: %s", CLI_ESC(path),
                          why ?: "larger than any checkpoint");
                return CLI_EXIT_ERROR;
        }
        if (memcmp(cp->repository, cn_repo_id(cli->rp), CN_UUID_BYTES) != 0) {
                cli_error("checkpoint %s is of another repository", CLI_ESC(path));
                return CLI_EXIT_ERROR;
        }
        return 0;
}

static int id_cmp(const void *a, const void *b) {
        return memcmp(a, b, CN_UUID_BYTES);
}

static const char *label_of(Cli *cli, const uint8_t id[CN_UUID_BYTES], char hex[CN_UUID_HEX + 1]) {
        CnController *c;
        cn_hex_encode(id, CN_UUID_BYTES, hex);
        c = cn_repo_find_controller(cli->rp, hex);
        return c && memcmp(c->id, id, CN_UUID_BYTES) == 0 ? c->name : hex;
}

static int verify(Cli *cli, char **checkpoints, size_t n_checkpoints) {
        _cleanup_free_ uint8_t(*ids)[CN_UUID_BYTES] = NULL;
        _cleanup_free_ CnAuditCheckpoint *cps = NULL;
        json_t *out = NULL;
        size_t n = 0;
        bool bad = false;
        int r;

        if ((r = cli_open(cli, true)) != 0)
                return r;
        if (n_checkpoints && !(cps = calloc(n_checkpoints, sizeof *cps)))
                return cli_repo_error(cli, "cannot verify", -ENOMEM);
        for (size_t i = 0; i < n_checkpoints; i++)
                if ((r = read_checkpoint(cli, checkpoints[i], &cps[i])) != 0)
                        return r;
        if (cli->controller) {
                CnController *c;
                bool named = false;
                if (!(ids = calloc(1, sizeof *ids)))
                        return cli_repo_error(cli, "cannot verify", -ENOMEM);
                for (size_t i = 0; i < n_checkpoints; i++)
                        named |= strlen(cli->controller) == CN_UUID_HEX &&
                                 cn_hex_decode(cli->controller, ids[0], CN_UUID_BYTES) == 0 &&
                                 memcmp(ids[0], cps[i].controller, CN_UUID_BYTES) == 0;
                if ((r = pick(cli, named, ids[0], &c)) != 0)
                        return r;
                n = 1;
        } else if ((r = cn_audit_controllers(cli->rp, &ids, &n)) < 0)
                return cli_repo_error(cli, "cannot list the audit logs", r);
        /* Every controller there is, and that of every checkpoint: a log
         * deleted whole is listed (as empty), never left out. */
        for (size_t i = 0; !cli->controller && i < cn_repo_n_controllers(cli->rp) + n_checkpoints; i++) {
                const uint8_t *want = i < cn_repo_n_controllers(cli->rp)
                                              ? cn_repo_controller(cli->rp, i)->id
                                              : cps[i - cn_repo_n_controllers(cli->rp)].controller;
                bool found = false;
                for (size_t j = 0; j < n && !found; j++)
                        found = memcmp(ids[j], want, CN_UUID_BYTES) == 0;
                if (!found) {
                        uint8_t(*more)[CN_UUID_BYTES] = realloc(ids, (n + 1) * sizeof *ids);
                        if (!more)
                                return cli_repo_error(cli, "cannot verify", -ENOMEM);
                        ids = more;
                        memcpy(ids[n++], want, CN_UUID_BYTES);
                }
        }
        if (n > 1)
                qsort(ids, n, sizeof *ids, id_cmp);
        /* A checkpoint given is held against its log, or verify fails: one
         * of another controller than --controller's checks nothing. */
        for (size_t i = 0; cli->controller && i < n_checkpoints; i++)
                if (memcmp(cps[i].controller, ids[0], CN_UUID_BYTES) != 0) {
                        char hex[CN_UUID_HEX + 1];
                        cn_hex_encode(cps[i].controller, CN_UUID_BYTES, hex);
                        cli_error("checkpoint %s is of controller %s, not of %s: it checks nothing here; give it "
                                  "without --controller, or give the checkpoint of %s",
                                  CLI_ESC(checkpoints[i]), hex, CLI_ESC(cli->controller), CLI_ESC(cli->controller));
                        return CLI_EXIT_ERROR;
                }
        if (cli->json && !(out = json_array()))
                return cli_repo_error(cli, "cannot verify", -ENOMEM);
        for (size_t j = 0; j < n; j++) {
                _cleanup_(cn_audit_log_done) CnAuditLog l = {};
                char hex[CN_UUID_HEX + 1], head[CN_ID_HEX + 1] = "";
                const char *label = label_of(cli, ids[j], hex), *why = NULL;
                const char *state = "intact";
                if ((r = load(cli, ids[j], &l)) != 0) {
                        json_decref(out);
                        return r;
                }
                if (l.n)
                        cn_hex_encode(l.v[l.n - 1].hash, CN_ID_BYTES, head);
                if (l.broken) {
                        bad = true;
                        state = "broken";
                        broken_message(&l, CLI_ESC(label));
                }
                for (size_t i = 0; !l.broken && i < n_checkpoints; i++) {
                        if (memcmp(cps[i].controller, ids[j], CN_UUID_BYTES) != 0)
                                continue;
                        if (cn_audit_check_against(&l, &cps[i], &why) < 0) {
                                bad = true;
                                state = "broken";
                                cli_error("audit log of %s does not extend checkpoint %s: %s (the checkpoint vouches "
                                          "for %llu entries, the log has %zu)",
                                          CLI_ESC(label), CLI_ESC(checkpoints[i]), why,
                                          (unsigned long long) cps[i].entries, l.n);
                        }
                }
                if (out) {
                        json_t *o = json_pack("{s:s, s:o, s:I, s:s, s:b, s:o?}", "controller", hex, "name", cli_json_text(label),
                                              "entries", (json_int_t) l.n, "head", head, "intact",
                                              strcmp(state, "intact") == 0, "broken_at",
                                              l.broken ? json_integer((json_int_t) l.broken_seq) : NULL);
                        if (!o || json_array_append_new(out, o) < 0) {
                                json_decref(out);
                                return cli_repo_error(cli, "cannot verify", -ENOMEM);
                        }
                } else
                        printf("%s: %zu entr%s, head %.16s: %s\n", CLI_ESC(label), l.n, l.n == 1 ? "y" : "ies",
                               l.n ? head : "(none)", state);
        }
        if (out && (r = cli_json_print(out)) != 0)
                return r;
        return bad ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

static int checkpoint(Cli *cli, const char *path) {
        _cleanup_(cn_audit_log_done) CnAuditLog l = {};
        _cleanup_(cn_buf_donep) CnBuf file = CN_BUF_INIT(CN_AUDIT_MAX_CHECKPOINT_BYTES);
        CnController *c;
        uint8_t id[CN_UUID_BYTES];
        int r;

        if ((r = cli_open(cli, true)) != 0 || (r = pick(cli, false, id, &c)) != 0 || (r = load(cli, id, &l)) != 0)
                return r;
        if (l.broken) {
                broken_message(&l, c ? CLI_ESC(c->name) : CLI_ESC(cli->controller));
                cli_error("no checkpoint written: a checkpoint vouches only for an intact log");
                return CLI_EXIT_ERROR;
        }
        if ((r = cn_audit_checkpoint(cli->rp, &l, &file)) < 0)
                return cli_repo_error(cli, "cannot sign the checkpoint", r);
        if (!path || strcmp(path, "-") == 0) {
                if (fwrite(file.data, 1, file.len, stdout) != file.len) {
                        cli_error("writing the checkpoint to standard output failed");
                        return CLI_EXIT_ERROR;
                }
                return CLI_EXIT_OK;
        }
        if ((r = cn_write_file_atomic_at(AT_FDCWD, path, file.data, file.len, 0644, 0)) < 0) {
                cli_error("cannot write the checkpoint to %s: %s; check the path and its directory's permissions",
                          CLI_ESC(path), strerror(-r));
                return CLI_EXIT_ERROR;
        }
        cli_info(cli, "wrote a checkpoint of %zu entr%s to %s\n", l.n, l.n == 1 ? "y" : "ies", CLI_ESC(path));
        return CLI_EXIT_OK;
}

int verb_audit(Cli *cli, int argc, char **argv) {
        enum { OPT_SINCE = _OPT_GLOBAL_MAX, OPT_RESOLVE, OPT_MATCH, OPT_CHECKPOINT };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {"since", required_argument, NULL, OPT_SINCE},
                {"resolve", required_argument, NULL, OPT_RESOLVE},
                {"match", required_argument, NULL, OPT_MATCH},
                {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
                {"output", required_argument, NULL, 'o'},
                {},
        };
        _cleanup_free_ char **values = calloc((size_t) argc + 1, sizeof *values);
        _cleanup_free_ bool *match = calloc((size_t) argc + 1, sizeof *match);
        _cleanup_free_ char **checkpoints = calloc((size_t) argc + 1, sizeof *checkpoints);
        const char *since = NULL, *out = NULL;
        size_t n_values = 0, n_checkpoints = 0;
        int c;

        if (!values || !match || !checkpoints) {
                cli_error("out of memory");
                return CLI_EXIT_ERROR;
        }
        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT "o:", opts)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return CLI_EXIT_OK;
                case OPT_SINCE:
                        since = optarg;
                        break;
                case OPT_RESOLVE:
                case OPT_MATCH:
                        match[n_values] = c == OPT_MATCH;
                        values[n_values++] = optarg;
                        break;
                case OPT_CHECKPOINT:
                        checkpoints[n_checkpoints++] = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                default:
                        return cli_usage_error("audit", "unknown option");
                }
        }
        if (optind >= argc)
                return cli_usage_error("audit", "give a subcommand: show, verify or checkpoint");
        const char *sub = argv[optind];
        bool is_show = strcmp(sub, "show") == 0, is_verify = strcmp(sub, "verify") == 0,
             is_checkpoint = strcmp(sub, "checkpoint") == 0;
        if (!is_show && !is_verify && !is_checkpoint)
                return cli_usage_error("audit", "unknown subcommand '%s'", CLI_ESC(sub));
        if (argc - optind != 1)
                return cli_usage_error("audit", "too many arguments");
        if ((since || n_values) && !is_show)
                return cli_usage_error("audit", "--since, --resolve and --match are for audit show");
        if (n_checkpoints && !is_verify)
                return cli_usage_error("audit", "--checkpoint is for audit verify");
        if (out && !is_checkpoint)
                return cli_usage_error("audit", "-o is for audit checkpoint");
        if (is_show)
                return show(cli, since, values, n_values, match);
        if (is_verify)
                return verify(cli, checkpoints, n_checkpoints);
        return checkpoint(cli, out);
}

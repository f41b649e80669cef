/* SPDX-License-Identifier: GPL-3.0-or-later */
/* prune: delete the data no snapshot needs (docs/cli/prune.md). The work
 * is core/prune's; here are the flags, the report and the JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] prune [--max-unused LIMIT] [--dry-run] [--json]\n"
              "\n"
              "Delete what no snapshot needs: chunks and trees only removed snapshots used,\n"
              "second copies, copies known to be damaged that have a good twin. Safe while\n"
              "backups write into the repository: what a running backup may still rely on\n"
              "is deleted by a later prune, once that backup is done (docs/FORMAT.md).\n"
              "\n"
              "      --max-unused LIMIT  unneeded bytes that may stay in packs that also hold\n"
              "                          needed data, as a share of the needed bytes (5%, the\n"
              "                          default), a size (500M, 2G) or 0 (repack every such\n"
              "                          pack: nothing unneeded stays) or 'unlimited' (never\n"
              "                          repack; only packs with nothing needed are deleted)\n"
              "  -n, --dry-run           say what would be deleted, delete nothing\n"
              "      --json              the report as one JSON object\n",
              stdout);
}

/* "5%", "0", "1G", "500M", "123" (bytes), "unlimited". */
bool cli_parse_max_unused(const char *arg, CnPruneOptions *o) {
        char *end;
        if (strcmp(arg, "unlimited") == 0) {
                o->percent = false;
                o->max_unused = UINT64_MAX;
                return true;
        }
        if (arg[0] < '0' || arg[0] > '9')
                return false;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (errno)
                return false;
        if (strcmp(end, "%") == 0) {
                o->percent = true;
                o->max_unused = v;
                return v < 100;
        }
        static const char units[] = "kmgt";
        unsigned shift = 0;
        if (*end) {
                const char *u = strchr(units, end[0] | 0x20);
                if (!u || !end[0] || (end[1] && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0))
                        return false;
                shift = 10 * (unsigned) (u - units + 1);
        }
        if (shift && v > (UINT64_MAX >> shift))
                return false;
        o->percent = false;
        o->max_unused = (uint64_t) v << shift;
        return true;
}

static void on_problem(const CnPruneProblem *p, void *u) {
        Cli *cli = u;
        switch (p->kind) {
        case CN_PRUNE_DAMAGED_OBJECT:
                cli_damaged(p->object, p->error, cli);
                break;
        case CN_PRUNE_SNAPSHOT_DAMAGED:
                cli_error("controller %s: snapshot object %s does not open (%s): what it needs is unknown, so "
                          "nothing of this controller is pruned; 'cairn check' says more (remove the object if it "
                          "cannot be repaired)",
                          CLI_ESC(p->controller), CLI_ESC(p->object), cli_damage_reason(p->error));
                break;
        case CN_PRUNE_TREE_UNREADABLE:
                cli_error("controller %s: snapshot %.8s needs tree %.16s, which cannot be read (%s): what is below "
                          "it is unknown, so nothing of this controller is pruned; run 'cairn check' (a backup "
                          "with --force stores missing data again)",
                          CLI_ESC(p->controller), p->snapshot ? p->snapshot : "?", p->object,
                          p->error == -ENOENT ? "missing" : cli_damage_reason(p->error));
                break;
        case CN_PRUNE_BUSY:
                cli_error("controller %s: another prune is running (on %s): nothing of this controller is pruned "
                          "by this one; run it again when that one is done",
                          CLI_ESC(p->controller), CLI_ESC(p->object));
                break;
        }
}

static void print_json(const CnPruneStats *s, bool dry_run) {
        printf("{\"dry_run\":%s,\"controllers\":%" PRIu64 ",\"controllers_skipped\":%" PRIu64
               ",\"snapshots\":%" PRIu64 ",\"packs\":%" PRIu64 ",\"blobs\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"blobs_used\":%" PRIu64 ",\"bytes_used\":%" PRIu64 ",\"blobs_unreachable\":%" PRIu64
               ",\"bytes_unreachable\":%" PRIu64 ",\"blobs_duplicate\":%" PRIu64 ",\"bytes_duplicate\":%" PRIu64
               ",\"blobs_planned\":%" PRIu64 ",\"plans_written\":%" PRIu64 ",\"plans_waiting\":%" PRIu64
               ",\"writers_waited\":%" PRIu64 ",\"blobs_deleted\":%" PRIu64 ",\"bytes_deleted\":%" PRIu64
               ",\"packs_deleted\":%" PRIu64 ",\"packs_repacked\":%" PRIu64 ",\"packs_written\":%" PRIu64
               ",\"blobs_repacked\":%" PRIu64 ",\"bytes_repacked\":%" PRIu64 ",\"bytes_unused_left\":%" PRIu64
               ",\"plans_removed\":%" PRIu64 ",\"sessions_removed\":%" PRIu64 ",\"ledgers_removed\":%" PRIu64
               ",\"memory\":%" PRIu64 "}\n",
               dry_run ? "true" : "false", s->controllers, s->controllers_skipped, s->snapshots, s->packs, s->blobs,
               s->bytes, s->blobs_used, s->bytes_used, s->blobs_unreachable, s->bytes_unreachable,
               s->blobs_duplicate, s->bytes_duplicate, s->blobs_planned, s->plans_written, s->plans_waiting,
               s->writers_waited, s->blobs_deleted, s->bytes_deleted, s->packs_deleted, s->packs_repacked,
               s->packs_written, s->blobs_repacked, s->bytes_repacked, s->bytes_unused_left, s->plans_removed,
               s->sessions_removed, s->ledgers_removed, s->memory);
}

static void print_text(const Cli *cli, const CnPruneStats *s, bool dry_run) {
        char a[32], b[32], c[32];
        const char *would = dry_run ? "would be " : "";

        cli_info(cli, "%" PRIu64 " snapshot%s, %" PRIu64 " pack%s holding %" PRIu64 " blobs (%s):\n", s->snapshots,
                 s->snapshots == 1 ? "" : "s", s->packs, s->packs == 1 ? "" : "s", s->blobs, cli_size(s->bytes, a));
        cli_info(cli, "  needed       %12" PRIu64 " blobs  %10s\n", s->blobs_used, cli_size(s->bytes_used, a));
        cli_info(cli, "  unreachable  %12" PRIu64 " blobs  %10s\n", s->blobs_unreachable,
                 cli_size(s->bytes_unreachable, a));
        cli_info(cli, "  second copies%12" PRIu64 " blobs  %10s\n", s->blobs_duplicate, cli_size(s->bytes_duplicate, a));
        cli_info(cli, "%s%" PRIu64 " blobs (%s) %sdeleted: %" PRIu64 " packs %sdeleted, %" PRIu64
                      " of them repacked (%s moved into %" PRIu64 " new packs)\n",
                 dry_run ? "" : "", s->blobs_deleted, cli_size(s->bytes_deleted, a), would, s->packs_deleted, would,
                 s->packs_repacked, cli_size(s->bytes_repacked, b), s->packs_written);
        cli_info(cli, "unneeded data %sleft in packs: %s\n", dry_run ? "that would be " : "",
                 cli_size(s->bytes_unused_left, c));
        if (s->plans_waiting)
                cli_info(cli,
                         "%" PRIu64 " deletion plan%s wait%s for %" PRIu64 " running backup%s, which may still use "
                         "what %s: a prune after %s done deletes it\n",
                         s->plans_waiting, s->plans_waiting == 1 ? "" : "s", s->plans_waiting == 1 ? "s" : "",
                         s->writers_waited, s->writers_waited == 1 ? "" : "s", s->plans_waiting == 1 ? "it names" : "they name",
                         s->writers_waited == 1 ? "it is" : "they are");
        if (s->sessions_removed)
                cli_info(cli, "removed %" PRIu64 " session object%s of backups or prunes that stopped without ending\n",
                         s->sessions_removed, s->sessions_removed == 1 ? "" : "s");
        if (dry_run)
                cli_info(cli, "--dry-run: nothing was written or deleted\n");
}

int cli_prune(Cli *cli, const CnPruneOptions *opts) {
        CnPruneOptions o = *opts;
        CnPruneStats st;
        o.on_problem = on_problem;
        o.userdata = cli;
        int r = cn_prune_run(cli->rp, &o, &st);
        if (r < 0 && r != -EUCLEAN)
                return cli_repo_error(cli, "prune failed (what it deleted is gone, the rest is as it was; run "
                                           "prune again)",
                                      r);
        /* A prune that changed something is in the audit log; one with
         * nothing to do leaves the repository as it was. */
        if (!o.dry_run && (st.blobs_deleted || st.packs_deleted || st.packs_repacked || st.plans_written)) {
                CnAuditEvent *e = NULL;
                if (cn_audit_event_new(CN_AUDIT_PRUNE, r < 0 || st.controllers_skipped ? CN_AUDIT_PARTIAL : CN_AUDIT_OK,
                                       &e) >= 0) {
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_BYTES, st.bytes_deleted);
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_SNAPSHOTS, st.snapshots);
                }
                cli_audit_all(cli, e);
        }
        if (cli->json)
                print_json(&st, o.dry_run);
        else if (st.controllers_skipped < st.controllers)
                print_text(cli, &st, o.dry_run);
        if (st.controllers_skipped) {
                cli_error("%" PRIu64 " controller%s not pruned (said above)", st.controllers_skipped,
                          st.controllers_skipped == 1 ? " was" : "s were");
                return CLI_EXIT_ERROR;
        }
        return CLI_EXIT_OK;
}

int verb_prune(Cli *cli, int argc, char **argv) {
        enum { OPT_MAX_UNUSED = _OPT_GLOBAL_MAX };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {"max-unused", required_argument, NULL, OPT_MAX_UNUSED},
                {"dry-run", no_argument, NULL, 'n'},
                {},
        };
        CnPruneOptions o = { .percent = true, .max_unused = CN_PRUNE_DEFAULT_MAX_UNUSED_PERCENT };
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT "n", opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == OPT_MAX_UNUSED) {
                        if (!cli_parse_max_unused(optarg, &o))
                                return cli_usage_error("prune", CLI_MAX_UNUSED_USAGE, CLI_ESC(optarg));
                } else if (c == 'n')
                        o.dry_run = true;
                else
                        return cli_usage_error("prune", "unknown option");
        }
        if (optind < argc)
                return cli_usage_error("prune", "prune takes no arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        return cli_prune(cli, &o);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "check.h"
#include "cli.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] check [--read-data]\n"
              "\n"
              "Verify the repository: every index, key ledger and snapshot opens, every pack\n"
              "the index names is there, every snapshot's trees and file chunks are present,\n"
              "every audit log is an unbroken chain ('cairn audit verify').\n"
              "With --read-data, also read every pack and authenticate every chunk.\n"
              "Each problem is listed with the snapshots and files it affects; exit 1 if any.\n"
              "Chunk copies found unreadable are recorded in the repository, so that the next\n"
              "backup stores those chunks again.\n",
              stdout);
}

static const char *kind_text(CnCheckKind k) {
        switch (k) {
        case CN_CHECK_DAMAGED_OBJECT:
                return "damaged";
        case CN_CHECK_MISSING_PACK:
                return "missing pack";
        case CN_CHECK_DAMAGED_PACK:
                return "damaged pack";
        case CN_CHECK_BAD_BLOB:
                return "damaged chunk";
        case CN_CHECK_MISSING_KEY:
                return "no data key for chunk";
        case CN_CHECK_MISSING_BLOB:
                return "missing chunk";
        case CN_CHECK_AFFECTED:
                return "affected";
        case CN_CHECK_ORPHAN_PACK:
                return "unindexed pack";
        case CN_CHECK_RECORDED_BLOB:
                return "recorded damaged chunk";
        case CN_CHECK_NOT_RECORDED:
                return "damage not recorded";
        case CN_CHECK_REPO_OBJECT:
                return "skipped object";
        case CN_CHECK_KEYLESS_PACK:
                return "pack without keys";
        case CN_CHECK_BROKEN_AUDIT:
                return "broken audit log";
        }
        return "problem";
}

static void on_problem(const CnCheckProblem *p, void *u) {
        const Cli *cli = u;
        char text[1024];
        if (p->kind == CN_CHECK_REPO_OBJECT) {
                cli_repo_problem_text(p->repo_problem, text, sizeof text);
                if (cli->json) {
                        printf("{\"problem\":\"%s\",\"controller\":\"\",\"object\":", kind_text(p->kind));
                        cli_json_string(stdout, p->object, strlen(p->object));
                        printf(",\"error\":");
                        cli_json_string(stdout, text, strlen(text));
                        printf("}\n");
                } else
                        printf("error: %s (every command skips it; remove it if nobody needs it)\n", CLI_ESC(text));
                return;
        }
        if (cli->json) {
                printf("{\"problem\":\"%s\",\"controller\":", kind_text(p->kind));
                cli_json_string(stdout, p->controller, strlen(p->controller));
                if (p->object) {
                        printf(",\"object\":");
                        cli_json_string(stdout, p->object, strlen(p->object));
                }
                if (p->snapshot) {
                        printf(",\"snapshot\":");
                        cli_json_string(stdout, p->snapshot, strlen(p->snapshot));
                }
                if (p->path) {
                        printf(",\"path\":");
                        cli_json_string(stdout, p->path, strlen(p->path));
                }
                if (p->error || p->detail) {
                        const char *why = p->detail ? p->detail : cli_damage_reason(p->error);
                        printf(",\"error\":");
                        cli_json_string(stdout, why, strlen(why));
                }
                printf("}\n");
                return;
        }
        if (p->kind == CN_CHECK_ORPHAN_PACK) {
                if (cli->verbose)
                        printf("note: %s has no index file and its header does not open (left by an "
                               "interrupted backup); its chunks are stored again when needed\n",
                               CLI_ESC(p->object));
                return;
        }
        if (p->kind == CN_CHECK_AFFECTED) {
                printf("error: snapshot %.8s: ", CLI_ESC(p->snapshot));
                cli_print_escaped(stdout, p->path, strlen(p->path));
                printf(": cannot be fully restored (data missing or damaged)\n");
                return;
        }
        switch (p->kind) {
        case CN_CHECK_BROKEN_AUDIT:
                printf("error: the audit log of controller %s is broken at %s: it %s ('cairn audit verify' says "
                       "more; restore the entry from a copy of the repository, or keep it as evidence)\n",
                       CLI_ESC(p->controller), CLI_ESC(p->object), p->detail);
                return;
        case CN_CHECK_KEYLESS_PACK:
                printf("error: %s (controller %s): no ledger holds the keys of this pack (its ledger is lost or "
                       "damaged, as said above): its chunks cannot be read; the next backup of a file holding "
                       "them stores them again\n",
                       CLI_ESC(p->object), CLI_ESC(p->controller));
                return;
        case CN_CHECK_DAMAGED_OBJECT:
                printf("error: %s (controller %s) is %s\n", CLI_ESC(p->object), CLI_ESC(p->controller),
                       cli_damage_reason(p->error));
                return;
        case CN_CHECK_RECORDED_BLOB:
                printf("error: damaged chunk %s (controller %s): recorded as unreadable by an earlier check or "
                       "backup, and no other copy is stored; the next backup of a file holding it stores it again\n",
                       CLI_ESC(p->object), CLI_ESC(p->controller));
                return;
        case CN_CHECK_NOT_RECORDED:
                printf("error: could not record the damage found under %s (controller %s): %s; backups will not "
                       "know to store those chunks again (backup --force finds them itself)\n",
                       CLI_ESC(p->object), CLI_ESC(p->controller), strerror(-p->error));
                return;
        default:
                break;
        }
        printf("error: %s %s (controller %s): %s\n", kind_text(p->kind), CLI_ESC(p->object), CLI_ESC(p->controller),
               p->error == -EBADMSG ? "failed authentication"
               : p->error == -E2BIG ? cli_damage_reason(p->error)
                                    : strerror(-p->error));
}

int verb_check(Cli *cli, int argc, char **argv) {
        enum { OPT_READ_DATA = _OPT_GLOBAL_MAX };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                { "read-data", no_argument, NULL, OPT_READ_DATA },
                {},
        };
        bool read_data = false;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == OPT_READ_DATA)
                        read_data = true;
                else
                        return cli_usage_error("check", "unknown option");
        }
        if (optind < argc)
                return cli_usage_error("check", "check takes no arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        CnCheckStats st;
        r = cn_check_run(cli->rp, read_data, on_problem, cli, &st);
        if (r < 0)
                return cli_repo_error(cli, "check could not run", r);
        char sz[32];
        if (cli->json)
                printf("{\"controllers\":%" PRIu64 ",\"snapshots\":%" PRIu64 ",\"packs\":%" PRIu64
                       ",\"blobs\":%" PRIu64 ",\"trees\":%" PRIu64 ",\"packs_read\":%" PRIu64
                       ",\"bytes_read\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"chunks_unreadable\":%" PRIu64
                       ",\"audit_logs\":%" PRIu64 ",\"audit_entries\":%" PRIu64 "}\n",
                       st.controllers, st.snapshots, st.packs, st.blobs, st.trees, st.packs_read, st.bytes_read,
                       st.errors, st.blobs_bad, st.audit_logs, st.audit_entries);
        else {
                if (st.blobs_bad)
                        cli_info(cli,
                                 "%" PRIu64 " stored chunk cop%s unreadable, recorded in the repository: the next "
                                 "backup of the files holding them stores them again\n",
                                 st.blobs_bad, st.blobs_bad == 1 ? "y is" : "ies are");
                cli_info(cli,
                         "checked %" PRIu64 " controller(s), %" PRIu64 " snapshots, %" PRIu64 " packs, %" PRIu64
                         " chunks, %" PRIu64 " trees, %" PRIu64 " audit entries%s%s: %s\n",
                         st.controllers, st.snapshots, st.packs, st.blobs, st.trees, st.audit_entries,
                         read_data ? "; read " : "", read_data ? cli_size(st.bytes_read, sz) : "",
                         st.errors ? "ERRORS FOUND" : "no errors");
        }
        return st.errors ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

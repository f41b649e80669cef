/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "cli.h"
#include "macro.h"
#include "restore.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] dump [--host H] [--tag T] [--path P] latest|ID PATH > FILE\n"
              "\n"
              "Write the content of one file of a snapshot to standard output.\n"
              "\n"
              "Filters for 'latest' (an ID names its snapshot whatever they say):\n" CLI_FILTER_HELP,
              stdout);
}

int verb_dump(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = { CLI_GLOBAL_LONG, CLI_FILTER_LONG, {} };
        _cleanup_(cn_store_freep) CnStore *store = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_(cn_snapshot_filter_done) CnSnapshotFilter filter = {};
        CnSnapshot *list = NULL;
        CnNode node = {};
        size_t n = 0;
        int c, r, ret = CLI_EXIT_ERROR;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (!cli_filter_option(&filter, c, optarg))
                        return cli_usage_error("dump", "unknown option");
        }
        if (argc - optind != 2)
                return cli_usage_error("dump", "give a snapshot (latest or an ID) and the path of a file in it");
        if (cn_path_clean(argv[optind + 1], &path) < 0)
                return CLI_EXIT_ERROR;
        const CnSnapshot *s;
        r = cli_open_snapshot(cli, argv[optind], &filter, &list, &n, &s, &store);
        if (r != 0) {
                ret = r;
                goto out;
        }
        r = cn_snapshot_find_node(store, s, path, &node);
        if (r == -ENOENT || r == -ENOTDIR) {
                cli_error("no path %s in snapshot %.8s", CLI_ESC(path), s->id_hex);
                goto out;
        }
        if (r >= 0 && node.type != CN_NODE_FILE) {
                cli_error("%s in snapshot %.8s is not a regular file; use 'cairn restore %.8s:%s --target DIR'", CLI_ESC(path),
                          s->id_hex, s->id_hex, CLI_ESC(path));
                goto out;
        }
        if (r >= 0) {
                CnAuditEvent *e = NULL;
                r = cn_dump_file(store, &node, STDOUT_FILENO);
                if (cn_audit_event_new(CN_AUDIT_DUMP, r < 0 && r != -EPIPE ? CN_AUDIT_FAILED : CN_AUDIT_OK, &e) >= 0) {
                        (void) cn_audit_event_id(e, CN_AUDIT_F_SNAPSHOT, s->id);
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_PATH, path, strlen(path));
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_BYTES, node.size);
                }
                cli_audit(cli, s->controller, e);
        }
        if (r == -EPIPE) {
                ret = CLI_EXIT_OK;      /* the reader stopped early: not our failure */
                goto out;
        }
        if (r == -EUCLEAN) {
                cli_error("%s in snapshot %.8s: its entry does not match its stored data (the file changed while "
                          "it was backed up); what was stored was written, the rest as zeros",
                          CLI_ESC(path), s->id_hex);
                goto out;
        }
        if (r < 0) {
                ret = cli_repo_error(cli, "dump failed", r);
                goto out;
        }
        ret = CLI_EXIT_OK;
out:
        cn_node_done(&node);
        cn_snapshots_free(list, n);
        return ret;
}

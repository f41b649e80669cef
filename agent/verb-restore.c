/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "cli.h"
#include "fileio.h"
#include "macro.h"
#include "restore.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] restore latest|ID[:PATH] --target DIR [OPTIONS]\n"
              "\n"
              "Restore a snapshot with all its metadata. The backed-up absolute paths are\n"
              "recreated under DIR (/etc/hosts lands in DIR/etc/hosts); with ID:PATH the\n"
              "contents of PATH land in DIR.\n"
              "\n"
              "  -t, --target DIR       where to restore (created if missing)\n"
              "  -i, --include PATTERN  restore only matching entries (repeatable)\n"
              "      --numeric-owner    set owners by uid/gid, ignoring user and group names\n"
              "\n"
              "Filters for 'latest' (an ID names its snapshot whatever they say):\n" CLI_FILTER_HELP
              "\n"
              "Entries that cannot be restored are listed and the exit code is 1; the rest\n"
              "are restored all the same.\n",
              stdout);
}

static void on_error(const char *path, int error, void *u) {
        fputs("cairn: error: ", stderr);
        cli_print_escaped(stderr, path, strlen(path));
        if (error == EBADMSG)
                fputs(": its data in the repository is damaged (failed authentication); not restored\n", stderr);
        else if (error == EUCLEAN)
                fputs(": its entry in the snapshot does not match its stored data (the file changed while it "
                      "was backed up); restored as it was stored\n",
                      stderr);
        else if (error == ENOENT)
                fputs(": its data is not in the repository (its pack, or the key ledger of its pack, is lost "
                      "or damaged; 'cairn check' names it, and the next backup of the file stores it again); "
                      "not restored\n",
                      stderr);
        else if (error == ENOKEY)
                fputs(": the data key of its content is missing (the key ledger of its pack is lost or damaged; "
                      "'cairn check' names it, and the next backup of the file stores it again); not restored\n",
                      stderr);
        else if (error == EPROTO || error == E2BIG)
                fputs(": the storage server sent more bytes than its data has (a faulty or hostile server; "
                      "'cairn check --read-data' names the pack); not restored\n",
                      stderr);
        else if (error == ESTALE)
                fputs(": moved or replaced in the target while restoring; not restored\n", stderr);
        else
                fprintf(stderr, ": %s; not restored\n", strerror(error));
}

/* Make target (and its parents) if missing and open it; reports why not. */
static int open_target(const char *target, int *ret_fd) {
        int r = cn_mkdir_p_at(AT_FDCWD, target, 0700);
        int fd = r < 0 ? -1 : open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r >= 0 && fd < 0)
                r = -errno;
        if (r == -ENOTDIR || r == -EEXIST) {
                cli_error("restore target %s is not a directory; give a directory (it is made if missing)",
                          CLI_ESC(target));
                return CLI_EXIT_USAGE;
        }
        if (r < 0) {
                cli_error("cannot make or open restore target %s: %s", CLI_ESC(target), strerror(-r));
                return CLI_EXIT_ERROR;
        }
        *ret_fd = fd;
        return 0;
}

int verb_restore(Cli *cli, int argc, char **argv) {
        enum { OPT_NUMERIC = _OPT_GLOBAL_MAX };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                CLI_FILTER_LONG,
                { "target", required_argument, NULL, 't' },
                { "include", required_argument, NULL, 'i' },
                { "numeric-owner", no_argument, NULL, OPT_NUMERIC },
                {},
        };
        _cleanup_(cn_store_freep) CnStore *store = NULL;
        _cleanup_free_ char *spec = NULL, *sub = NULL;
        CnPatterns includes = {};
        _cleanup_(cn_snapshot_filter_done) CnSnapshotFilter filter = {};
        CnSnapshot *list = NULL;
        size_t n = 0;
        const char *target = NULL;
        CnNode node = {};
        int target_fd = -1;
        unsigned flags = geteuid() == 0 ? 0 : CN_FSMETA_NO_OWNER;
        int c, r, ret = CLI_EXIT_ERROR;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT "t:i:", opts)) >= 0) {
                if (c == 'h') {
                        help();
                        ret = CLI_EXIT_OK;
                        goto out;
                }
                if (c == 't')
                        target = optarg;
                else if (c == 'i') {
                        if (cn_patterns_add(&includes, optarg) < 0) {
                                ret = cli_usage_error("restore", "empty include pattern");
                                goto out;
                        }
                } else if (c == OPT_NUMERIC)
                        flags |= CN_FSMETA_NUMERIC_OWNER;
                else if (!cli_filter_option(&filter, c, optarg)) {
                        ret = cli_usage_error("restore", "unknown option");
                        goto out;
                }
        }
        if (optind + 1 != argc) {
                ret = cli_usage_error("restore", "give exactly one snapshot: latest, an ID, or ID:PATH");
                goto out;
        }
        if (!target || !*target) {
                ret = cli_usage_error("restore", "--target DIR is required (a directory, made if missing)");
                goto out;
        }
        struct stat tst;
        if (stat(target, &tst) == 0 && !S_ISDIR(tst.st_mode)) {
                ret = cli_usage_error("restore", "target %s is not a directory", CLI_ESC(target));
                goto out;
        }
        if (!(spec = strdup(argv[optind]))) {
                cli_error("cannot read the snapshot to restore: %s", strerror(ENOMEM));
                goto out;
        }
        char *colon = strchr(spec, ':');
        if (colon) {
                *colon = 0;
                int k = cn_path_clean(colon[1] ? colon + 1 : "/", &sub);
                if (k < 0) {
                        cli_error("cannot read the path %s to restore: %s", CLI_ESC(colon + 1), strerror(-k));
                        goto out;
                }
        }
        const CnSnapshot *s;
        r = cli_open_snapshot(cli, spec, &filter, &list, &n, &s, &store);
        if (r != 0) {
                ret = r;
                goto out;
        }
        /* Find the path first: a mistyped one makes no target. */
        r = cn_snapshot_find_node(store, s, sub ? sub : "/", &node);
        if (r == -ENOENT || r == -ENOTDIR) {
                cli_error("no path %s in snapshot %.8s", CLI_ESC(sub ? sub : "/"), s->id_hex);
                goto out;
        }
        if (r < 0) {
                ret = cli_repo_error(cli, "restore failed", r);
                goto out;
        }
        r = open_target(target, &target_fd);
        if (r != 0) {
                ret = r;
                goto out;
        }
        CnRestoreOptions o = {
                .target_fd = target_fd,
                .subpath = sub,
                .includes = &includes,
                .meta_flags = flags,
                .on_error = on_error,
        };
        CnRestoreStats st;
        r = cn_restore_run(store, s, &o, &st);
        CnAuditEvent *e = NULL;
        if (cn_audit_event_new(CN_AUDIT_RESTORE, r < 0 ? CN_AUDIT_FAILED : st.errors ? CN_AUDIT_PARTIAL : CN_AUDIT_OK,
                               &e) >= 0) {
                (void) cn_audit_event_id(e, CN_AUDIT_F_SNAPSHOT, s->id);
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_PATH, sub ? sub : "/", strlen(sub ? sub : "/"));
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_URL, target, strlen(target));
                if (r >= 0) {
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_FILES, st.files);
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_BYTES, st.bytes);
                }
        }
        cli_audit(cli, s->controller, e);
        if (r == -ESTALE) {
                cli_error("restore into %s stopped: a directory of the target was moved or replaced while "
                          "restoring (listed above); check what else writes there and restore again",
                          CLI_ESC(target));
                goto out;
        }
        if (r < 0) {
                ret = cli_repo_error(cli, "restore failed", r);
                goto out;
        }
        char sz[32];
        if (cli->json)
                printf("{\"snapshot\":\"%s\",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"others\":%" PRIu64
                       ",\"bytes\":%" PRIu64 ",\"errors\":%" PRIu64 "}\n",
                       s->id_hex, st.files, st.dirs, st.others, st.bytes, st.errors);
        else
                cli_info(cli, "restored snapshot %.8s to %s: %" PRIu64 " files, %" PRIu64 " dirs, %" PRIu64
                              " others, %s\n",
                         s->id_hex, CLI_ESC(target), st.files, st.dirs, st.others, cli_size(st.bytes, sz));
        if (st.errors) {
                cli_error("%" PRIu64 " entr%s could not be restored (listed above)", st.errors,
                          st.errors == 1 ? "y" : "ies");
                goto out;
        }
        ret = CLI_EXIT_OK;
out:
        if (target_fd >= 0)
                close(target_fd);
        cn_node_done(&node);
        cn_snapshots_free(list, n);
        cn_patterns_done(&includes);
        return ret;
}

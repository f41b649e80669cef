/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "backup.h"
#include "cli.h"
#include "macro.h"
#include "restore.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] ls [-l] [--json] [--subject S] [--host H] [--tag T] [--path P] latest|ID [PATH]\n"
              "\n"
              "List every entry of a snapshot below PATH (default: all), one a line.\n"
              "  -l, --long     mode, owner, size and time too, and the entry's data subjects\n"
              "      --subject S  only the entries tagged with the data subject S\n"
              "\n"
              "Filters for 'latest' (an ID names its snapshot whatever they say):\n" CLI_FILTER_HELP,
              stdout);
}

static const char *type_name(CnNodeType t) {
        static const char *names[] = { "?", "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket" };
        return (unsigned) t < CN_ELEMENTSOF(names) ? names[t] : "?";
}

static char type_char(CnNodeType t) {
        return "?-dlpcbs"[(unsigned) t < 8 ? t : 0];
}

typedef struct LsCtx {
        Cli *cli;
        bool long_format;
        bool first;
        const char *subject;            /* --subject: only entries tagged so; NULL: all */
} LsCtx;

static int print_node(const char *path, const CnNode *n, void *u) {
        LsCtx *x = u;
        if (x->subject && !cn_node_has_subject(n, x->subject, strlen(x->subject)))
                return 0;
        if (x->cli->json) {
                printf("%s{\"path\":", x->first ? "" : ",\n");
                x->first = false;
                cli_json_string(stdout, path, strlen(path));
                printf(",\"type\":\"%s\",\"mode\":%u,\"uid\":%u,\"gid\":%u,\"size\":%" PRIu64
                       ",\"mtime\":%s",
                       type_name(n->type), n->mode, n->uid, n->gid, n->size, cli_seconds(n->mtime, (char[32]) {}));
                if (n->user) {
                        printf(",\"user\":");
                        cli_json_string(stdout, n->user, strlen(n->user));
                }
                if (n->group) {
                        printf(",\"group\":");
                        cli_json_string(stdout, n->group, strlen(n->group));
                }
                if (n->target) {
                        printf(",\"target\":");
                        cli_json_string(stdout, n->target, n->target_len);
                }
                printf(",\"subjects\":[");
                for (size_t i = 0; i < n->n_subjects; i++) {
                        if (i)
                                putchar(',');
                        cli_json_string(stdout, n->subjects[i], strlen(n->subjects[i]));
                }
                printf("]}");
                return 0;
        }
        if (x->long_format) {
                char t[64], m[11];
                m[0] = type_char(n->type);
                for (int i = 0; i < 9; i++)
                        m[1 + i] = (n->mode >> (8 - i)) & 1 ? "rwxrwxrwx"[i] : '-';
                if (n->mode & 04000)
                        m[3] = m[3] == 'x' ? 's' : 'S';
                if (n->mode & 02000)
                        m[6] = m[6] == 'x' ? 's' : 'S';
                if (n->mode & 01000)
                        m[9] = m[9] == 'x' ? 't' : 'T';
                m[10] = 0;
                char uid[16], gid[16];
                snprintf(uid, sizeof uid, "%u", n->uid);
                snprintf(gid, sizeof gid, "%u", n->gid);
                printf("%s %-8s %-8s %12" PRIu64 " %s ", m, CLI_ESC(n->user ? n->user : uid), CLI_ESC(n->group ? n->group : gid),
                       n->size, cli_time(n->mtime.sec, t));
        }
        cli_print_escaped(stdout, path, strlen(path));
        if (x->long_format && n->target) {
                fputs(" -> ", stdout);
                cli_print_escaped(stdout, n->target, n->target_len);
        }
        if (x->long_format && n->n_subjects) {
                fputs(" [", stdout);
                for (size_t i = 0; i < n->n_subjects; i++) {
                        if (i)
                                putchar(',');
                        cli_print_escaped(stdout, n->subjects[i], strlen(n->subjects[i]));
                }
                putchar(']');
        }
        putchar('\n');
        return 0;
}

int verb_ls(Cli *cli, int argc, char **argv) {
        enum { OPT_SUBJECT = _OPT_GLOBAL_MAX };
        static const struct option opts[] = { CLI_GLOBAL_LONG, CLI_FILTER_LONG, { "long", no_argument, NULL, 'l' },
                                              { "subject", required_argument, NULL, OPT_SUBJECT }, {} };
        _cleanup_(cn_store_freep) CnStore *store = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_(cn_snapshot_filter_done) CnSnapshotFilter filter = {};
        CnSnapshot *list = NULL;
        size_t n = 0;
        LsCtx x = { .cli = cli, .first = true };
        int c, r, ret = CLI_EXIT_ERROR;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT "l", opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == 'l') {
                        x.long_format = true;
                        continue;
                }
                if (c == OPT_SUBJECT) {
                        if (!cn_subject_valid(optarg, strlen(optarg)))
                                return cli_usage_error("ls", "--subject %s: a data subject is 1 to %d bytes without '/'",
                                                       CLI_ESC(optarg), CN_MAX_SUBJECT_BYTES);
                        x.subject = optarg;
                        continue;
                }
                if (!cli_filter_option(&filter, c, optarg))
                        return cli_usage_error("ls", "unknown option");
        }
        if (optind >= argc || argc - optind > 2)
                return cli_usage_error("ls", "give a snapshot (latest or an ID) and optionally a path");
        if (cn_path_clean(optind + 1 < argc ? argv[optind + 1] : "/", &path) < 0)
                return CLI_EXIT_ERROR;
        const CnSnapshot *s;
        r = cli_open_snapshot(cli, argv[optind], &filter, &list, &n, &s, &store);
        if (r != 0) {
                ret = r;
                goto out;
        }
        CnNode base = {};
        r = cn_snapshot_find_node(store, s, path, &base);
        if (r == -ENOENT || r == -ENOTDIR) {
                cli_error("no path %s in snapshot %.8s", CLI_ESC(path), s->id_hex);
                goto out;
        }
        if (r < 0) {
                ret = cli_repo_error(cli, "cannot read the snapshot", r);
                goto out;
        }
        if (cli->json)
                putchar('[');
        if (base.type == CN_NODE_DIR)
                r = cn_walk(store, base.subtree, path, print_node, &x);
        else
                r = print_node(path, &base, &x);
        cn_node_done(&base);
        if (cli->json)
                printf("]\n");
        if (r < 0) {
                ret = cli_repo_error(cli, "cannot read the snapshot", r);
                goto out;
        }
        ret = CLI_EXIT_OK;
out:
        cn_snapshots_free(list, n);
        return ret;
}

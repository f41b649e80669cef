/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] snapshots [--json] [--controller C] [--host H] [--tag T] [--path P]\n"
              "\n"
              "List the snapshots, oldest first (of one controller with --controller).\n"
              "\n" CLI_FILTER_HELP,
              stdout);
}

int verb_snapshots(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = { CLI_GLOBAL_LONG, CLI_FILTER_LONG, {} };
        _cleanup_(cn_snapshot_filter_done) CnSnapshotFilter filter = {};
        CnSnapshot *list = NULL;
        size_t n = 0, shown = 0;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (!cli_filter_option(&filter, c, optarg))
                        return cli_usage_error("snapshots", "unknown option");
        }
        if (optind < argc)
                return cli_usage_error("snapshots", "snapshots takes no arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        CnController *ctl = NULL;
        if (cli->controller && (r = cli_controller(cli, "", &ctl)) != 0)
                return r;
        r = cli_load_snapshots(cli, ctl, &list, &n);
        if (r != 0)
                return r;
        shown = cn_snapshot_filter_list(list, n, &filter);
        if (cli->json) {
                putchar('[');
                for (size_t i = 0; i < shown; i++) {
                        if (i)
                                putchar(',');
                        cli_json_snapshot(stdout, &list[i]);
                }
                printf("]\n");
        } else {
                printf("%-8s  %-19s  %-16s  %-12s  %-10s  %s\n", "ID", "Time", "Host", "Controller", "Tags",
                       "Paths");
                for (size_t i = 0; i < shown; i++) {
                        const CnSnapshot *s = &list[i];
                        char t[64], tags[256] = "";
                        for (size_t j = 0; j < s->n_tags; j++)
                                snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "%s%s", j ? "," : "",
                                         s->tags[j]);
                        printf("%.8s  %-19s  %-16s  %-12s  %-10s  ", s->id_hex, cli_time(s->time.sec, t),
                               CLI_ESC(s->hostname), CLI_ESC(s->controller->name), CLI_ESC(tags));
                        for (size_t j = 0; j < s->n_paths; j++) {
                                if (j)
                                        putchar(' ');
                                cli_print_escaped(stdout, s->paths[j], strlen(s->paths[j]));
                        }
                        if (s->flags & CN_SNAPSHOT_PARTIAL)
                                printf("  (partial: %zu unreadable)", s->n_errors);
                        putchar('\n');
                }
                printf("%zu snapshot%s\n", shown, shown == 1 ? "" : "s");
        }
        cn_snapshots_free(list, n);
        return CLI_EXIT_OK;
}

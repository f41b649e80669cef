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

static void json_strv(char *const *v, size_t n) {
        putchar('[');
        for (size_t i = 0; i < n; i++) {
                if (i)
                        putchar(',');
                cli_json_string(stdout, v[i], strlen(v[i]));
        }
        putchar(']');
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
        /* Keep only what the filters match, in order. */
        for (size_t i = 0; i < n; i++)
                if (cn_snapshot_matches(&list[i], &filter)) {
                        CnSnapshot t = list[shown];
                        list[shown++] = list[i];
                        list[i] = t;
                }
        if (cli->json) {
                putchar('[');
                for (size_t i = 0; i < shown; i++) {
                        const CnSnapshot *s = &list[i];
                        printf("%s{\"id\":\"%s\",\"short_id\":\"%.8s\",\"time\":%s,\"hostname\":",
                               i ? "," : "", s->id_hex, s->id_hex, cli_seconds(s->time, (char[32]) {}));
                        cli_json_string(stdout, s->hostname, strlen(s->hostname));
                        printf(",\"username\":");
                        cli_json_string(stdout, s->username, strlen(s->username));
                        printf(",\"paths\":");
                        json_strv(s->paths, s->n_paths);
                        printf(",\"tags\":");
                        json_strv(s->tags, s->n_tags);
                        printf(",\"controller\":{\"id\":\"%s\",\"name\":", s->controller->id_hex);
                        cli_json_string(stdout, s->controller->name, strlen(s->controller->name));
                        printf("},\"partial\":%s,\"errors\":%zu,\"files\":%" PRIu64 ",\"dirs\":%" PRIu64
                               ",\"bytes\":%" PRIu64 "}",
                               (s->flags & CN_SNAPSHOT_PARTIAL) ? "true" : "false", s->n_errors, s->files, s->dirs,
                               s->bytes);
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

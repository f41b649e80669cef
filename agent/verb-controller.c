/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] controller list [--json]\n"
              "       cairn [-r REPO] controller add NAME\n"
              "\n"
              "Data controllers: each has its own keys, chunk ids and chunk boundaries, so\n"
              "nothing is deduplicated or shared between two of them. Other verbs act for\n"
              "--controller NAME|ID (or CAIRN_CONTROLLER); with only one controller, for it.\n"
              "With several, a verb that acts for one never guesses: it asks which.\n",
              stdout);
}

int verb_controller(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = { CLI_GLOBAL_LONG, {} };
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c != 'h')
                        return cli_usage_error("controller", "unknown option");
                help();
                return CLI_EXIT_OK;
        }
        if (optind >= argc)
                return cli_usage_error("controller", "give a subcommand: list or add NAME");
        bool add = strcmp(argv[optind], "add") == 0;
        if (!add && strcmp(argv[optind], "list") != 0)
                return cli_usage_error("controller", "unknown subcommand '%s'", argv[optind]);
        if (argc - optind != (add ? 2 : 1))
                return cli_usage_error("controller", add ? "controller add takes one NAME" : "too many arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        if (add) {
                CnController *ctl;
                r = cn_repo_controller_add(cli->rp, argv[optind + 1], NULL, &ctl);
                if (r == -EEXIST) {
                        cli_error("a controller named '%s' exists already", CLI_ESC(argv[optind + 1]));
                        return CLI_EXIT_ERROR;
                }
                if (r == -EINVAL)
                        return cli_usage_error("controller", "the name must be 1 to 1024 bytes");
                if (r < 0)
                        return cli_repo_error(cli, "cannot add the controller", r);
                CnAuditEvent *e = cli_audit_event(CN_AUDIT_INIT, "controller");
                if (e)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_NAME, ctl->name, strlen(ctl->name));
                cli_audit(cli, ctl, e);
                if (cli->json)
                        printf("{\"id\":\"%s\"}\n", ctl->id_hex);
                else
                        cli_info(cli, "added controller %s (%s)\n", CLI_ESC(ctl->name), ctl->id_hex);
                return CLI_EXIT_OK;
        }
        /* "default" (and "*"): the one verbs act for without --controller, which
         * only exists when it is the only one. In order of id. */
        size_t n = cn_repo_n_controllers(cli->rp);
        if (cli->json)
                putchar('[');
        for (size_t i = 0; i < n; i++) {
                const CnController *ctl = cn_repo_controller(cli->rp, i);
                char t[64];
                if (cli->json) {
                        printf("%s{\"id\":\"%s\",\"name\":", i ? "," : "", ctl->id_hex);
                        cli_json_string(stdout, ctl->name, strlen(ctl->name));
                        printf(",\"created\":%" PRId64 ",\"default\":%s,\"chunker\":{\"min\":%u,\"avg\":%u,\"max\":%u}}",
                               ctl->created, n == 1 ? "true" : "false", ctl->chunker.min_size, ctl->chunker.avg_size,
                               ctl->chunker.max_size);
                } else {
                        printf("%s %s  %-19s  ", n == 1 ? "*" : " ", ctl->id_hex, cli_time(ctl->created, t));
                        cli_print_escaped(stdout, ctl->name, strlen(ctl->name));
                        putchar('\n');
                }
        }
        if (cli->json)
                printf("]\n");
        return CLI_EXIT_OK;
}

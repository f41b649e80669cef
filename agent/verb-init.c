/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "hex.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] init [--controller NAME] [--processor NAME]\n"
              "\n"
              "Create an encrypted repository with one data controller (\"default\" unless\n"
              "--controller names it) and a processor identity with its signing key.\n"
              "The password comes from CAIRN_PASSWORD, --password-file, or is asked twice.\n"
              "Keep it safe: without a password no one, including you, can read the data.\n",
              stdout);
}

int verb_init(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                { "processor", required_argument, NULL, 'p' },
                {},
        };
        _cleanup_(cn_secret_freep) uint8_t *pw = NULL;
        CnRepoInitOptions o = {};
        char label[512], host[256] = "", idhex[CN_UUID_HEX + 1];
        size_t pw_len;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == 'p')
                        o.processor_name = optarg;
                else
                        return cli_usage_error("init", "unknown option");
        }
        if (optind < argc)
                return cli_usage_error("init", "init takes no arguments (the repository is -r URL)");
        o.controller_name = cli->controller;
        gethostname(host, sizeof host - 1);
        snprintf(label, sizeof label, "%s@%s", getenv("USER") ? getenv("USER") : "", host);
        o.key_label = label;

        cli_resolve(cli);
        r = cn_backend_open(cli->repo, true, &cli->backend);
        if (r < 0)
                return cli_repo_error(cli, "cannot create repository", r);
        r = cli_password(cli, true, (char **) &pw, &pw_len);
        if (r != 0)
                return r;
        r = cn_repo_init(cli->backend, (const char *) pw, pw_len, &o, &cli->rp);
        if (r == -EEXIST) {
                cli_error("%s already holds a cairn repository; nothing was changed", cn_backend_url(cli->backend));
                return CLI_EXIT_ERROR;
        }
        if (r < 0)
                return cli_repo_error(cli, "cannot create repository", r);
        CnController *ctl = cn_repo_controller(cli->rp, 0);
        cn_hex_encode(cn_repo_id(cli->rp), CN_UUID_BYTES, idhex);
        if (cli->json) {
                printf("{\"repository\":\"%s\",\"url\":", idhex);
                cli_json_string(stdout, cn_backend_url(cli->backend), strlen(cn_backend_url(cli->backend)));
                printf(",\"controller\":{\"id\":\"%s\",\"name\":", ctl->id_hex);
                cli_json_string(stdout, ctl->name, strlen(ctl->name));
                printf("}}\n");
        } else
                cli_info(cli,
                         "created cairn repository %.8s at %s\n"
                         "controller %s (%.8s); the password is the only way in: keep it safe\n",
                         idhex, cn_backend_url(cli->backend), ctl->name, ctl->id_hex);
        return CLI_EXIT_OK;
}

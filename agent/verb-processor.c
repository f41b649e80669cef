/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include "cli.h"
#include "hex.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] processor show [--json]\n"
              "\n"
              "The processor is the provider that runs the backups: its uuid, its name, and the\n"
              "Ed25519 public key that signs erasure certificates. Give the public key to whoever\n"
              "must check a certificate: 'cairn certificate verify FILE --processor-key PUB'\n"
              "needs nothing else.\n",
              stdout);
}

int verb_processor(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = {CLI_GLOBAL_LONG, {}};
        char id[CN_UUID_HEX + 1], pk[2 * CN_SIGN_PUBLIC_BYTES + 1];
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c != 'h')
                        return cli_usage_error("processor", "unknown option");
                help();
                return CLI_EXIT_OK;
        }
        if (optind >= argc)
                return cli_usage_error("processor", "give a subcommand: show");
        if (strcmp(argv[optind], "show") != 0)
                return cli_usage_error("processor", "unknown subcommand '%s'", CLI_ESC(argv[optind]));
        if (argc - optind != 1)
                return cli_usage_error("processor", "too many arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        cn_hex_encode(cn_repo_processor_id(cli->rp), CN_UUID_BYTES, id);
        cn_hex_encode(cn_repo_processor_public_key(cli->rp), CN_SIGN_PUBLIC_BYTES, pk);
        const char *name = cn_repo_processor_name(cli->rp);
        if (cli->json)
                return cli_json_print(
                        json_pack("{s:s, s:o, s:s}", "id", id, "name", cli_json_text(name), "public_key", pk));
        printf("processor   %s\nname        %s\npublic key  %s\n", id, CLI_ESC(name), pk);
        return CLI_EXIT_OK;
}

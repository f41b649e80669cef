/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] key list [--json]\n"
              "       cairn [-r REPO] key add [--new-password-file F] [--label TEXT]\n"
              "       cairn [-r REPO] key remove ID\n"
              "       cairn [-r REPO] key passwd [--new-password-file F]\n"
              "\n"
              "Each key file wraps the repository's master key with one password (Argon2id);\n"
              "adding a key or changing a password re-encrypts nothing. The new password\n"
              "comes from --new-password-file, CAIRN_NEW_PASSWORD, or is asked twice.\n",
              stdout);
}

/* Passwords open every controller's data: each controller's log has it.
 * The key file's id is a pseudonym (a NAME), as its label would be. */
static void audit_key(Cli *cli, const char *action, const char *id) {
        CnAuditEvent *e = cli_audit_event(CN_AUDIT_KEY, action);
        if (e && id)
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_NAME, id, strlen(id));
        cli_audit_all(cli, e);
}

int verb_key(Cli *cli, int argc, char **argv) {
        enum { OPT_NEW_FILE = _OPT_GLOBAL_MAX, OPT_LABEL };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                { "new-password-file", required_argument, NULL, OPT_NEW_FILE },
                { "label", required_argument, NULL, OPT_LABEL },
                {},
        };
        const char *new_file = NULL, *label = NULL;
        char labelbuf[CLI_USER_AT_HOST_MAX];
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == OPT_NEW_FILE)
                        new_file = optarg;
                else if (c == OPT_LABEL)
                        label = optarg;
                else
                        return cli_usage_error("key", "unknown option");
        }
        if (optind >= argc)
                return cli_usage_error("key", "give a subcommand: list, add, remove ID or passwd");
        const char *sub = argv[optind];
        bool is_list = strcmp(sub, "list") == 0, is_add = strcmp(sub, "add") == 0,
             is_remove = strcmp(sub, "remove") == 0, is_passwd = strcmp(sub, "passwd") == 0;
        if (!is_list && !is_add && !is_remove && !is_passwd)
                return cli_usage_error("key", "unknown subcommand '%s'", sub);
        if (argc - optind != (is_remove ? 2 : 1))
                return cli_usage_error("key", is_remove ? "key remove takes one key ID" : "too many arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;

        if (is_list) {
                CnKeyInfo *keys;
                size_t n;
                r = cn_repo_key_list(cli->rp, &keys, &n);
                if (r < 0)
                        return cli_repo_error(cli, "cannot list keys", r);
                if (cli->json)
                        putchar('[');
                else
                        printf("   %-32s  %-19s  %s\n", "ID", "Created", "Label");
                for (size_t i = 0; i < n; i++) {
                        char t[64];
                        if (cli->json) {
                                printf("%s{\"id\":\"%s\",\"created\":%lld,\"current\":%s,\"label\":", i ? "," : "",
                                       keys[i].id_hex, (long long) keys[i].created,
                                       keys[i].current ? "true" : "false");
                                cli_json_string(stdout, keys[i].label, strlen(keys[i].label));
                                putchar('}');
                        } else {
                                printf("%s  %s  %-19s  ", keys[i].current ? "*" : " ", keys[i].id_hex,
                                       cli_time(keys[i].created, t));
                                cli_print_escaped(stdout, keys[i].label, strlen(keys[i].label));
                                putchar('\n');
                        }
                }
                if (cli->json)
                        printf("]\n");
                cn_key_info_free_array(keys, n);
                return CLI_EXIT_OK;
        }
        if (is_remove) {
                r = cn_repo_key_remove(cli->rp, argv[optind + 1]);
                if (r == -EBUSY) {
                        cli_error("key %s is the one this command was opened with; open with another key's "
                                  "password to remove it, or use 'cairn key passwd'",
                                  CLI_ESC(argv[optind + 1]));
                        return CLI_EXIT_ERROR;
                }
                if (r == -ENOENT || r == -EINVAL) {
                        cli_error("no key %s; 'cairn key list' shows the full IDs", CLI_ESC(argv[optind + 1]));
                        return CLI_EXIT_ERROR;
                }
                if (r < 0)
                        return cli_repo_error(cli, "cannot remove the key", r);
                cli_info(cli, "removed key %s\n", CLI_ESC(argv[optind + 1]));
                audit_key(cli, "remove", argv[optind + 1]);
                return CLI_EXIT_OK;
        }

        _cleanup_(cn_secret_freep) uint8_t *pw = NULL;
        size_t pw_len;
        r = cli_new_password(new_file, (char **) &pw, &pw_len);
        if (r != 0)
                return r;
        if (is_add) {
                char id[CN_UUID_HEX + 1];
                if (!label) {
                        label = cli_user_at_host(labelbuf);
                }
                r = cn_repo_key_add(cli->rp, (const char *) pw, pw_len, label, NULL, id);
                if (r < 0)
                        return cli_repo_error(cli, "cannot add the key", r);
                cli_info(cli, "added key %s\n", id);
                audit_key(cli, "add", id);
                return CLI_EXIT_OK;
        }
        r = cn_repo_key_passwd(cli->rp, (const char *) pw, pw_len, NULL);
        if (r < 0)
                return cli_repo_error(cli, "cannot change the password", r);
        cli_info(cli, "password changed; the old password no longer opens the repository\n");
        audit_key(cli, "passwd", NULL);
        return CLI_EXIT_OK;
}

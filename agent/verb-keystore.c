/* SPDX-License-Identifier: GPL-3.0-or-later */
/* key-store: where the keys that open the repository live (docs/cli/key-store.md,
 * docs/FORMAT.md "Key store"). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] key-store list [--json]\n"
              "       cairn [-r REPO] key-store add URL\n"
              "       cairn [-r REPO] key-store remove URL\n"
              "\n"
              "The key store holds the keys that open each controller of the repository,\n"
              "outside the repository (the location read is --key-store URL, CAIRN_KEY_STORE,\n"
              "or /var/lib/cairn/keystore for root). 'add' keeps an escrow copy at URL too (a\n"
              "directory, sftp://, webdav+https://, s3://): a fresh machine restores with the\n"
              "password and that copy. Only storage where deletion is real qualifies: no\n"
              "object versions, no object lock, no snapshots or backups of it, since an old\n"
              "copy would bring back keys an erasure destroyed. An erasure updates every\n"
              "location; one it cannot reach makes it partial until it is run again.\n"
              "'remove' deletes the copy at URL first.\n",
              stdout);
}

static void on_location(const char *url, int result, void *u) {
        Cli *cli = u;
        if (result < 0)
                cli_warn("key store location %s: %s", CLI_ESC(url), strerror(-result));
        else if (cli->verbose)
                cli_info(cli, "key store location %s: written\n", CLI_ESC(url));
}

static int list(Cli *cli) {
        json_t *all = json_array();
        if (!all)
                return CLI_EXIT_ERROR;
        for (size_t i = 0; i < cn_repo_n_controllers(cli->rp); i++) {
                const CnController *c = cn_repo_controller(cli->rp, i);
                json_t *locs = json_array();
                for (size_t j = 0; c->format == 2 && j < c->ks->n_locations; j++)
                        json_array_append_new(locs, json_string(c->ks->locations[j]));
                json_array_append_new(all, json_pack("{s:s, s:s, s:i, s:I, s:I, s:o}", "controller", c->id_hex, "name",
                                                     c->name, "format", c->format, "epoch", (json_int_t) c->epoch,
                                                     "keys", (json_int_t) (c->format == 2 ? c->ks->n_keys : 0),
                                                     "locations", locs));
        }
        if (cli->json) {
                char *s = json_dumps(all, JSON_COMPACT | JSON_ENSURE_ASCII);
                if (s)
                        printf("%s\n", s);
                free(s);
        } else {
                size_t i;
                json_t *v;
                json_array_foreach(all, i, v) {
                        const CnController *c = cn_repo_controller(cli->rp, i);
                        if (c->format == 1) {
                                printf("%s (%.8s): format version 1, its keys are in the repository\n",
                                       CLI_ESC(c->name), c->id_hex);
                                continue;
                        }
                        printf("%s (%.8s): key epoch %" PRIu32 "%s\n", CLI_ESC(c->name), c->id_hex, c->epoch,
                               c->ks->n_keys > 1 ? " (an erasure's epoch change is not finished)" : "");
                        for (size_t j = 0; j < c->ks->n_locations; j++)
                                printf("  %s\n", CLI_ESC(c->ks->locations[j]));
                }
        }
        json_decref(all);
        return CLI_EXIT_OK;
}

int verb_keystore(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {},
        };
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                return cli_usage_error("key-store", "unknown option");
        }
        const char *what = optind < argc ? argv[optind] : "list";
        bool is_list = strcmp(what, "list") == 0, is_add = strcmp(what, "add") == 0,
             is_remove = strcmp(what, "remove") == 0;
        if (!is_list && !is_add && !is_remove)
                return cli_usage_error("key-store", "list, add URL or remove URL");
        if ((is_list && argc - optind > 1) || (!is_list && argc - optind != 2))
                return cli_usage_error("key-store", is_list ? "list takes no arguments" : "add and remove take one URL");
        const char *url = is_list ? NULL : argv[optind + 1];
        const char *pb, *pe;
        if (url && cn_backend_url_password(url, &pb, &pe))
                return cli_usage_error("key-store", "a key store URL holds no password (give credentials as "
                                                    "docs/BACKENDS.md says)");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        if (is_list)
                return list(cli);
        r = is_add ? cn_repo_key_store_add(cli->rp, url, on_location, cli)
                   : cn_repo_key_store_remove(cli->rp, url, on_location, cli);
        if (r == -ENOTEMPTY) {
                cli_error("%s is the last key store location of a controller: add another one first, or the "
                          "keys would be nowhere",
                          CLI_ESC(url));
                return CLI_EXIT_ERROR;
        }
        if (is_add && (r == -EINVAL || r == -E2BIG)) {
                cli_error("%s cannot be added: %s", CLI_ESC(url),
                          r == -E2BIG ? "a key store has at most 16 locations" : "not a valid URL");
                return CLI_EXIT_ERROR;
        }
        if (r >= 0) {
                CnAuditEvent *e = cli_audit_event(CN_AUDIT_KEY, is_add ? "key-store-add" : "key-store-remove");
                if (e) {
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_URL, url, strlen(url));
                        if (r > 0)
                                cn_audit_event_set_outcome(e, CN_AUDIT_PARTIAL);
                }
                cli_audit_all(cli, e);
        }
        if (r < 0)
                return cli_repo_error(cli, is_add ? "cannot add the key store location" :
                                                    "cannot remove the key store location", r);
        if (r > 0) {
                cli_error("%d key store location%s could not be written (said above): run the same command again "
                          "when %s reachable",
                          r, r == 1 ? "" : "s", r == 1 ? "it is" : "they are");
                return CLI_EXIT_PARTIAL;
        }
        cli_info(cli, "%s %s\n", is_add ? "key store copy kept at" : "key store copy removed from", CLI_ESC(url));
        return CLI_EXIT_OK;
}

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
              "                              [--location NAME --provider P --region R [--note T]]\n"
              "       cairn [-r REPO] init --replica-of SRC [--from-password-file F] [--from-key-hint ID]\n"
              "                              [--location NAME --provider P --region R [--note T]]\n"
              "\n"
              "Create an encrypted repository with one data controller (\"default\" unless\n"
              "--controller or CAIRN_CONTROLLER names it) and a processor identity with its\n"
              "signing key. The location must be empty: init refuses one that holds anything.\n"
              "The password comes from CAIRN_PASSWORD, --password-file, or is asked twice.\n"
              "Keep it safe: without a password no one, including you, can read the data.\n"
              "\n"
              "      --replica-of SRC  make a replica of the repository SRC, for 'cairn copy':\n"
              "                        its own password and keys, SRC's processor and data\n"
              "                        controllers (so the same chunks have the same ids)\n" CLI_FROM_HELP
              "      --location NAME   record where the repository lives ('cairn location'), with\n"
              "      --provider P      its provider and\n"
              "      --region R        region; a new repository's controller authorises it. A\n"
              "                        replica is created only where every controller of SRC\n"
              "                        authorised it (exit 4 otherwise, nothing created)\n",
              stdout);
}

/* init over anything would hide it, or (a repository that lost its config)
 * make it unreadable for good: name what is there. */
static int not_empty(Cli *cli) {
        _cleanup_(cn_repo_location_done) CnRepoLocation l = {};
        const char *url = CLI_ESC(cn_backend_url(cli->backend));
        char held[2048];

        if (cn_repo_probe(cli->backend, &l) < 0 || !l.any) {
                cli_error("%s was not empty when init looked; nothing was changed", url);
                return CLI_EXIT_ERROR;
        }
        if (l.config)
                cli_error("%s holds a cairn repository now (another init created it meanwhile); nothing was "
                          "changed",
                          url);
        else if (!cli_location_objects(&l, held, sizeof held))
                cli_error("%s is not empty (it holds %s); init needs an empty location; nothing was changed", url,
                          CLI_ESC(l.any));
        else if (!l.first[2] && !l.first[3] && !l.first[4] && !l.first[5])
                cli_error("%s is not empty: it holds %s but no config object (left by an interrupted init, e.g. "
                          "%s: if so, delete them and run init again); nothing was changed",
                          url, held, CLI_ESC(l.first[0] ? l.first[0] : l.first[1]));
        else
                cli_error("%s is not empty: it holds cairn objects (%s) but no config object: a repository that "
                          "lost its config; put config back from a copy instead, as an init here would make "
                          "everything there unreadable; nothing was changed",
                          url, held);
        return CLI_EXIT_ERROR;
}

/* Whether every controller of src authorised the location a replica at url
 * would live at (none: it records no location): 0, or the exit code after
 * saying why not. */
static int replica_gate(Cli *src, const char *url, const char *name, const char *provider, const char *region) {
        CnLocation at = { .name = (char *) name, .provider = (char *) provider, .region = (char *) region };
        CnLocations where = { .v = &at, .n = name ? 1 : 0 };
        for (size_t i = 0; i < cn_repo_n_controllers(src->rp); i++) {
                CnLocationRefusal ref;
                int r = cn_location_gate_with(src->rp, cn_repo_controller(src->rp, i), &where, &ref);
                if (r == -EPERM)
                        return cli_location_refused(src, CN_AUDIT_INIT, "replica creation", "nothing was created", &ref, url);
                if (r < 0)
                        return cli_repo_error(src, "cannot read the locations the controllers authorised", r);
        }
        return 0;
}

int verb_init(Cli *cli, int argc, char **argv) {
        enum { OPT_REPLICA_OF = _OPT_GLOBAL_MAX, OPT_LOCATION, OPT_PROVIDER, OPT_REGION, OPT_NOTE };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                CLI_FROM_LONG,
                { "processor", required_argument, NULL, 'p' },
                { "replica-of", required_argument, NULL, OPT_REPLICA_OF },
                { "location", required_argument, NULL, OPT_LOCATION },
                { "provider", required_argument, NULL, OPT_PROVIDER },
                { "region", required_argument, NULL, OPT_REGION },
                { "note", required_argument, NULL, OPT_NOTE },
                {},
        };
        const char *location = NULL, *provider = NULL, *region = NULL, *note = NULL;
        _cleanup_(cli_close) Cli src = { .source = true };
        _cleanup_(cn_secret_freep) uint8_t *pw = NULL;
        CnRepoInitOptions o = {};
        char label[CLI_USER_AT_HOST_MAX], idhex[CN_UUID_HEX + 1];
        size_t pw_len;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == 'p')
                        o.processor_name = optarg;
                else if (c == OPT_REPLICA_OF)
                        src.repo = optarg;
                else if (c == OPT_LOCATION)
                        location = optarg;
                else if (c == OPT_PROVIDER)
                        provider = optarg;
                else if (c == OPT_REGION)
                        region = optarg;
                else if (c == OPT_NOTE)
                        note = optarg;
                else if (!cli_from_option(&src, c, optarg))
                        return cli_usage_error("init", "unknown option");
        }
        if (optind < argc)
                return cli_usage_error("init", "init takes no arguments (the repository is -r URL)");
        if (!src.repo && (src.password_file || src.key_hint))
                return cli_usage_error("init", "--from-password-file and --from-key-hint go with --replica-of");
        if (src.repo && o.processor_name)
                return cli_usage_error("init", "a replica has its source's processor: drop --processor");
        if (!location && (provider || region || note))
                return cli_usage_error("init", "--provider, --region and --note go with --location NAME");
        if (location && (!provider || !region))
                return cli_usage_error("init", "--location needs --provider P and --region R");
        if (location && (r = cli_location_check("init", location, provider, region, note)) != 0)
                return r;
        o.key_label = cli_user_at_host(label);

        cli_resolve(cli);
        if (src.repo && cli->controller)
                return cli_usage_error("init", "a replica has its source's controllers: drop --controller (and "
                                               "CAIRN_CONTROLLER)");
        o.controller_name = cli->controller;
        o.key_store = cli->key_store;
        if (src.repo) {
                /* The source first: its password is asked before the new one. */
                r = cli_open(&src, true);
                if (r != 0)
                        return r;
                /* The location gate, before anything is created: where the
                 * replica lives, against what each controller authorised. */
                r = replica_gate(&src, cli->repo, location, provider, region);
                if (r != 0)
                        return r;
        }
        /* (A source is never empty, so it cannot be made its own replica.) */
        r = cn_backend_open(cli->repo, true, &cli->backend);
        if (r < 0)
                return cli_repo_error(cli, "cannot create repository", r);
        r = cli_password(cli, true, (char **) &pw, &pw_len);
        if (r != 0)
                return r;
        if (src.repo)
                r = cn_repo_init_replica(cli->backend, (const char *) pw, pw_len, src.rp, &o, &cli->rp);
        else
                r = cn_repo_init(cli->backend, (const char *) pw, pw_len, &o, &cli->rp);
        if (r == -EEXIST) {
                cli_error("%s already holds a cairn repository; nothing was changed", CLI_ESC(cn_backend_url(cli->backend)));
                return CLI_EXIT_ERROR;
        }
        if (r == -EBUSY) {
                cli_error("another init created a repository at %s at the same time; this one removed what it "
                          "had written: the repository there opens with the other init's password",
                          CLI_ESC(cn_backend_url(cli->backend)));
                return CLI_EXIT_ERROR;
        }
        if (r == -ENOTEMPTY)
                return not_empty(cli);
        if (r < 0)
                return cli_repo_error(cli, "cannot create repository", r);
        CnController *ctl = cn_repo_controller(cli->rp, 0);
        size_t n = cn_repo_n_controllers(cli->rp);
        for (size_t i = 0; i < n; i++) {
                CnController *each = cn_repo_controller(cli->rp, i);
                CnAuditEvent *e = cli_audit_event(CN_AUDIT_INIT, src.repo ? "replica" : "repository");
                if (e) {
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_NAME, each->name, strlen(each->name));
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_URL, cn_backend_url(cli->backend),
                                                        strlen(cn_backend_url(cli->backend)));
                }
                cli_audit(cli, each, e);
        }
        /* Where it lives; a new repository's own controller authorises it
         * (a replica's authorisations are its source's, carried by copy). */
        if (location && (r = cli_location_record(cli, location, provider, region, note, &ctl, src.repo ? 0 : 1,
                                                 NULL)) != 0) {
                cli_error("the repository at %s was created, but without its location: record it with 'cairn -r "
                          "%s location add %s ...'",
                          CLI_ESC(cn_backend_url(cli->backend)), CLI_ESC(cn_backend_url(cli->backend)), location);
                return r;
        }
        const char *ks = cn_repo_key_store(cli->rp) ? cn_repo_key_store(cli->rp) : "(none)";
        cn_hex_encode(cn_repo_id(cli->rp), CN_UUID_BYTES, idhex);
        if (cli->json) {
                printf("{\"repository\":\"%s\",\"url\":", idhex);
                cli_json_string(stdout, cn_backend_url(cli->backend), strlen(cn_backend_url(cli->backend)));
                printf(",\"controller\":{\"id\":\"%s\",\"name\":", ctl->id_hex);
                cli_json_string(stdout, ctl->name, strlen(ctl->name));
                printf("},\"key_store\":");
                cli_json_string(stdout, ks, strlen(ks));
                if (src.repo) {
                        printf(",\"replica\":true,\"controllers\":[");
                        for (size_t i = 0; i < n; i++) {
                                const CnController *x = cn_repo_controller(cli->rp, i);
                                printf("%s{\"id\":\"%s\",\"name\":", i ? "," : "", x->id_hex);
                                cli_json_string(stdout, x->name, strlen(x->name));
                                putchar('}');
                        }
                        putchar(']');
                }
                printf("}\n");
        } else if (src.repo)
                cli_info(cli,
                         "created cairn repository %.8s at %s, a replica of %s\n"
                         "%zu controller%s (%s%s); fill it with 'cairn -r %s copy --from %s'; its password is "
                         "its own and the only way in: keep it safe\n"
                         "its key store is at %s\n",
                         idhex, CLI_ESC(cn_backend_url(cli->backend)), CLI_ESC(src.repo), n, n == 1 ? "" : "s",
                         CLI_ESC(ctl->name), n > 1 ? ", ..." : "", CLI_ESC(cn_backend_url(cli->backend)),
                         CLI_ESC(src.repo), CLI_ESC(ks));
        else
                cli_info(cli,
                         "created cairn repository %.8s at %s\n"
                         "controller %s (%.8s); the password is the only way in: keep it safe\n"
                         "its keys are in the key store at %s, outside the repository: the repository "
                         "cannot be opened without it (keep an escrow copy where deletion is real, never in "
                         "a backup or snapshot that keeps old versions: docs/PRIVACY.md)\n",
                         idhex, CLI_ESC(cn_backend_url(cli->backend)), CLI_ESC(ctl->name), ctl->id_hex,
                         CLI_ESC(ks));
        return CLI_EXIT_OK;
}

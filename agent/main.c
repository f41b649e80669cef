/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"

static const struct {
        const char *name;
        CliVerbFn fn;
        const char *summary;
} verbs[] = {
        { "init", verb_init, "create a repository" },
        { "backup", verb_backup, "back up files, directories or standard input" },
        { "snapshots", verb_snapshots, "list snapshots" },
        { "ls", verb_ls, "list the entries of a snapshot" },
        { "restore", verb_restore, "restore a snapshot, or part of one, into a directory" },
        { "dump", verb_dump, "write one file of a snapshot to standard output" },
        { "forget", verb_forget, "remove snapshots by a retention policy (--keep-daily 7 ...) or by id" },
        { "check", verb_check, "verify the repository (and with --read-data, every byte)" },
        { "key", verb_key, "list, add, remove key files, change the password" },
        { "controller", verb_controller, "list or add data controllers" },
        { "hold", verb_hold, "add, list or release legal holds" },
        { "retention", verb_retention, "store the retention policy forget applies: set, show, clear" },
        { "request", verb_request, "record access, erasure and other requests and how they were answered" },
        { "stats", verb_stats, "what each controller's data costs: files, bytes, dedup, storage" },
        { "prune", verb_prune, "delete the data no snapshot needs" },
        { "key-store", verb_keystore, "where the keys live: list, add or remove escrow locations" },
        { "erase", verb_erase, "erase a subject, path, snapshot or controller for good, with a certificate" },
        { "copy", verb_copy, "copy snapshots from another repository into this replica of it" },
        { "export", verb_export, "export a controller's, subject's or path's files with a signed manifest" },
        { "certificate", verb_certificate, "list, show or verify signed erasure certificates" },
        { "processor", verb_processor, "show the processor's identity and public key" },
        { "audit", verb_audit, "show, verify or checkpoint the tamper-evident audit log" },
        { "location", verb_location, "where the repository lives and where each controller allows its data" },
        { "records", verb_records, "the record of processing kept for each controller (GDPR art. 30(2))" },
};

static void usage(FILE *f) {
        fputs("Usage: cairn [-r REPO] VERB [OPTIONS] [ARGS]\n"
              "\n"
              "An encrypted, deduplicating backup agent that keeps each data controller apart.\n"
              "\n"
              "Verbs:\n",
              f);
        for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
                fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
        fputs("\n"
              "Global options (any verb):\n"
              "  -r, --repo URL          repository (CAIRN_REPOSITORY; default /var/lib/cairn/repo\n"
              "                          for root, ~/.local/share/cairn/repo otherwise)\n"
              "      --password-file F   read the password from F (CAIRN_PASSWORD_FILE);\n"
              "                          CAIRN_PASSWORD is used when set; else a terminal prompt\n"
              "      --controller C      the data controller to act for (CAIRN_CONTROLLER); needed\n"
              "                          when the repository has several: cairn never guesses\n"
              "      --key-hint ID       try this key file first (CAIRN_KEY_HINT)\n"
              "      --key-store URL     where the repository's keys are (CAIRN_KEY_STORE; default\n"
              "                          /var/lib/cairn/keystore for root: docs/cli/key-store.md)\n"
              "      --break-glass WHY   ls, restore, dump, export: read a snapshot a deferred erasure\n"
              "                          restricts, for a stated purpose (logged)\n"
              "      --json              machine-readable output\n"
              "      --connections N     remote repositories: transfers at once (default 4)\n"
              "      --limit-upload KIB  remote repositories: upload at most KIB KiB/s in all\n"
              "  -q, --quiet             print errors only\n"
              "  -v, --verbose           print more\n"
              "  -h, --help              this text; 'cairn VERB --help' for a verb\n"
              "      --version           print the version\n"
              "\n"
              "Exit codes: 0 ok, 1 error, 2 usage error, 3 backup incomplete (some files unreadable),\n"
              "4 refused by the location gate, 10 no repository, 12 wrong password, 130 interrupted.\n",
              f);
}

int main(int argc, char **argv) {
        Cli cli = {};
        int i;

        /* Global options before the verb; "+": stop at the verb. */
        enum { OPT_VERSION = _OPT_GLOBAL_MAX };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "+" CLI_GLOBAL_SHORT, opts, NULL)) >= 0) {
                if (c == OPT_VERSION) {
                        printf("cairn %s\n", CAIRN_VERSION);
                        return CLI_EXIT_OK;
                }
                int g = cli_global_option(&cli, c, optarg);
                if (g < 0) {
                        usage(stdout);
                        return CLI_EXIT_OK;
                }
                if (g == 0) {   /* getopt has said what was wrong */
                        fputs("Try 'cairn --help'.\n", stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        i = optind;
        optind = 0;     /* the verb parses its own argv from the start */
        if (i >= argc) {
                usage(stderr);
                return CLI_EXIT_USAGE;
        }
        /* Load the name service (user and group names, for snapshots and
         * trees) before any work: glibc 2.36 aborts in nss_database_reload
         * when its first load cannot allocate, where a later lookup that
         * fails only returns an error cairn reports. */
        (void) getpwuid(geteuid());
        if (cn_crypto_init() < 0) {
                cli_error("libsodium failed to initialise; is /dev/urandom readable?");
                return CLI_EXIT_ERROR;
        }
        /* A closed pipe (cairn ls | head) must end us quietly, not kill us mid-write. */
        signal(SIGPIPE, SIG_IGN);
        for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++)
                if (strcmp(argv[i], verbs[v].name) == 0) {
                        cli.verb = verbs[v].name;
                        int r = verbs[v].fn(&cli, argc - i, argv + i);
                        cli_close(&cli);
                        if (fflush(stdout) != 0 && r == 0) {
                                cli_error("writing to standard output failed");
                                r = CLI_EXIT_ERROR;
                        }
                        return r;
                }
        cli_error("unknown verb '%s'; try 'cairn --help'", CLI_ESC(argv[i]));
        return CLI_EXIT_USAGE;
}

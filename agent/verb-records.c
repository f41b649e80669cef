/* SPDX-License-Identifier: GPL-3.0-or-later */
/* records: the record of processing kept for each controller
 * (docs/cli/records.md). core/records builds the document; here it is
 * printed as JSON, or read back into text. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "records.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] records [--controller C] [--json]\n"
              "\n"
              "The record of processing the processor keeps for each data controller (GDPR\n"
              "article 30(2)), generated from the repository: processor and controller,\n"
              "categories of processing, where the data lives and which locations the\n"
              "controller authorised (with their history), sub-processors by provider and\n"
              "region, active legal holds, the safeguards (algorithms and key handling) and\n"
              "the erasure certificates issued. Every controller's, or --controller's.\n",
              stdout);
}

static const char *str(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

static json_int_t num(json_t *o, const char *key) {
        return json_integer_value(json_object_get(o, key));
}

static void print_location_line(json_t *l, const char *when) {
        printf("  %-16s  ", str(l, "name"));
        printf("%-16s  ", CLI_ESC(str(l, "provider")));
        printf("%-16s  %s %s by %s", CLI_ESC(str(l, "region")), when,
               str(l, when[0] == 'r' ? "recorded_at" : "authorised_at"), CLI_ESC(str(l, "by")));
        if (*str(l, "note"))
                printf("; %s", CLI_ESC(str(l, "note")));
}

static void print_controller(json_t *c) {
        json_t *ctl = json_object_get(c, "controller"), *v;
        size_t i;

        printf("\nController %s (id %s, since %s; format %" JSON_INTEGER_FORMAT ", key epoch %" JSON_INTEGER_FORMAT
               ")\n",
               CLI_ESC(str(ctl, "name")), str(ctl, "id"), str(ctl, "created"), num(ctl, "format"), num(ctl, "epoch"));
        printf("Categories of processing: ");
        json_array_foreach(json_object_get(c, "categories"), i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
        printf("%s\n", json_array_size(json_object_get(c, "categories")) ? "" : "none yet (no snapshot)");
        json_t *s = json_object_get(c, "snapshots");
        if (num(s, "count"))
                printf("Snapshots: %" JSON_INTEGER_FORMAT ", from %s to %s\n", num(s, "count"), str(s, "first"),
                       str(s, "last"));
        else
                printf("Snapshots: none\n");

        const char *gate = str(c, "location_gate");
        if (strcmp(gate, "unconfigured") == 0)
                printf("Where the data lives: not recorded. The location gate is not configured: the repository "
                       "records no location and the controller authorised none, so backups and copies go anywhere "
                       "('cairn location add' records one)\n");
        else {
                printf("Where the data lives (location gate: %s):\n", gate);
                json_array_foreach(json_object_get(c, "locations"), i, v) {
                        print_location_line(v, "recorded");
                        printf("%s\n", json_is_true(json_object_get(v, "authorised")) ? "" : "  NOT AUTHORISED");
                }
                if (!json_array_size(json_object_get(c, "locations")))
                        printf("  (the repository records no location)\n");
                printf("Locations the controller authorised:\n");
                json_array_foreach(json_object_get(c, "authorised"), i, v) {
                        print_location_line(v, "authorised");
                        printf("%s\n", json_is_true(json_object_get(v, "recorded_here"))  ? ""
                                       : json_is_true(json_object_get(v, "removed_here")) ? "  (removed here)"
                                                                                          : "  (a replica's)");
                }
                if (!json_array_size(json_object_get(c, "authorised")))
                        printf("  none\n");
        }
        printf("Sub-processors: ");
        json_array_foreach(json_object_get(c, "sub_processors"), i, v) {
                json_t *r;
                size_t j;
                printf("%s%s (", i ? "; " : "", CLI_ESC(str(v, "provider")));
                json_array_foreach(json_object_get(v, "regions"), j, r)
                        printf("%s%s", j ? ", " : "", CLI_ESC(json_string_value(r)));
                putchar(')');
        }
        printf("%s\n", json_array_size(json_object_get(c, "sub_processors")) ? "" : "none recorded");
        if (json_array_size(json_object_get(c, "location_history"))) {
                printf("Location history:\n");
                json_array_foreach(json_object_get(c, "location_history"), i, v) {
                        printf("  %s  %-17s  %s (%s, ", str(v, "time"), str(v, "event"), str(v, "name"),
                               CLI_ESC(str(v, "provider")));
                        printf("%s) by %s\n", CLI_ESC(str(v, "region")), CLI_ESC(str(v, "by")));
                }
        }
        json_t *ret = json_object_get(c, "retention"), *pol = json_object_get(ret, "policy");
        if (json_is_true(json_object_get(ret, "unknown")))
                printf("Retention: unknown (a policy object is damaged: 'cairn check')\n");
        else if (!json_is_object(pol))
                printf("Retention: no policy stored (snapshots are kept until forgotten by hand)\n");
        else {
                const char *key;
                json_t *rule;
                printf("Retention (since %s):", str(ret, "set_at"));
                json_object_foreach(pol, key, rule) {
                        if (json_is_integer(rule))
                                printf(" %s %lld", key, (long long) json_integer_value(rule));
                        else
                                printf(" %s %s", key, json_string_value(rule));
                }
                putchar('\n');
        }
        printf("Legal holds in force: %zu\n", json_array_size(json_object_get(c, "holds")));
        json_array_foreach(json_object_get(c, "holds"), i, v) {
                printf("  %.8s  %s %s: ", str(v, "id"), str(v, "scope"), CLI_ESC(str(v, "value")));
                printf("%s; since %s", CLI_ESC(str(v, "reason")), str(v, "created"));
                if (*str(v, "reference"))
                        printf("; reference %s", CLI_ESC(str(v, "reference")));
                if (json_is_string(json_object_get(v, "review")))
                        printf("; review %s", str(v, "review"));
                putchar('\n');
        }
        json_t *g = json_object_get(c, "safeguards"), *p = json_object_get(g, "passwords"),
               *ks = json_object_get(g, "key_store");
        printf("Safeguards:\n");
        static const char *const lines[] = {"encryption", "key_derivation", "identifiers", "names",
                                            "signatures", "compression",    "separation"};
        for (i = 0; i < sizeof lines / sizeof *lines; i++)
                printf("  %s: %s\n", lines[i], str(g, lines[i]));
        printf("  passwords: %s; key files:", str(p, "algorithm"));
        json_array_foreach(json_object_get(p, "key_files"), i, v) {
                char mem[32];
                printf("%s %.8s (%" JSON_INTEGER_FORMAT " passes over %s)", i ? "," : "", str(v, "id"),
                       num(v, "opslimit"), cli_size((uint64_t) num(v, "memlimit"), mem));
        }
        printf("\n  key store: ");
        if (num(ks, "format") == 2) {
                printf("epoch keys outside the repository, at");
                json_array_foreach(json_object_get(ks, "locations"), i, v)
                        printf("%s %s", i ? "," : "", CLI_ESC(json_string_value(v)));
                putchar('\n');
        } else
                printf("none: a version 1 controller keeps its keys in the repository and cannot be erased\n");
        json_t *e = json_object_get(c, "erasure_certificates"), *last = json_object_get(e, "last");
        printf("Erasure certificates issued: %" JSON_INTEGER_FORMAT, num(e, "count"));
        if (json_is_object(last))
                printf(", the last %.8s (%s, %s) completed %s", str(last, "id"), str(last, "scope"),
                       str(last, "status"), str(last, "completed_at"));
        printf("; erasure requests pending: %" JSON_INTEGER_FORMAT "\n", num(c, "erasure_requests_pending"));
        json_t *a = json_object_get(c, "audit_log"), *by = json_object_get(a, "by_kind");
        const char *kind;
        printf("Audit log: %" JSON_INTEGER_FORMAT " entr%s", num(a, "entries"), num(a, "entries") == 1 ? "y" : "ies");
        if (json_is_string(json_object_get(a, "head")))
                printf(", head %.16s…", str(a, "head"));
        if (json_is_true(json_object_get(a, "intact")))
                printf(", intact");
        else
                printf(", BROKEN at entry %" JSON_INTEGER_FORMAT " ('cairn audit verify' says why)",
                       num(a, "broken_at"));
        i = 0;
        json_object_foreach(by, kind, v)
                printf("%s%s %" JSON_INTEGER_FORMAT, i++ ? ", " : " (", kind, json_integer_value(v));
        printf("%s\n", i ? ")" : "");
        if (num(c, "objects_unreadable"))
                printf("Objects that could not be read (named above) and are left out: %" JSON_INTEGER_FORMAT "\n",
                       num(c, "objects_unreadable"));
}

int verb_records(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = {CLI_GLOBAL_LONG, {}};
        CnController *only = NULL;
        json_t *doc = NULL, *v;
        size_t i;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c != 'h')
                        return cli_usage_error("records", "unknown option");
                help();
                return CLI_EXIT_OK;
        }
        if (optind < argc)
                return cli_usage_error("records", "records takes no arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        if (cli->controller && (r = cli_controller(cli, "", &only)) != 0)
                return r;
        r = cn_records_build(cli->rp, only, time(NULL), cli_damaged, cli, &doc);
        if (r < 0)
                return cli_repo_error(cli, "cannot gather the records of processing", r);
        if (cli->json)
                return cli_json_print(doc);
        json_t *p = json_object_get(doc, "processor");
        printf("Record of processing activities (GDPR art. 30(2)), generated %s\n", str(doc, "generated_at"));
        printf("Processor   %s (id %s)\n", CLI_ESC(str(p, "name")), str(p, "id"));
        printf("            Ed25519 public key %s\n", str(p, "public_key"));
        printf("Repository  %s at %s\n", str(doc, "repository"), CLI_ESC(cn_backend_url(cli->backend)));
        json_array_foreach(json_object_get(doc, "controllers"), i, v) print_controller(v);
        if (!json_array_size(json_object_get(doc, "controllers")))
                printf("\nNo controller: every one was erased.\n");
        if (num(doc, "objects_unreadable"))
                printf("\nRepository objects that could not be read (named above) and are left out: "
                       "%" JSON_INTEGER_FORMAT "\n",
                       num(doc, "objects_unreadable"));
        json_decref(doc);
        return CLI_EXIT_OK;
}

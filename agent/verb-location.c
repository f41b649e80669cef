/* SPDX-License-Identifier: GPL-3.0-or-later */
/* location: where the repository lives, and where each controller
 * authorised its data to live (docs/cli/location.md); and the one message
 * every verb the location gate stops prints. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hex.h"
#include "location.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] location add NAME --provider P --region R [--controller C]... [--note T]\n"
              "       cairn [-r REPO] location authorise NAME --controller C... [--provider P --region R] [--note T]\n"
              "       cairn [-r REPO] location revoke NAME --controller C...\n"
              "       cairn [-r REPO] location remove NAME\n"
              "       cairn [-r REPO] location list [--json]\n"
              "\n"
              "A location is where the repository's objects physically live: a NAME (1 to 64\n"
              "of A-Z a-z 0-9 . _ -), a provider ('AWS', 'Hetzner', 'on-premises') and a region.\n"
              "add records one, and with --controller authorises it for those controllers.\n"
              "authorise and revoke change which locations a controller agreed its data may\n"
              "live at; authorise takes --provider and --region for a location this repository\n"
              "does not record (a replica's, for copy). remove records that the repository no\n"
              "longer lives there. Nothing is deleted: every change is kept with its date.\n"
              "\n"
              "The gate: backup, copy and init --replica-of are refused (exit 4) for a controller\n"
              "when the destination lives at a location it has not authorised, or records none\n"
              "while it has authorised some. With no location and no authorisation, nothing is\n"
              "checked.\n",
              stdout);
}

/* The controllers --controller named (repeatable), each once. */
typedef struct Targets {
        CnController **v;
        size_t n, cap;
} Targets;

static int resolve(Cli *cli, char **names, size_t n, Targets *ret) {
        for (size_t i = 0; i < n; i++) {
                CnController *c;
                cli->controller = names[i];
                int r = cli_controller(cli, "", &c);
                if (r != 0)
                        return r;
                bool seen = false;
                for (size_t j = 0; j < ret->n && !seen; j++)
                        seen = ret->v[j] == c;
                if (seen)
                        continue;
                if (CN_GROW(ret->v, ret->cap, ret->n) < 0)
                        return cli_repo_error(cli, "cannot take the controllers", -ENOMEM);
                ret->v[ret->n++] = c;
        }
        return 0;
}

static int load_locations(Cli *cli, CnLocations *ret) {
        int r = cn_locations_load(cli->rp, cli_damaged, cli, ret);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the locations", r);
        return 0;
}

static int load_grants(Cli *cli, const CnController *c, CnLocations *ret) {
        int r = cn_grants_load(cli->rp, c, cli_damaged, cli, ret);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the locations the controller authorised", r);
        return 0;
}

static const char *triple(const CnLocation *l, char *buf, size_t size) {
        snprintf(buf, size, "%s (provider %s, region %s)", l->name, CLI_ESC(l->provider), CLI_ESC(l->region));
        return buf;
}

/* An audit event of location l (its name, provider and region as text). */
static CnAuditEvent *location_event(CnAuditKind kind, const char *action, const char *name, const char *provider,
                                    const char *region) {
        CnAuditEvent *e = cli_audit_event(kind, action);
        if (e && name)
                (void) cn_audit_event_text(e, CN_AUDIT_F_LOCATION, name);
        if (e && provider)
                (void) cn_audit_event_text(e, CN_AUDIT_F_PROVIDER, provider);
        if (e && region)
                (void) cn_audit_event_text(e, CN_AUDIT_F_REGION, region);
        return e;
}

/* Authorise l for each target, unless it has already. */
static int authorise(Cli *cli, const Targets *t, const CnLocation *l, json_t *done) {
        char creator[CLI_USER_AT_HOST_MAX], what[1024];
        for (size_t i = 0; i < t->n; i++) {
                _cleanup_(cn_locations_done) CnLocations grants = {};
                CnController *c = t->v[i];
                int r = load_grants(cli, c, &grants);
                if (r != 0)
                        return r;
                if (cn_locations_match(&grants, l)) {
                        cli_info(cli, "controller %s (%s) has authorised %s already\n", CLI_ESC(c->name), c->id_hex,
                                 triple(l, what, sizeof what));
                        continue;
                }
                CnLocation g = {.name = l->name,
                                .provider = l->provider,
                                .region = l->region,
                                .note = l->note,
                                .creator = (char *) cli_user_at_host(creator),
                                .created = time(NULL)};
                r = cn_grant_add(cli->rp, c, &g);
                if (r < 0)
                        return cli_repo_error(cli, "cannot record the authorisation", r);
                cli_audit(cli, c, location_event(CN_AUDIT_LOCATION, "authorise", g.name, g.provider, g.region));
                cli_info(cli, "controller %s (%s) authorised %s\n", CLI_ESC(c->name), c->id_hex,
                         triple(l, what, sizeof what));
                if (done)
                        json_array_append_new(done, json_pack("{s:s, s:o, s:s}", "controller", c->id_hex, "name",
                                                              cli_json_text(c->name), "grant", g.id_hex));
        }
        return 0;
}

int cli_location_check(const char *verb, const char *name, const char *provider, const char *region, const char *note) {
        if (!cn_location_name_valid(name))
                return cli_usage_error(verb, "the location name %s is not 1 to %u characters of A-Z a-z 0-9 . _ -",
                                       CLI_ESC(name), CN_LOCATION_NAME_MAX);
        if (provider && !cn_location_text_valid(provider, 1, CN_LOCATION_TEXT_MAX))
                return cli_usage_error(verb, "--provider must be 1 to %u bytes of UTF-8 without control characters",
                                       CN_LOCATION_TEXT_MAX);
        if (region && !cn_location_text_valid(region, 1, CN_LOCATION_TEXT_MAX))
                return cli_usage_error(verb, "--region must be 1 to %u bytes of UTF-8 without control characters",
                                       CN_LOCATION_TEXT_MAX);
        if (note && !cn_location_text_valid(note, 0, CN_LOCATION_NOTE_MAX))
                return cli_usage_error(verb, "--note must be at most %u bytes of UTF-8 without control characters",
                                       CN_LOCATION_NOTE_MAX);
        return 0;
}

int cli_location_record(Cli *cli, const char *name, const char *provider, const char *region, const char *note,
                        CnController *const *controllers, size_t n, json_t **ret_json) {
        _cleanup_(cn_locations_done) CnLocations have = {};
        char creator[CLI_USER_AT_HOST_MAX], what[1024], t[64];
        CnLocation *old = NULL;
        CnLocation l = {.name = (char *) name,
                        .provider = (char *) provider,
                        .region = (char *) region,
                        .note = (char *) (note ? note : ""),
                        .creator = (char *) cli_user_at_host(creator),
                        .created = time(NULL)};
        Targets targets = {.v = (CnController **) controllers, .n = n};
        int r = load_locations(cli, &have);
        if (r != 0)
                return r;
        if (cn_locations_find(&have, name, &old)) {
                cli_error("the repository records location %s already, since %s; remove it first with 'cairn "
                          "location remove %s' to record it anew",
                          triple(old, what, sizeof what), cli_time(old->created, t), name);
                return CLI_EXIT_ERROR;
        }
        r = cn_location_add(cli->rp, &l);
        if (r < 0)
                return cli_repo_error(cli, "cannot record the location", r);
        /* Where every controller's data lives: in every controller's log. */
        cli_audit_all(cli, location_event(CN_AUDIT_LOCATION, "add", l.name, l.provider, l.region));
        cli_info(cli, "recorded location %s\n", triple(&l, what, sizeof what));
        json_t *done = ret_json ? json_array() : NULL;
        r = authorise(cli, &targets, &l, done);
        if (r == 0 && ret_json) {
                *ret_json = json_pack("{s:s, s:o}", "location", l.id_hex, "authorised", done);
                done = NULL;
        }
        json_decref(done);
        return r;
}

/* location authorise NAME: the repository's location of that name, or the
 * one --provider and --region describe (a replica's). */
static int location_authorise(Cli *cli, const char *name, const char *provider, const char *region, const char *note,
                              const Targets *t) {
        _cleanup_(cn_locations_done) CnLocations have = {};
        char what[1024];
        CnLocation *here = NULL;
        CnLocation l = {.name = (char *) name,
                        .provider = (char *) provider,
                        .region = (char *) region,
                        .note = (char *) (note ? note : "")};
        int r = load_locations(cli, &have);
        if (r != 0)
                return r;
        if (cn_locations_find(&have, name, &here)) {
                if ((provider && strcmp(provider, here->provider) != 0) ||
                    (region && strcmp(region, here->region) != 0)) {
                        cli_error("the repository records location %s, not at the provider and region given; "
                                  "authorise it as recorded (without --provider and --region), or remove it and "
                                  "record it anew",
                                  triple(here, what, sizeof what));
                        return CLI_EXIT_ERROR;
                }
                l.provider = here->provider;
                l.region = here->region;
                if (!note)
                        l.note = here->note;
        } else if (!provider || !region)
                return cli_usage_error("location",
                                       "the repository records no location %s: give --provider and "
                                       "--region to authorise a location it does not record (a "
                                       "replica's, for copy)",
                                       name);
        json_t *done = cli->json ? json_array() : NULL;
        r = authorise(cli, t, &l, done);
        if (r != 0 || !cli->json) {
                json_decref(done);
                return r;
        }
        return cli_json_print(json_pack("{s:o}", "authorised", done));
}

static int location_revoke(Cli *cli, const char *name, const Targets *t) {
        char creator[CLI_USER_AT_HOST_MAX], what[1024];
        json_t *done = cli->json ? json_array() : NULL;
        int r = 0;

        for (size_t i = 0; r == 0 && i < t->n; i++) {
                _cleanup_(cn_locations_done) CnLocations grants = {};
                CnController *c = t->v[i];
                if ((r = load_grants(cli, c, &grants)) != 0)
                        break;
                if (!cn_locations_find(&grants, name, NULL)) {
                        cli_error("controller %s (%s) has not authorised a location named %s; 'cairn location "
                                  "list' shows what it has",
                                  CLI_ESC(c->name), c->id_hex, name);
                        r = CLI_EXIT_ERROR;
                        break;
                }
                for (size_t j = 0; r == 0 && j < grants.n; j++) {
                        CnLocation *g = &grants.v[j];
                        if (!cn_location_in_force(g) || strcmp(g->name, name) != 0)
                                continue;
                        int k = cn_grant_revoke(cli->rp, c, g, cli_user_at_host(creator), time(NULL));
                        if (k < 0) {
                                r = cli_repo_error(cli, "cannot record the revocation", k);
                                break;
                        }
                        cli_audit(cli, c, location_event(CN_AUDIT_LOCATION, "revoke", g->name, g->provider, g->region));
                        cli_info(cli, "controller %s (%s) revoked %s\n", CLI_ESC(c->name), c->id_hex,
                                 triple(g, what, sizeof what));
                        if (done)
                                json_array_append_new(done,
                                                      json_pack("{s:s, s:o, s:s}", "controller", c->id_hex, "name",
                                                                cli_json_text(c->name), "grant", g->id_hex));
                }
        }
        if (r != 0 || !cli->json) {
                json_decref(done);
                return r;
        }
        return cli_json_print(json_pack("{s:o}", "revoked", done));
}

static int location_remove(Cli *cli, const char *name) {
        _cleanup_(cn_locations_done) CnLocations have = {};
        char creator[CLI_USER_AT_HOST_MAX], what[1024];
        json_t *done;
        int r = load_locations(cli, &have);
        if (r != 0)
                return r;
        if (!cn_locations_find(&have, name, NULL)) {
                cli_error("the repository records no location %s; 'cairn location list' shows what it records", name);
                return CLI_EXIT_ERROR;
        }
        done = cli->json ? json_array() : NULL;
        for (size_t i = 0; i < have.n; i++) {
                CnLocation *l = &have.v[i];
                if (!cn_location_in_force(l) || strcmp(l->name, name) != 0)
                        continue;
                r = cn_location_remove(cli->rp, l, cli_user_at_host(creator), time(NULL));
                if (r < 0) {
                        json_decref(done);
                        return cli_repo_error(cli, "cannot record the removal", r);
                }
                cli_audit_all(cli, location_event(CN_AUDIT_LOCATION, "remove", l->name, l->provider, l->region));
                cli_info(cli, "removed location %s\n", triple(l, what, sizeof what));
                if (done)
                        json_array_append_new(done, json_string(l->id_hex));
        }
        if (!cli->json)
                return CLI_EXIT_OK;
        return cli_json_print(json_pack("{s:o}", "removed", done));
}

/* ---- list ---- */

static json_t *entry_json(const CnLocation *l) {
        return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I}", "id", l->id_hex, "name", l->name, "provider",
                         cli_json_text(l->provider), "region", cli_json_text(l->region), "note", cli_json_text(l->note),
                         "creator", cli_json_text(l->creator), "created", (json_int_t) l->created);
}

static const char *gate_text(int gate, bool configured) {
        return gate < 0 ? "refused" : configured ? "allowed" : "unconfigured";
}

const char *cli_location_refusal_text(const CnLocationRefusal *ref, char *buf, size_t size) {
        switch (ref->kind) {
        case CN_LOCATION_UNAUTHORISED:
                snprintf(buf, size, "location %s (provider %s, region %s) is not authorised", ref->name,
                         CLI_ESC(ref->provider), CLI_ESC(ref->region));
                break;
        case CN_LOCATION_NONE_RECORDED:
                snprintf(buf, size, "the repository records no location (%zu authorised)", ref->n_grants);
                break;
        case CN_LOCATION_DAMAGED:
                snprintf(buf, size, "%s does not open: it may be a location or a revocation", CLI_ESC(ref->object));
                break;
        }
        return buf;
}

static int location_list(Cli *cli) {
        _cleanup_(cn_locations_done) CnLocations have = {};
        char t[64], why[2048];
        size_t removed = 0;
        int r = load_locations(cli, &have);
        if (r != 0)
                return r;
        json_t *root = NULL, *locs = NULL, *ctls = NULL;
        if (cli->json) {
                root = json_pack("{s:[], s:[]}", "locations", "controllers");
                if (!root)
                        return cli_json_print(NULL);
                locs = json_object_get(root, "locations");
                ctls = json_object_get(root, "controllers");
        } else
                printf("%-16s  %-16s  %-16s  %-19s  %s\n", "Location", "Provider", "Region", "Added", "Note");
        for (size_t i = 0; i < have.n; i++) {
                const CnLocation *l = &have.v[i];
                if (!cn_location_in_force(l)) {
                        removed++;
                        continue;
                }
                if (cli->json) {
                        json_array_append_new(locs, entry_json(l));
                        continue;
                }
                printf("%-16s  %-16s  ", l->name, CLI_ESC(l->provider));
                printf("%-16s  %-19s  %s\n", CLI_ESC(l->region), cli_time(l->created, t), CLI_ESC(l->note));
        }
        if (!cli->json)
                printf("%zu location%s recorded (%zu removed: 'cairn records' shows the history)\n", have.n - removed,
                       have.n - removed == 1 ? "" : "s", removed);
        for (size_t i = 0; i < cn_repo_n_controllers(cli->rp); i++) {
                _cleanup_(cn_locations_done) CnLocations grants = {};
                CnController *c = cn_repo_controller(cli->rp, i);
                CnLocationRefusal ref;
                bool configured = false;
                if ((r = load_grants(cli, c, &grants)) != 0) {
                        json_decref(root);
                        return r;
                }
                int gate = cn_location_gate_check(&grants, &have, &ref, &configured);
                json_t *auth = cli->json ? json_array() : NULL;
                if (!cli->json)
                        printf("\ncontroller %s (%s): backups here %s%s%s\n", CLI_ESC(c->name), c->id_hex,
                               gate_text(gate, configured), gate < 0 ? ": " : "",
                               gate < 0 ? cli_location_refusal_text(&ref, why, sizeof why) : "");
                for (size_t j = 0; j < grants.n; j++) {
                        const CnLocation *g = &grants.v[j];
                        if (!cn_location_in_force(g))
                                continue;
                        bool recorded = cn_locations_match(&have, g);
                        if (auth) {
                                json_t *e = entry_json(g);
                                json_object_set_new(e, "recorded", json_boolean(recorded));
                                json_array_append_new(auth, e);
                                continue;
                        }
                        printf("  authorised %-16s  %-16s  ", g->name, CLI_ESC(g->provider));
                        printf("%-16s  since %s%s\n", CLI_ESC(g->region), cli_time(g->created, t),
                               recorded ? "" : "  (not recorded here)");
                }
                if (!cli->json)
                        continue;
                json_t *o = json_pack("{s:s, s:o, s:o, s:s}", "id", c->id_hex, "name", cli_json_text(c->name),
                                      "authorised", auth, "gate", gate_text(gate, configured));
                if (o && gate < 0)
                        json_object_set_new(o, "refusal",
                                            cli_json_text(cli_location_refusal_text(&ref, why, sizeof why)));
                json_array_append_new(ctls, o);
        }
        if (!cli->json)
                return CLI_EXIT_OK;
        return cli_json_print(root);
}

/* ---- the gate's refusal, for backup, copy and init --replica-of ---- */

int cli_location_refused(Cli *grants, CnAuditKind kind, const char *op, const char *outcome,
                         const CnLocationRefusal *ref, const char *dest_url) {
        static const char *const actions[] = {
                [CN_LOCATION_UNAUTHORISED] = "unauthorised-location",
                [CN_LOCATION_NONE_RECORDED] = "no-location",
                [CN_LOCATION_DAMAGED] = "damaged-location-object",
        };
        bool where = ref->kind == CN_LOCATION_UNAUTHORISED;
        CnAuditEvent *e = location_event(kind, actions[ref->kind], where ? ref->name : NULL,
                                         where ? ref->provider : NULL, where ? ref->region : NULL);
        if (e) {
                cn_audit_event_set_outcome(e, CN_AUDIT_REFUSED);
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_URL, dest_url, strlen(dest_url));
        }
        cli_audit(grants, (CnController *) ref->controller, e);

        const CnController *c = ref->controller;
        const char *src = CLI_ESC(cn_backend_url(grants->backend));
        const char *dst = CLI_ESC(dest_url);
        bool same = strcmp(cn_backend_url(grants->backend), dest_url) == 0;
        char name[CLI_ESCAPE_MAX], provider[CLI_ESCAPE_MAX], region[CLI_ESCAPE_MAX];

        cli_escape_str(c->name, name);
        cli_escape_str(ref->provider, provider);
        cli_escape_str(ref->region, region);
        switch (ref->kind) {
        case CN_LOCATION_UNAUTHORISED:
                cli_error("%s refused: controller %s (%s) has not authorised location %s (provider %s, region %s) "
                          "of the repository at %s; %s; authorise it with 'cairn -r %s location authorise %s "
                          "--controller %s%s%s%s%s%s', or record where that repository really lives",
                          op, name, c->id_hex, ref->name, provider, region, dst, outcome, src, ref->name, c->id_hex,
                          same ? "" : " --provider '", same ? "" : provider, same ? "" : "' --region '",
                          same ? "" : region, same ? "" : "'");
                break;
        case CN_LOCATION_NONE_RECORDED:
                cli_error("%s refused: the repository at %s records no location (none yet, or the last was "
                          "removed), so where the data of controller %s (%s, %zu location%s authorised) would live "
                          "is unknown; %s; record where it lives with 'cairn -r %s location add NAME --provider P "
                          "--region R'%s",
                          op, dst, name, c->id_hex, ref->n_grants, ref->n_grants == 1 ? "" : "s", outcome, dst,
                          strcmp(op, "replica creation") == 0 ? " (here: init --location NAME --provider P --region R)"
                                                              : "");
                break;
        case CN_LOCATION_DAMAGED:
                cli_error("%s refused for controller %s (%s): %s does not open (damaged, or not this repository's), "
                          "and it may be a location or a revocation, so the location gate cannot decide; %s; put it "
                          "back from a copy of the repository, or remove it if it is not one",
                          op, name, c->id_hex, CLI_ESC(ref->object), outcome);
                break;
        }
        return CLI_EXIT_REFUSED;
}

int verb_location(Cli *cli, int argc, char **argv) {
        enum { OPT_PROVIDER = _OPT_GLOBAL_MAX, OPT_REGION, OPT_NOTE };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {"provider", required_argument, NULL, OPT_PROVIDER},
                {"region", required_argument, NULL, OPT_REGION},
                {"note", required_argument, NULL, OPT_NOTE},
                {},
        };
        _cleanup_free_ char **names = NULL;
        _cleanup_free_ CnController **resolved = NULL;
        const char *provider = NULL, *region = NULL, *note = NULL;
        size_t n_names = 0, cap = 0;
        int c, r;

        /* --controller is repeatable here: taken before the global options. */
        while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORT, opts, NULL)) >= 0) {
                if (c == OPT_CONTROLLER) {
                        if (CN_GROW(names, cap, n_names) < 0) {
                                cli_error("out of memory taking the controllers");
                                return CLI_EXIT_ERROR;
                        }
                        names[n_names++] = optarg;
                        continue;
                }
                int g = cli_global_option(cli, c, optarg);
                if (g < 0) {
                        help();
                        return CLI_EXIT_OK;
                }
                if (g > 0)
                        continue;
                if (c == OPT_PROVIDER)
                        provider = optarg;
                else if (c == OPT_REGION)
                        region = optarg;
                else if (c == OPT_NOTE)
                        note = optarg;
                else
                        return cli_usage_error("location", "unknown option");
        }
        if (optind >= argc)
                return cli_usage_error("location", "give a subcommand: add, authorise, revoke, remove or list");
        const char *sub = argv[optind];
        bool add = strcmp(sub, "add") == 0, auth = strcmp(sub, "authorise") == 0 || strcmp(sub, "authorize") == 0,
             revoke = strcmp(sub, "revoke") == 0, rm = strcmp(sub, "remove") == 0, list = strcmp(sub, "list") == 0;
        if (!add && !auth && !revoke && !rm && !list)
                return cli_usage_error("location", "unknown subcommand '%s'", CLI_ESC(sub));
        if (argc - optind != (list ? 1 : 2))
                return cli_usage_error(
                        "location", list ? "location list takes no arguments" : "location %s takes one location NAME",
                        sub);
        const char *name = list ? NULL : argv[optind + 1];
        if ((list || rm || revoke) && (provider || region || note))
                return cli_usage_error("location", "--provider, --region and --note are for location add and "
                                                   "authorise");
        if ((list || rm) && n_names)
                return cli_usage_error("location",
                                       "location %s takes no --controller: a location is the "
                                       "repository's, and 'location revoke' takes it from a controller",
                                       sub);
        if ((auth || revoke) && !n_names)
                return cli_usage_error("location",
                                       "location %s needs --controller C (repeatable): whose "
                                       "authorisation it is",
                                       sub);
        if (add && (!provider || !region))
                return cli_usage_error("location", "location add needs --provider P and --region R");
        if (auth && !!provider != !!region)
                return cli_usage_error("location", "give both --provider and --region, or neither");
        if (name && (r = cli_location_check("location", name, provider, region, note)) != 0)
                return r;

        r = cli_open(cli, true);
        if (r != 0)
                return r;
        Targets t = {};
        r = resolve(cli, names, n_names, &t);
        resolved = t.v;
        if (r != 0)
                return r;
        if (list)
                return location_list(cli);
        if (rm)
                return location_remove(cli, name);
        if (revoke)
                return location_revoke(cli, name, &t);
        if (auth)
                return location_authorise(cli, name, provider, region, note, &t);
        json_t *j = NULL;
        r = cli_location_record(cli, name, provider, region, note, t.v, t.n, cli->json ? &j : NULL);
        if (r != 0 || !cli->json)
                return r;
        return cli_json_print(j);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The command line: shared state of one cairn run and the helpers verbs use.
 * Only agent/ prints; every message goes through cli_error()/cli_warn(). */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "location.h"
#include "prune.h"
#include "audit.h"
#include "repo.h"
#include "snapshot.h"
#include "store.h"

/* Exit codes (docs/cli/cairn.md). */
enum {
        CLI_EXIT_OK = 0,
        CLI_EXIT_ERROR = 1,
        CLI_EXIT_USAGE = 2,
        CLI_EXIT_PARTIAL = 3,
        CLI_EXIT_REFUSED = 4,           /* the location gate refused (docs/cli/location.md) */
        CLI_EXIT_NO_REPO = 10,
        CLI_EXIT_WRONG_PASSWORD = 12,
        CLI_EXIT_INTERRUPTED = 130,
};

typedef struct Cli {
        /* The source repository of copy and init --replica-of: its location,
         * password, password file and key hint come from --from,
         * --from-password-file, --from-key-hint and CAIRN_FROM_* instead,
         * and it has no default location (docs/cli/copy.md). */
        bool source;
        bool replica;                   /* the other repository is a replica an erasure reaches */
        const char *repo;               /* -r, CAIRN_REPOSITORY or the default */
        const char *password_file;      /* --password-file, CAIRN_PASSWORD_FILE */
        const char *controller;         /* --controller, CAIRN_CONTROLLER: name or id */
        const char *key_hint;           /* --key-hint, CAIRN_KEY_HINT: key file to try first */
        const char *key_store;          /* --key-store; NULL: CAIRN_KEY_STORE or the default */
        const char *break_glass;        /* --break-glass PURPOSE: read what a deferred erasure restricts */
        bool json;
        size_t repo_problems;           /* skipped key files and controllers reported by the open */
        bool quiet;
        const char *verb;               /* the verb running ("backup"), for the audit log */
        int verbose;
        CnBackend *backend;
        CnRepo *rp;
} Cli;

/* Global options every verb accepts, and their parser. */
#define CLI_GLOBAL_SHORT "r:qvh"
enum {
        OPT_PASSWORD_FILE = 1000,
        OPT_JSON,
        OPT_CONTROLLER,
        OPT_HELP,
        OPT_CONNECTIONS,
        OPT_LIMIT_UPLOAD,
        OPT_KEY_HINT,
        OPT_FILTER_HOST,
        OPT_FILTER_TAG,
        OPT_FILTER_PATH,
        OPT_KEY_STORE,
        OPT_BREAK_GLASS,
        _OPT_GLOBAL_MAX,
};
#define CLI_GLOBAL_LONG                                                         \
        { "repo", required_argument, NULL, 'r' },                               \
        { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },        \
        { "json", no_argument, NULL, OPT_JSON },                                \
        { "controller", required_argument, NULL, OPT_CONTROLLER },              \
        { "key-hint", required_argument, NULL, OPT_KEY_HINT },                  \
        { "key-store", required_argument, NULL, OPT_KEY_STORE },                \
        { "break-glass", required_argument, NULL, OPT_BREAK_GLASS },            \
        { "connections", required_argument, NULL, OPT_CONNECTIONS },            \
        { "limit-upload", required_argument, NULL, OPT_LIMIT_UPLOAD },          \
        { "quiet", no_argument, NULL, 'q' },                                    \
        { "verbose", no_argument, NULL, 'v' },                                  \
        { "help", no_argument, NULL, 'h' }

/* The snapshot filters of every verb that takes a snapshot or lists them
 * (docs/cli/snapshots.md "Filters"), and their parser: true if c was one
 * (a --path that cannot be made absolute exits 2, no memory exits 1). */
#define CLI_FILTER_LONG                                                         \
        { "host", required_argument, NULL, OPT_FILTER_HOST },                   \
        { "tag", required_argument, NULL, OPT_FILTER_TAG },                     \
        { "path", required_argument, NULL, OPT_FILTER_PATH }
#define CLI_FILTER_HELP                                                                         \
        "      --host HOST     only snapshots of HOST (repeatable: any of them)\n"               \
        "      --tag T[,T...]  only snapshots with every tag of the list (repeatable: any list)\n" \
        "      --path PATH     only snapshots that include PATH (repeatable: all of them)\n"
bool cli_filter_option(CnSnapshotFilter *f, int c, const char *arg);
/* "--host a --tag x,y" as given, for messages ("" when f is empty). */
const char *cli_filter_text(const CnSnapshotFilter *f, char *buf, size_t size);

/* 1: handled (a global option), 0: not global, -1: --help asked. A bad
 * value (--connections 0) is a usage error: printed, and the run exits 2. */
int cli_global_option(Cli *cli, int c, const char *arg);
/* The next of a verb's own options (getopt_long), taking the global ones on
 * the way: the option, 'h' for --help, '?' for an unknown one, -1 at the end. */
int cli_next_option(Cli *cli, int argc, char **argv, const char *shortopts, const struct option *opts);

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_info(const Cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: message, "try 'cairn VERB --help'", exit code 2. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill in the defaults: repository URL, password file, controller and key
 * hint from the environment (a source's from CAIRN_FROM_*; it has no
 * default URL, nor a controller of its own). */
void cli_resolve(Cli *cli);
/* Open the backend (and with password, unlock the repository); on failure
 * print one line that says what to do and return the exit code (> 0). */
int cli_open(Cli *cli, bool unlock);
void cli_close(Cli *cli);
/* The controller to act for: --controller (or CAIRN_CONTROLLER), else the
 * only one. With several and none named, cairn never guesses: it prints
 * why one is needed (why: "backup stores data for one controller"), the
 * controllers' names, and returns exit code 2. Returns 0 or the exit code. */
int cli_controller(Cli *cli, const char *why, CnController **ret);
/* The repository prefixes l has objects under ("keys/, controllers/"), into
 * buf; NULL if l holds none of them. */
const char *cli_location_objects(const CnRepoLocation *l, char *buf, size_t size);
/* One line on a key file or controller record the open skipped, for
 * warnings and check: "key file keys/ab…: oversized (5120 bytes, …)". */
const char *cli_repo_problem_text(const CnRepoProblem *p, char *buf, size_t n);
/* Exit code for a repository error r (< 0) after printing "cairn: <what>: <reason>; <advice>". */
int cli_repo_error(Cli *cli, const char *what, int r);

/* Passwords: --password-file/CAIRN_PASSWORD_FILE, CAIRN_PASSWORD, else a
 * prompt on the terminal (a source's: --from-password-file,
 * CAIRN_FROM_PASSWORD_FILE, CAIRN_FROM_PASSWORD). Returned in
 * cn_secret_new() memory. */
int cli_password(Cli *cli, bool confirm, char **ret, size_t *ret_len);
/* A new password for key add/passwd: --new-password-file F,
 * CAIRN_NEW_PASSWORD, or a prompt asked twice. */
int cli_new_password(const char *file, char **ret, size_t *ret_len);

/* Output helpers. Every string from a repository, a tree or a server goes
 * out through one of the first three (docs/cli/ls.md "Names in output"). */
/* A JSON string: controls, bidi and separators as \uXXXX, a byte that is
 * not UTF-8 as \udcXX (lossless, as Python's surrogateescape). */
void cli_json_string(FILE *f, const char *s, size_t n);
/* Text: \\, \n, \t, \r, \x1b, \u202e, \xff for a byte that is not UTF-8. */
void cli_print_escaped(FILE *f, const char *s, size_t n);
/* The same into buf (size bytes with the NUL; what does not fit ends in
 * "..."), for names in messages and columns. Returns buf. */
const char *cli_escape(const char *s, size_t n, char *buf, size_t size);
#define CLI_ESCAPE_MAX 4096
/* cli_escape() of a NUL-terminated s ("(none)" for NULL) into buf. */
const char *cli_escape_str(const char *s, char buf[CLI_ESCAPE_MAX]);
/* The same into a buffer that lives until the end of the enclosing block:
 * printf("%s", CLI_ESC(name)). */
#define CLI_ESC(s) cli_escape_str((s), (char[CLI_ESCAPE_MAX]) {})
/* A JSON array of the n strings of v. */
void cli_json_strv(FILE *f, const char *const *v, size_t n);
/* New verbs write JSON with jansson: s as a JSON string, valid UTF-8 as it
 * is and each byte that is not as U+FFFD (NULL: no memory). */
json_t *cli_json_text(const char *s);
/* Print j on one line to standard output and release it; an exit status
 * (NULL j or a failed write: no memory, exit 1 after saying so). */
int cli_json_print(json_t *j);
/* A snapshot as the JSON object 'snapshots --json' prints. */
void cli_json_snapshot(FILE *f, const CnSnapshot *s);
const char *cli_size(uint64_t bytes, char buf[32]);
/* Local time "YYYY-MM-DD HH:MM:SS" of whole seconds (the floor of a CnTime). */
const char *cli_time(int64_t sec, char buf[64]);
/* t as a decimal number of seconds, "-1.234567890" for sec -2, nsec 765432110. */
const char *cli_seconds(CnTime t, char buf[32]);
void cli_short_id(const char *hex, char buf[9]);

/* "user@host" of this run, for key labels and hold creators: $USER and
 * the host name. Returns buf. */
#define CLI_USER_AT_HOST_MAX 512
const char *cli_user_at_host(char buf[CLI_USER_AT_HOST_MAX]);

/* A damaged object that core/ skipped and reads around (CnStoreDamagedFn):
 * one warning naming it and why. */
void cli_damaged(const char *name, int error, void *userdata);
/* Why an object was skipped, for messages: "damaged (...)", "oversized (...)". */
const char *cli_damage_reason(int error);

/* Snapshot selection: "latest", an id prefix, optionally ":PATH". */
int cli_load_snapshots(Cli *cli, CnController *c, CnSnapshot **ret, size_t *ret_n);
/* The snapshot spec ("latest" or an id prefix) names in list; else print
 * why not (none, ambiguous: how many, not an id) and return NULL. */
CnSnapshot *cli_find_snapshot(CnSnapshot *list, size_t n, const char *spec);
/* In the open repository, find spec: "latest" of --controller (or of the
 * only controller; with several and none named: exit 2), the newest that
 * filter (may be NULL) matches; or an id prefix (filter ignored) of
 * any controller's snapshot (of --controller's only, when given). Fills *list (free with
 * cn_snapshots_free) and *ret_snap (in list). Returns 0 or the exit code,
 * after printing. */
int cli_select_snapshot(Cli *cli, const char *spec, const CnSnapshotFilter *filter, CnSnapshot **list, size_t *n,
                        CnSnapshot **ret_snap);
/* Open the repository, cli_select_snapshot(), and open a store of the
 * snapshot's controller with its keys. */
int cli_open_snapshot(Cli *cli, const char *spec, const CnSnapshotFilter *filter, CnSnapshot **list, size_t *n, const CnSnapshot **ret_snap,
                      CnStore **ret_store);

/* Whether the absolute pattern p can match a path as snapshots store them
 * (erase --path, export --path): no empty component ("//"), no "." or
 * ".." (a trailing '/' is allowed). */
bool cli_path_pattern_plain(const char *p);

/* Snapshot s, which a deferred erasure restricts (cn_erase_restricted()),
 * is about to be read: without --break-glass PURPOSE, log the refusal
 * (audit log), say so and return exit code 1; with it, log the read (syslog, the audit log), warn, and
 * return 0. */
int cli_break_glass(Cli *cli, const CnSnapshot *s);

/* Run a prune on the open repository and report it (verb-prune.c); an exit status. */
int cli_prune(Cli *cli, const CnPruneOptions *o);
/* --max-unused's argument into o; false if it is none (CLI_MAX_UNUSED_USAGE says what is). */
bool cli_parse_max_unused(const char *arg, CnPruneOptions *o);
#define CLI_MAX_UNUSED_USAGE "--max-unused takes a share (0%% to 99%%), a size (0, 500M, 2G) or 'unlimited', not %s"

typedef int (*CliVerbFn)(Cli *cli, int argc, char **argv);
int verb_init(Cli *cli, int argc, char **argv);
int verb_backup(Cli *cli, int argc, char **argv);
int verb_snapshots(Cli *cli, int argc, char **argv);
int verb_ls(Cli *cli, int argc, char **argv);
int verb_restore(Cli *cli, int argc, char **argv);
int verb_dump(Cli *cli, int argc, char **argv);
int verb_check(Cli *cli, int argc, char **argv);
int verb_forget(Cli *cli, int argc, char **argv);
int verb_controller(Cli *cli, int argc, char **argv);
int verb_key(Cli *cli, int argc, char **argv);
int verb_hold(Cli *cli, int argc, char **argv);
int verb_prune(Cli *cli, int argc, char **argv);
int verb_erase(Cli *cli, int argc, char **argv);
int verb_keystore(Cli *cli, int argc, char **argv);
/* Carry out the erasure requests that remain for controller c (deferred
 * by holds, or stopped): the exit code (0 none or all done; 3 still
 * deferred or partial; 1 an error, said). */
int cli_erase_pending(Cli *cli, CnController *c);
int verb_copy(Cli *cli, int argc, char **argv);
int verb_certificate(Cli *cli, int argc, char **argv);
int verb_export(Cli *cli, int argc, char **argv);
int verb_processor(Cli *cli, int argc, char **argv);
int verb_audit(Cli *cli, int argc, char **argv);

/* Append e to c's audit log (c NULL: to the one e is bound to); on
 * failure warn: the operation's own result stands. e is freed (NULL: an
 * event that could not be made, warned about the same way). */
void cli_audit(Cli *cli, CnController *c, CnAuditEvent *e);
/* A new event of kind, outcome ok, with the action (may be NULL); NULL:
 * no memory (cli_audit() says so). */
CnAuditEvent *cli_audit_event(CnAuditKind kind, const char *action);
/* The same, to every controller's log (repository-wide events). */
void cli_audit_all(Cli *cli, CnAuditEvent *e);
/* Entries of kind and outcome for the snapshots of v that are c's (by
 * id), in rp's log of c: at most 56 snapshot ids an entry, each with the
 * action, url (a pseudonym; may be NULL) and how many there are in all;
 * none when c has none there, unless the outcome is not ok (then one). */
void cli_audit_snapshots(Cli *cli, CnRepo *rp, CnController *c, CnAuditKind kind, CnAuditOutcome outcome,
                         const char *action, const char *url, const CnSnapshot *const *v, size_t n);
int verb_retention(Cli *cli, int argc, char **argv);
int verb_request(Cli *cli, int argc, char **argv);
int verb_stats(Cli *cli, int argc, char **argv);

int verb_location(Cli *cli, int argc, char **argv);
int verb_records(Cli *cli, int argc, char **argv);

/* Locations (verb-location.c). The fields of a location for verb: a usage
 * error (exit 2, said) unless each given one (NULL: not given) follows its
 * rule; else 0. */
int cli_location_check(const char *verb, const char *name, const char *provider, const char *region,
                       const char *note);
/* Record location name of the open repository (refused, exit 1, when one of
 * that name is recorded) and authorise it for the n controllers; says what
 * it did. ret_json (may be NULL): {location, authorised: [...]}. 0 or an
 * exit code, after saying why. */
int cli_location_record(Cli *cli, const char *name, const char *provider, const char *region, const char *note,
                        CnController *const *controllers, size_t n, json_t **ret_json);
/* The location gate refused op ("backup", "copy", "replica creation"; of
 * audit kind) for ref->controller, whose grants are in the repository
 * grants has open, to place data in the repository at dest_url: one line
 * saying who, where, what became of the operation (outcome: "no snapshot
 * was saved") and the command that authorises it, and an entry with
 * outcome "refused" in the controller's audit log there. Returns
 * CLI_EXIT_REFUSED. */
int cli_location_refused(Cli *grants, CnAuditKind kind, const char *op, const char *outcome,
                         const CnLocationRefusal *ref, const char *dest_url);
/* Why the gate refuses, in words, for lists: "location x (provider p,
 * region r) is not authorised". */
const char *cli_location_refusal_text(const CnLocationRefusal *ref, char *buf, size_t size);

/* The options of a source repository (copy, init --replica-of), and their
 * parser: true if c was one of them, taken into src. */
enum {
        OPT_FROM_PASSWORD_FILE = _OPT_GLOBAL_MAX + 100,
        OPT_FROM_KEY_HINT,
        OPT_FROM_KEY_STORE,
};
#define CLI_FROM_LONG                                                                   \
        { "from-password-file", required_argument, NULL, OPT_FROM_PASSWORD_FILE },      \
        { "from-key-hint", required_argument, NULL, OPT_FROM_KEY_HINT },        \
        { "from-key-store", required_argument, NULL, OPT_FROM_KEY_STORE }
#define CLI_FROM_HELP                                                                           \
        "      --from-password-file F  the source's password from F (CAIRN_FROM_PASSWORD_FILE);\n"  \
        "                              else CAIRN_FROM_PASSWORD, else a prompt\n"                \
        "      --from-key-hint ID      the source's key file to try first (CAIRN_FROM_KEY_HINT)\n" \
        "      --from-key-store URL    the source's key store (CAIRN_FROM_KEY_STORE; default: as the\n" \
        "                              destination's)\n"
bool cli_from_option(Cli *src, int c, const char *arg);

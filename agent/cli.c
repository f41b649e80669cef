/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "backup.h"
#include "crypto.h"
#include "erase.h"
#include "format.h"
#include "remote.h"
#include "store.h"
#include "macro.h"

/* A whole decimal number in [min, max], or exit 2 naming the option. */
static uint64_t number_option(const char *option, const char *arg, uint64_t min, uint64_t max) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
                cli_error("%s takes a number from %" PRIu64 " to %" PRIu64 "; try 'cairn --help'", option, min, max);
                exit(CLI_EXIT_USAGE);
        }
        return v;
}

int cli_global_option(Cli *cli, int c, const char *arg) {
        switch (c) {
        case OPT_CONNECTIONS:
                (void) cn_remote_set_connections(
                        (unsigned) number_option("--connections", arg, 1, CN_REMOTE_CONNECTIONS_MAX));
                return 1;
        case OPT_LIMIT_UPLOAD:
                /* KiB/s, as appliances' link budgets are written; 0 lifts the limit. */
                cn_remote_set_upload_limit(number_option("--limit-upload", arg, 0, UINT64_MAX / 1024) * 1024);
                return 1;
        case 'r':
                cli->repo = arg;
                return 1;
        case OPT_PASSWORD_FILE:
                cli->password_file = arg;
                return 1;
        case OPT_CONTROLLER:
                cli->controller = arg;
                return 1;
        case OPT_KEY_HINT:
                cli->key_hint = arg;
                return 1;
        case OPT_KEY_STORE:
                cli->key_store = arg;
                return 1;
        case OPT_BREAK_GLASS:
                cli->break_glass = arg;
                return 1;
        case OPT_JSON:
                cli->json = true;
                return 1;
        case 'q':
                cli->quiet = true;
                return 1;
        case 'v':
                cli->verbose++;
                return 1;
        case 'h':
                return -1;
        default:
                return 0;
        }
}

int cli_next_option(Cli *cli, int argc, char **argv, const char *shortopts, const struct option *opts) {
        for (;;) {
                int c = getopt_long(argc, argv, shortopts, opts, NULL);
                if (c < 0)
                        return -1;
                int g = cli_global_option(cli, c, optarg);
                if (g < 0)
                        return 'h';
                if (g == 0)
                        return c;
        }
}

static void vmsg(const char *prefix, const char *fmt, va_list ap) {
        fputs("cairn: ", stderr);
        fputs(prefix, stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

void cli_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vmsg("", fmt, ap);
        va_end(ap);
}

void cli_warn(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vmsg("warning: ", fmt, ap);
        va_end(ap);
}

void cli_info(const Cli *cli, const char *fmt, ...) {
        va_list ap;
        if (cli->quiet)
                return;
        va_start(ap, fmt);
        vfprintf(cli->json ? stderr : stdout, fmt, ap);
        va_end(ap);
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vmsg("", fmt, ap);
        va_end(ap);
        fprintf(stderr, "Try 'cairn %s --help'.\n", verb);
        return CLI_EXIT_USAGE;
}

static const char *default_repo(void) {
        static char buf[4096];
        const char *env = getenv("CAIRN_REPOSITORY");
        if (env && *env)
                return env;
        if (geteuid() == 0)
                return "/var/lib/cairn/repo";
        const char *data = getenv("XDG_DATA_HOME");
        if (data && data[0] == '/')
                snprintf(buf, sizeof buf, "%s/cairn/repo", data);
        else
                snprintf(buf, sizeof buf, "%s/.local/share/cairn/repo", getenv("HOME") ? getenv("HOME") : "");
        return buf;
}

/* url for a message: a password in its user part ("sftp://u:pw@host/...",
 * which every backend refuses) becomes "***". */
static const char *url_for_messages(const char *url, char *buf, size_t n) {
        const char *pw, *pw_end;
        if (!cn_backend_url_password(url, &pw, &pw_end))
                return url;
        snprintf(buf, n, "%.*s***%s", (int) (pw - url), url, pw_end);
        return buf;
}

static int missing_config(Cli *cli, const char *what, const char *url);

static const char *password_sources(const Cli *cli) {
        return cli->source ? "CAIRN_FROM_PASSWORD or --from-password-file" : "CAIRN_PASSWORD or --password-file";
}

int cli_repo_error(Cli *cli, const char *what, int r) {
        char redacted[1024];
        const char *url = CLI_ESC(url_for_messages(cli->backend ? cn_backend_url(cli->backend) : cli->repo,
                                                   redacted, sizeof redacted));
        const char *detail = CLI_ESC(cn_backend_last_error());
        bool remote = cli->backend ? !cn_backend_local_path(cli->backend) : strstr(url, "://") != NULL;
        switch (r) {
        case -ENOENT:
                if (cli->rp) {
                        /* The repository opened: what is missing is something in it. */
                        cli_error("%s: something the repository at %s should hold is missing (a pack, or a chunk "
                                  "or tree it should contain); run 'cairn check' to see what is affected",
                                  what, url);
                        return CLI_EXIT_ERROR;
                }
                cli_error("%s: no cairn repository at %s%s%s%s; create one with 'cairn -r %s init'", what, url,
                          *detail ? " (" : "", detail, *detail ? ")" : "", url);
                return CLI_EXIT_NO_REPO;
        case -EUCLEAN:
                return missing_config(cli, what, url);
        case -EKEYREJECTED:
                if (cli->repo_problems)
                        cli_error("%s: wrong password: no usable key file of the repository at %s opens with it "
                                  "(%zu key file(s) skipped, as said above); check %s",
                                  what, url, cli->repo_problems, password_sources(cli));
                else
                        cli_error("%s: wrong password: no key of the repository at %s opens with it; check %s", what,
                                  url, password_sources(cli));
                return CLI_EXIT_WRONG_PASSWORD;
        case -EPROTONOSUPPORT:
                cli_error("%s: the repository at %s uses a format version this cairn (%s) does not know; "
                          "upgrade cairn",
                          what, url, CAIRN_VERSION);
                return CLI_EXIT_ERROR;
        case -ENOKEY: {
                if (cli->rp) {
                        cli_error("%s: the repository at %s has no data key for some data (key ledger missing); "
                                  "run 'cairn check'",
                                  what, url);
                        return CLI_EXIT_ERROR;
                }
                _cleanup_free_ char *ks = cli->key_store ? strdup(cli->key_store) : cn_keystore_default_location();
                cli_error("%s: no controller of the repository at %s opens: the key store at %s holds no key "
                          "for any of them (they were erased, or this is not the repository's key store: give "
                          "the right one with --key-store URL or CAIRN_KEY_STORE; a fresh machine needs a copy "
                          "from the key store's escrow, docs/PRIVACY.md)",
                          what, url, ks ? CLI_ESC(ks) : "(none)");
                return CLI_EXIT_ERROR;
        }
        case -EBADMSG:
                cli_error("%s: data in the repository at %s failed authentication (damaged or tampered); "
                          "run 'cairn check --read-data' to see what is affected",
                          what, url);
                return CLI_EXIT_ERROR;
        case -ENOSPC:
                cli_error("%s: no space left on the storage of %s; free space there and run again "
                          "(what was already stored is kept and reused)",
                          what, url);
                return CLI_EXIT_ERROR;
        case -EACCES:
                if (remote)
                        cli_error("%s: access denied by %s%s%s; check the credentials in the environment and "
                                  "what they may do (docs/BACKENDS.md)",
                                  what, url, *detail ? ": " : "", detail);
                else
                        cli_error("%s: permission denied on %s%s%s; check the permissions of the repository "
                                  "(and that you run cairn as the right user)",
                                  what, url, *detail ? ": " : "", detail);
                return CLI_EXIT_ERROR;
        case -EAGAIN:
                cli_error("%s: %s did not answer in time, retries included%s%s; what was stored is kept: "
                          "run again when the server is back",
                          what, url, *detail ? ": " : "", detail);
                return CLI_EXIT_ERROR;
        case -EPROTO:
                cli_error("%s: %s answered something cairn cannot read%s%s; is the URL right?", what, url,
                          *detail ? ": " : "", detail);
                return CLI_EXIT_ERROR;
        case -EOPNOTSUPP:
                cli_error("%s: %s: this kind of repository URL is not supported by this build", what, url);
                return CLI_EXIT_ERROR;
        default:
                cli_error("%s: %s: %s%s%s", what, url, strerror(-r), *detail ? ": " : "", detail);
                return CLI_EXIT_ERROR;
        }
}

/* An environment variable, unless the option set it already. */
static void from_env(const char **v, const char *name) {
        const char *e = getenv(name);
        if (!*v && e && *e)
                *v = e;
}

void cli_resolve(Cli *cli) {
        if (cli->source) {
                from_env(&cli->repo, "CAIRN_FROM_REPOSITORY");
                from_env(&cli->password_file, "CAIRN_FROM_PASSWORD_FILE");
                from_env(&cli->key_hint, "CAIRN_FROM_KEY_HINT");
                from_env(&cli->key_store, "CAIRN_FROM_KEY_STORE");
                return;
        }
        if (!cli->repo)
                cli->repo = default_repo();
        from_env(&cli->password_file, "CAIRN_PASSWORD_FILE");
        from_env(&cli->controller, "CAIRN_CONTROLLER");
        from_env(&cli->key_hint, "CAIRN_KEY_HINT");
}

const char *cli_location_objects(const CnRepoLocation *l, char *buf, size_t size) {
        size_t n = 0;
        buf[0] = 0;
        for (size_t i = 0; i < CN_REPO_N_PREFIXES; i++)
                if (l->first[i])
                        n += (size_t) snprintf(buf + CN_MIN(n, size - 1), size - CN_MIN(n, size - 1), "%s%s",
                                               n ? ", " : "", cn_repo_prefixes[i]);
        return n ? buf : NULL;
}

/* Why a location without config is not "no repository": name what is
 * there. Exit 10 only for a location that holds nothing. */
static int missing_config(Cli *cli, const char *what, const char *url) {
        _cleanup_(cn_repo_location_done) CnRepoLocation l = {};
        char held[2048];

        int r = cn_repo_probe(cli->backend, &l);
        if (r < 0 || !l.any) {
                cli_error("%s: no cairn repository at %s; create one with 'cairn -r %s init'", what, url, url);
                return CLI_EXIT_NO_REPO;
        }
        if (!cli_location_objects(&l, held, sizeof held)) {
                cli_error("%s: %s is not a cairn repository: it has no config object and holds other things "
                          "(%s); check the URL",
                          what, url, CLI_ESC(l.any));
                return CLI_EXIT_ERROR;
        }
        cli_error("%s: the repository at %s has lost its config object but still holds cairn objects (%s): "
                  "it is damaged, not absent; put config back from a copy of the repository ('cairn init' "
                  "refuses a location that is not empty)",
                  what, url, held);
        return CLI_EXIT_ERROR;
}

const char *cli_repo_problem_text(const CnRepoProblem *p, char *buf, size_t n) {
        char a[32];
        switch (p->kind) {
        case CN_REPO_KEY_UNREADABLE:
                if (p->error == -ENOMEM)
                        snprintf(buf, n, "key file %s: Argon2 could not get the memory it asks for: skipped",
                                 p->object);
                else
                        snprintf(buf, n, "key file %s cannot be read (%s): skipped", p->object, strerror(-p->error));
                break;
        case CN_REPO_KEY_OVERSIZED:
                snprintf(buf, n, "key file %s is oversized (%" PRIu64 " bytes; a key file is at most %u): skipped",
                         p->object, p->size, CN_MAX_KEYFILE_BYTES);
                break;
        case CN_REPO_KEY_MALFORMED:
                if (p->error == -EINVAL)
                        snprintf(buf, n, "%s is not named as a key file (keys/ and 32 hex digits): skipped",
                                 p->object);
                else
                        snprintf(buf, n, "key file %s is malformed (not a cairn key file, or cut short): skipped",
                                 p->object);
                break;
        case CN_REPO_KEY_UNKNOWN_VERSION:
                if (p->version == CN_FORMAT_VERSION)
                        snprintf(buf, n, "key file %s uses key derivation %" PRIu32
                                 ", which this cairn (%s) does not know: skipped",
                                 p->object, p->kdf, CAIRN_VERSION);
                else
                        snprintf(buf, n, "key file %s has format version %" PRIu32
                                 ", which this cairn (%s) does not know: skipped",
                                 p->object, p->version, CAIRN_VERSION);
                break;
        case CN_REPO_KEY_COST:
                snprintf(buf, n, "key file %s asks Argon2id for %" PRIu64 " passes over %s, outside the caps "
                         "(%u to %u passes, 8 KiB to 1 GiB): skipped without deriving",
                         p->object, p->opslimit, cli_size(p->memlimit, a), CN_KDF_OPSLIMIT_MIN, CN_KDF_OPSLIMIT_MAX);
                break;
        case CN_REPO_KEY_OTHER_REPOSITORY:
                snprintf(buf, n, "key file %s opens with this password but belongs to another repository (left "
                         "by an init that lost a race, or planted): skipped",
                         p->object);
                break;
        case CN_REPO_KEY_HINT_UNMATCHED:
                snprintf(buf, n, "the key hint '%s' names %s key file: every key file was tried", p->object,
                         p->size ? "more than one" : "no");
                break;
        case CN_REPO_CONTROLLER_UNREADABLE:
                if (p->error == -E2BIG)
                        snprintf(buf, n, "controller record %s is oversized (over %u MiB): skipped", p->object,
                                 CN_MAX_META_BYTES >> 20);
                else
                        snprintf(buf, n, "controller record %s cannot be read (%s): skipped", p->object,
                                 strerror(-p->error));
                break;
        case CN_REPO_CONTROLLER_NO_KEY:
                snprintf(buf, n, "controller record %s: the key store at %s holds no key for it (the controller "
                         "was erased, or this is not the key store of this repository: give it with --key-store "
                         "or CAIRN_KEY_STORE): skipped",
                         p->object, p->url ? p->url : "(none)");
                break;
        case CN_REPO_CONTROLLER_FOREIGN:
                if (p->error == -EPROTONOSUPPORT)
                        snprintf(buf, n, "controller record %s has a format version this cairn (%s) does not "
                                 "know: skipped",
                                 p->object, CAIRN_VERSION);
                else
                        snprintf(buf, n, "controller record %s does not open under this repository's key "
                                 "(damaged, left by an init that lost a race, or planted): skipped",
                                 p->object);
                break;
        default:
                snprintf(buf, n, "%s: skipped", p->object);
        }
        return buf;
}

static void on_repo_problem(const CnRepoProblem *p, void *u) {
        Cli *cli = u;
        char text[1024];
        if (p->kind != CN_REPO_KEY_HINT_UNMATCHED)
                cli->repo_problems++;
        cli_repo_problem_text(p, text, sizeof text);
        /* Key files are named keys/...: say how to remove one (by its name, if 'key remove' can). */
        const char *name = p->kind < CN_REPO_KEY_HINT_UNMATCHED ? p->object + strlen("keys/") : NULL;
        if (name && !strchr(name, '/'))
                cli_warn("%s; remove it with 'cairn key remove %s' if nobody needs it", CLI_ESC(text), CLI_ESC(name));
        else
                cli_warn("%s", CLI_ESC(text));
}

int cli_open(Cli *cli, bool unlock) {
        _cleanup_(cn_secret_freep) uint8_t *pw = NULL;
        const char *what = cli->replica  ? "cannot open the replica"
                           : cli->source ? "cannot open the source repository"
                                         : "cannot open repository";
        size_t pw_len = 0;
        int r;

        cli_resolve(cli);
        if (!cli->repo) {
                cli_error("no source repository: give --from URL (or CAIRN_FROM_REPOSITORY)");
                return CLI_EXIT_USAGE;
        }
        r = cn_backend_open(cli->repo, false, &cli->backend);
        if (r < 0)
                return cli_repo_error(cli, what, r);
        if (!unlock)
                return 0;
        uint64_t size;
        r = cn_backend_stat(cli->backend, "config", &size);
        if (r == -ENOENT)
                r = -EUCLEAN;   /* missing_config() tells an empty location from a damaged one */
        if (r < 0)
                return cli_repo_error(cli, what, r);
        r = cli_password(cli, false, (char **) &pw, &pw_len);
        if (r != 0)
                return r;
        CnRepoOpenOptions o = { .key_hint = cli->key_hint,
                                .on_problem = on_repo_problem,
                                .userdata = cli,
                                .key_store = cli->key_store };
        r = cn_repo_open_with(cli->backend, (const char *) pw, pw_len, &o, &cli->rp);
        if (r < 0)
                return cli_repo_error(cli, what, r);
        return 0;
}

void cli_close(Cli *cli) {
        cli->rp = cn_repo_unref(cli->rp);
        cli->backend = cn_backend_close(cli->backend);
}

int cli_controller(Cli *cli, const char *why, CnController **ret) {
        size_t n = cn_repo_n_controllers(cli->rp);
        if (cli->controller) {
                CnController *c = cn_repo_find_controller(cli->rp, cli->controller);
                if (!c) {
                        cli_error("no controller '%s' in %s, or more than one of that name (use the id then); "
                                  "'cairn controller list' shows names and ids",
                                  CLI_ESC(cli->controller), CLI_ESC(cn_backend_url(cli->backend)));
                        return CLI_EXIT_ERROR;
                }
                *ret = c;
                return 0;
        }
        if (n == 1) {
                *ret = cn_repo_controller(cli->rp, 0);
                return 0;
        }
        if (n == 0) {
                cli_error("the repository at %s has no data controller any more (each was erased): add one with "
                          "'cairn controller add NAME'",
                          CLI_ESC(cn_backend_url(cli->backend)));
                return CLI_EXIT_ERROR;
        }
        /* Several: a guess would put one customer's data under another's keys. */
        fprintf(stderr, "cairn: the repository at %s has %zu data controllers (", CLI_ESC(cn_backend_url(cli->backend)),
                n);
        for (size_t i = 0; i < n && i < 20; i++) {
                const CnController *c = cn_repo_controller(cli->rp, i);
                if (i)
                        fputs(", ", stderr);
                cli_print_escaped(stderr, c->name, strlen(c->name));
        }
        if (n > 20)
                fprintf(stderr, ", and %zu more", n - 20);
        fprintf(stderr, ") and %s: say which with --controller NAME or CAIRN_CONTROLLER\n", why);
        return CLI_EXIT_USAGE;
}

const char *cli_damage_reason(int error) {
        switch (error) {
        case -EBADMSG:
                return "damaged (it fails authentication, or is not what its name says)";
        case -E2BIG:
                return "oversized (larger than any cairn object may be)";
        case -EPROTONOSUPPORT:
                return "of a format version this cairn does not know";
        case -ENOKEY:
                return "in the folder of no controller of this repository";
        default: {
                static __thread char buf[160];
                snprintf(buf, sizeof buf, "unreadable (%s)", strerror(-error));
                return buf;
        }
        }
}

const char *cli_user_at_host(char buf[CLI_USER_AT_HOST_MAX]) {
        char host[256] = "";
        const char *user = getenv("USER");
        struct passwd *pw;
        gethostname(host, sizeof host - 1);
        /* cron and services often run without USER: the effective user then */
        if ((!user || !*user) && (pw = getpwuid(geteuid())) && pw->pw_name)
                user = pw->pw_name;
        snprintf(buf, CLI_USER_AT_HOST_MAX, "%s@%s", user ? user : "", host);
        return buf;
}

void cli_damaged(const char *name, int error, _unused_ void *userdata) {
        bool snapshot = strncmp(name, "snapshots/", strlen("snapshots/")) == 0;
        bool hold = strncmp(name, "holds/", strlen("holds/")) == 0;
        bool certificate = strncmp(name, "certificates/", strlen("certificates/")) == 0;
        bool location = strncmp(name, "locations/", strlen("locations/")) == 0;
        bool grant = strncmp(name, "grants/", strlen("grants/")) == 0;
        if (location || grant) {
                cli_warn("%s is %s; skipped: it may be %s, so the location gate refuses %s until it is put back "
                         "from a copy of the repository, or removed if it is not one",
                         CLI_ESC(name), cli_damage_reason(error),
                         location ? "a location or the removal of one" : "an authorisation or its revocation",
                         location ? "every controller" : "that controller");
                return;
        }
        if (certificate) {
                cli_warn("%s is %s; skipped: the certificate is not listed; put it back from a copy of the "
                         "repository, or keep the certificate file the erasure wrote",
                         CLI_ESC(name), cli_damage_reason(error));
                return;
        }
        cli_warn("%s is %s; skipped: %s; 'cairn check' lists what it affects", CLI_ESC(name), cli_damage_reason(error),
                 snapshot ? "the snapshot is not listed"
                 : hold   ? "it may be a legal hold or its release, so nothing is deleted until it is restored "
                            "from a copy of the repository or removed by hand"
                          : "what it holds is read from elsewhere or stored again");
}

static void audit(Cli *cli, CnController *c, CnAuditEvent *e, bool all) {
        int r = e ? 0 : -ENOMEM;
        if (r == 0)
                r = all ? cn_audit_append_all(cli->rp, e) : cn_audit_append(cli->rp, c, e, NULL);
        if (r < 0) {
                const char *detail = cn_backend_last_error();
                cli_warn("the audit log could not record this %s: %s%s%s%s; the %s itself stands%s",
                         cli->verb ?: "operation",
                         r == -EOVERFLOW ? "its folder holds a name past which no entry can follow (planted?)"
                                         : strerror(-r),
                         *detail ? " (" : "", detail, *detail ? ")" : "", cli->verb ?: "operation",
                         r == -EOVERFLOW ? "; 'cairn audit verify' names what is wrong" : "");
        }
        cn_audit_event_free(e);
}

CnAuditEvent *cli_audit_event(CnAuditKind kind, const char *action) {
        CnAuditEvent *e = NULL;
        if (cn_audit_event_new(kind, CN_AUDIT_OK, &e) < 0)
                return NULL;
        if (action)
                (void) cn_audit_event_text(e, CN_AUDIT_F_ACTION, action);
        return e;
}

void cli_audit(Cli *cli, CnController *c, CnAuditEvent *e) {
        audit(cli, c, e, false);
}

void cli_audit_all(Cli *cli, CnAuditEvent *e) {
        audit(cli, NULL, e, true);
}

void cli_audit_snapshots(Cli *cli, CnRepo *rp, CnController *c, CnAuditKind kind, CnAuditOutcome outcome,
                         const char *action, const char *url, const CnSnapshot *const *v, size_t n) {
        /* room for the host, user, action, url and count */
        const size_t per_entry = CN_AUDIT_MAX_FIELDS - 8;
        CnRepo *saved = cli->rp;
        size_t mine = 0;
        for (size_t i = 0; i < n; i++)
                mine += memcmp(v[i]->controller->id, c->id, CN_UUID_BYTES) == 0;
        cli->rp = rp;
        /* one entry at least when it did not go well: a failed copy too */
        for (size_t i = 0, done = 0; done < mine || (outcome != CN_AUDIT_OK && i == 0 && done == 0);) {
                CnAuditEvent *e = NULL;
                size_t k = 0;
                if (cn_audit_event_new(kind, outcome, &e) >= 0) {
                        (void) cn_audit_event_text(e, CN_AUDIT_F_ACTION, action);
                        if (url)
                                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_URL, url, strlen(url));
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_SNAPSHOTS, mine);
                }
                for (; i < n && k < per_entry; i++)
                        if (memcmp(v[i]->controller->id, c->id, CN_UUID_BYTES) == 0) {
                                if (e)
                                        (void) cn_audit_event_id(e, CN_AUDIT_F_SNAPSHOT, v[i]->id);
                                k++;
                        }
                done += k;
                cli_audit(cli, c, e);
                if (k == 0)
                        break;
        }
        cli->rp = saved;
}

bool cli_from_option(Cli *src, int c, const char *arg) {
        switch (c) {
        case OPT_FROM_PASSWORD_FILE:
                src->password_file = arg;
                return true;
        case OPT_FROM_KEY_HINT:
                src->key_hint = arg;
                return true;
        case OPT_FROM_KEY_STORE:
                src->key_store = arg;
                return true;
        default:
                return false;
        }
}

bool cli_filter_option(CnSnapshotFilter *f, int c, const char *arg) {
        _cleanup_free_ char *path = NULL;
        int r;
        switch (c) {
        case OPT_FILTER_HOST:
                r = cn_snapshot_filter_add_host(f, arg);
                break;
        case OPT_FILTER_TAG:
                r = cn_snapshot_filter_add_tags(f, arg);
                break;
        case OPT_FILTER_PATH:
                /* As backup records it: absolute, cleaned. */
                r = cn_path_clean(arg, &path);
                if (r < 0 && r != -ENOMEM) {
                        cli_error("cannot make --path %s absolute: %s; give an absolute path", CLI_ESC(arg),
                                  strerror(-r));
                        exit(CLI_EXIT_USAGE);
                }
                if (r >= 0)
                        r = cn_snapshot_filter_add_path(f, path);
                break;
        default:
                return false;
        }
        if (r < 0) {
                cli_error("out of memory taking the snapshot filters");
                exit(CLI_EXIT_ERROR);
        }
        return true;
}

/* Append " --OPTION 'value'" (value escaped) to buf at *len. */
static void filter_text_add(char *buf, size_t size, size_t *len, const char *option, const char *value) {
        if (*len + 1 >= size)
                return;
        int k = snprintf(buf + *len, size - *len, "%s--%s '%s'", *len ? " " : "", option, CLI_ESC(value));
        *len = k < 0 ? size : CN_MIN(*len + (size_t) k, size - 1);
}

const char *cli_filter_text(const CnSnapshotFilter *f, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = 0;
        for (size_t i = 0; f && i < f->n_hosts; i++)
                filter_text_add(buf, size, &len, "host", f->hosts[i]);
        for (size_t i = 0; f && i < f->n_tag_lists; i++) {
                char tags[1024] = "";
                for (size_t j = 0, k = 0; j < f->tag_lists[i].n_tags && k + 1 < sizeof tags; j++)
                        k += (size_t) snprintf(tags + k, sizeof tags - k, "%s%s", j ? "," : "",
                                               f->tag_lists[i].tags[j]);
                filter_text_add(buf, size, &len, "tag", tags);
        }
        for (size_t i = 0; f && i < f->n_paths; i++)
                filter_text_add(buf, size, &len, "path", f->paths[i]);
        return buf;
}

int cli_load_snapshots(Cli *cli, CnController *c, CnSnapshot **ret, size_t *ret_n) {
        int r = cn_snapshot_list(cli->rp, c, cli_damaged, cli, ret, ret_n);
        if (r < 0)
                return cli_repo_error(cli, "cannot list snapshots", r);
        return 0;
}

CnSnapshot *cli_find_snapshot(CnSnapshot *list, size_t n, const char *spec) {
        CnSnapshot *s = NULL;
        int r = cn_snapshot_find(list, n, spec, &s);
        if (r == 1)
                return s;
        fputs("cairn: ", stderr);
        if (r > 1) {
                fprintf(stderr, "ambiguous: %d snapshots start with ", r);
                cli_print_escaped(stderr, spec, strlen(spec));
                fputs("; give more digits of the id ('cairn snapshots --json' shows them whole)\n", stderr);
        } else if (r == 0) {
                fputs("no snapshot ", stderr);
                cli_print_escaped(stderr, spec, strlen(spec));
                fputs("; 'cairn snapshots' lists them\n", stderr);
        } else {
                if (*spec)
                        cli_print_escaped(stderr, spec, strlen(spec));
                else
                        fputs("''", stderr);
                fputs(" is not a snapshot: give 'latest' or the first hex digits of an id "
                      "('cairn snapshots' lists them)\n",
                      stderr);
        }
        return NULL;
}

int cli_select_snapshot(Cli *cli, const char *spec, const CnSnapshotFilter *filter, CnSnapshot **list, size_t *n,
                        CnSnapshot **ret_snap) {
        CnSnapshot *s = NULL;
        int r;
        CnController *only = NULL;
        if (cli->controller && (r = cli_controller(cli, "", &only)) != 0)
                return r;
        /* 'latest' is the newest snapshot of one controller: never a guess among several. */
        if (strcmp(spec, "latest") == 0 && !only &&
            (r = cli_controller(cli, "'latest' means the newest snapshot of one of them", &only)) != 0)
                return r;
        r = cli_load_snapshots(cli, only, list, n);
        if (r != 0)
                return r;
        if (strcmp(spec, "latest") == 0) {
                s = cn_snapshot_latest(*list, *n, only, filter);
                if (!s && !cn_snapshot_filter_empty(filter)) {
                        char text[1024];
                        cli_error("no snapshot matches %s for 'latest' to name; 'cairn snapshots %s' lists "
                                  "those that do",
                                  cli_filter_text(filter, text, sizeof text), text);
                        return CLI_EXIT_ERROR;
                }
                if (!s) {
                        cli_error("no snapshot yet for 'latest' to name; 'cairn snapshots' lists them");
                        return CLI_EXIT_ERROR;
                }
        } else if (!(s = cli_find_snapshot(*list, *n, spec)))
                return CLI_EXIT_ERROR;
        *ret_snap = s;
        return 0;
}

int cli_break_glass(Cli *cli, const CnSnapshot *s) {
        if (!cli->break_glass || !*cli->break_glass) {
                /* an attempt on restricted data is accountable too */
                CnAuditEvent *e = cli_audit_event(CN_AUDIT_BREAK_GLASS, cli->verb ?: "read");
                if (e) {
                        cn_audit_event_set_outcome(e, CN_AUDIT_REFUSED);
                        (void) cn_audit_event_id(e, CN_AUDIT_F_SNAPSHOT, s->id);
                }
                cli_audit(cli, s->controller, e);
                cli_error("snapshot %.8s holds data an erasure request waits to erase (a legal hold defers it): "
                          "it is restricted; read it only for a stated purpose, with --break-glass PURPOSE, "
                          "which is logged",
                          s->id_hex);
                return CLI_EXIT_ERROR;
        }
        char who[CLI_USER_AT_HOST_MAX];
        openlog("cairn", LOG_PID, LOG_AUTHPRIV);
        syslog(LOG_NOTICE, "break-glass read of snapshot %s (controller %s) by %s: %s", s->id_hex,
               s->controller->id_hex, cli_user_at_host(who), cli->break_glass);
        closelog();
        cli_warn("break-glass read of restricted snapshot %.8s, logged (purpose: %s)", s->id_hex,
                 CLI_ESC(cli->break_glass));
        CnAuditEvent *e = NULL;
        if (cn_audit_event_new(CN_AUDIT_BREAK_GLASS, CN_AUDIT_OK, &e) >= 0) {
                (void) cn_audit_event_text(e, CN_AUDIT_F_ACTION, cli->verb ?: "read");
                (void) cn_audit_event_id(e, CN_AUDIT_F_SNAPSHOT, s->id);
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_TEXT, cli->break_glass, strlen(cli->break_glass));
        }
        cli_audit(cli, s->controller, e);
        return 0;
}

int cli_open_snapshot(Cli *cli, const char *spec, const CnSnapshotFilter *filter, CnSnapshot **list, size_t *n, const CnSnapshot **ret_snap,
                      CnStore **ret_store) {
        CnSnapshot *s = NULL;
        int r = cli_open(cli, true);
        if (r != 0)
                return r;
        r = cli_select_snapshot(cli, spec, filter, list, n, &s);
        if (r != 0)
                return r;
        r = cn_store_open_tolerant(cli->rp, s->controller, CN_STORE_KEYS, cli_damaged, cli, ret_store);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the index", r);
        /* What a deferred erasure reaches is restricted (docs/cli/erase.md). */
        bool restricted;
        r = cn_erase_restricted(cli->rp, *ret_store, s, &restricted);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the erasure requests", r);
        if (restricted && (r = cli_break_glass(cli, s)) != 0)
                return r;
        *ret_snap = s;
        return 0;
}

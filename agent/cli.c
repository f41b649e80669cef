/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "store.h"
#include "macro.h"

int cli_global_option(Cli *cli, int c, const char *arg) {
        switch (c) {
        case 'r':
                cli->repo = arg;
                return 1;
        case OPT_PASSWORD_FILE:
                cli->password_file = arg;
                return 1;
        case OPT_CONTROLLER:
                cli->controller = arg;
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

int cli_repo_error(Cli *cli, const char *what, int r) {
        const char *url = cli->backend ? cn_backend_url(cli->backend) : cli->repo;
        const char *detail = cn_backend_last_error();
        switch (r) {
        case -ENOENT:
                cli_error("%s: no cairn repository at %s; create one with 'cairn -r %s init'", what, url, url);
                return CLI_EXIT_NO_REPO;
        case -EKEYREJECTED:
                cli_error("%s: wrong password: no key of the repository at %s opens with it; check "
                          "CAIRN_PASSWORD or --password-file",
                          what, url);
                return CLI_EXIT_WRONG_PASSWORD;
        case -EPROTONOSUPPORT:
                cli_error("%s: the repository at %s uses a format version this cairn (%s) does not know; "
                          "upgrade cairn",
                          what, url, CAIRN_VERSION);
                return CLI_EXIT_ERROR;
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
                cli_error("%s: permission denied on %s%s%s; check the permissions of the repository "
                          "(and that you run cairn as the right user)",
                          what, url, detail && *detail ? ": " : "", detail ? detail : "");
                return CLI_EXIT_ERROR;
        case -EOPNOTSUPP:
                cli_error("%s: %s: this kind of repository URL is not supported by this build", what, url);
                return CLI_EXIT_ERROR;
        case -ENOKEY:
                cli_error("%s: the repository at %s has no data key for some data (key ledger missing); "
                          "run 'cairn check'",
                          what, url);
                return CLI_EXIT_ERROR;
        default:
                cli_error("%s: %s: %s%s%s", what, url, strerror(-r), detail && *detail ? ": " : "",
                          detail ? detail : "");
                return CLI_EXIT_ERROR;
        }
}

void cli_resolve(Cli *cli) {
        if (!cli->repo)
                cli->repo = default_repo();
        if (!cli->password_file) {
                const char *f = getenv("CAIRN_PASSWORD_FILE");
                if (f && *f)
                        cli->password_file = f;
        }
}

int cli_open(Cli *cli, bool unlock) {
        _cleanup_(cn_secret_freep) uint8_t *pw = NULL;
        size_t pw_len = 0;
        int r;

        cli_resolve(cli);
        r = cn_backend_open(cli->repo, false, &cli->backend);
        if (r < 0)
                return cli_repo_error(cli, "cannot open repository", r);
        if (!unlock)
                return 0;
        uint64_t size;
        r = cn_backend_stat(cli->backend, "config", &size);
        if (r < 0)
                return cli_repo_error(cli, "cannot open repository", r);
        r = cli_password(cli, false, (char **) &pw, &pw_len);
        if (r != 0)
                return r;
        r = cn_repo_open(cli->backend, (const char *) pw, pw_len, &cli->rp);
        if (r < 0)
                return cli_repo_error(cli, "cannot open repository", r);
        return 0;
}

void cli_close(Cli *cli) {
        cli->rp = cn_repo_unref(cli->rp);
        cli->backend = cn_backend_close(cli->backend);
}

CnController *cli_controller(Cli *cli) {
        if (!cli->controller)
                return cn_repo_controller(cli->rp, 0);
        CnController *c = cn_repo_find_controller(cli->rp, cli->controller);
        if (!c)
                cli_error("no controller '%s' in %s (names and ids: 'cairn snapshots --json' shows them)",
                          cli->controller, cn_backend_url(cli->backend));
        return c;
}

int cli_load_snapshots(Cli *cli, CnController *c, CnSnapshot **ret, size_t *ret_n) {
        size_t damaged = 0;
        int r = cn_snapshot_list(cli->rp, c, ret, ret_n, &damaged);
        if (r < 0)
                return cli_repo_error(cli, "cannot list snapshots", r);
        if (damaged)
                cli_warn("%zu snapshot file(s) failed authentication and were skipped; run 'cairn check'",
                         damaged);
        return 0;
}

int cli_open_snapshot(Cli *cli, const char *spec, CnSnapshot **list, size_t *n, const CnSnapshot **ret_snap,
                      CnStore **ret_store) {
        const CnSnapshot *s = NULL;
        int r = cli_open(cli, true);
        if (r != 0)
                return r;
        CnController *only = NULL;
        if (cli->controller && !(only = cli_controller(cli)))
                return CLI_EXIT_ERROR;
        r = cli_load_snapshots(cli, only, list, n);
        if (r != 0)
                return r;
        if (strcmp(spec, "latest") == 0) {
                CnController *c = only ? only : cn_repo_controller(cli->rp, 0);
                for (size_t i = *n; i > 0 && !s; i--)
                        if ((*list)[i - 1].controller == c)
                                s = &(*list)[i - 1];
        } else
                s = cn_snapshot_find(*list, *n, spec);
        if (!s) {
                cli_error("no snapshot '%s' (or more than one matches); 'cairn snapshots' lists them", spec);
                return CLI_EXIT_ERROR;
        }
        r = cn_store_open(cli->rp, s->controller, CN_STORE_KEYS, ret_store);
        if (r < 0)
                return cli_repo_error(cli, "cannot read the index", r);
        *ret_snap = s;
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* export: every version of every file of a controller, a data subject or a
 * path pattern in one archive with a signed manifest; export verify: check
 * one (docs/cli/export.md). The work is core/export's; here are the flags,
 * the output file, the messages and the audit entry. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"
#include "fileio.h"
#include "hex.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] export (--controller C | --subject S | --path PATTERN) -o FILE\n"
              "                          [--format pax|zip] [--snapshot ID ...] [--break-glass PURPOSE]\n"
              "       cairn [-r REPO] export verify FILE [--public-key HEX]\n"
              "\n"
              "Write every version of every file in scope into one archive: the files of each\n"
              "snapshot under files/<snapshot time>/<path> with their metadata, then\n"
              "manifest.json (each file with its size and SHA-256, the audit log's events on\n"
              "the scope, holds, an audit anchor) and manifest.sig, the processor's signature\n"
              "of the manifest. The answer to an access or portability request.\n"
              "\n"
              "      --controller C      everything of controller C (a global option: with\n"
              "                          --subject or --path it names whose data to look in)\n"
              "      --subject S         the entries tagged with data subject S, and the\n"
              "                          directories above them\n"
              "      --path PATTERN      the entries PATTERN matches (the syntax of erase --path),\n"
              "                          what is below them, and the directories above them\n"
              "  -o, --output FILE       the archive to write (must not exist)\n"
              "      --format pax|zip    pax (POSIX tar, every piece of metadata; default) or zip\n"
              "      --snapshot ID       only this snapshot (repeatable; an id prefix or latest)\n"
              "      --break-glass WHY   export snapshots a deferred erasure restricts (logged)\n"
              "      --json              the result as one JSON object\n"
              "\n"
              "verify: check the signature (with this repository's processor key, or\n"
              "--public-key HEX without a repository), each file's size and SHA-256 against\n"
              "the manifest, and that the archive holds nothing else. Exit 0 valid, 1 not.\n"
              "\n"
              "On success the SHA-256 of manifest.json is printed: 'cairn request close ID\n"
              "--export DIGEST' records the answer to a request with it.\n",
              stdout);
}

typedef struct Run {
        Cli *cli;
        char refused[CN_ID_HEX + 1]; /* a restricted snapshot, refused ("" none) */
        uint64_t warnings;
} Run;

static int on_restricted(const CnSnapshot *s, void *u) {
        Run *run = u;
        if (cli_break_glass(run->cli, s) != 0) {
                snprintf(run->refused, sizeof run->refused, "%s", s->id_hex);
                return -EACCES;
        }
        return 0;
}

static void on_warn(const CnSnapshot *s, const char *path, int error, void *u) {
        Run *run = u;
        run->warnings++;
        cli_warn("snapshot %.8s: %s: its entry does not match its stored data (the file changed while it was "
                 "backed up); exported as it was stored, as restore gives it",
                 s->id_hex, CLI_ESC(path));
        (void) error;
}

static void damaged(const char *name, int error, void *u) {
        cli_damaged(name, error, ((Run *) u)->cli);
}

/* The audit entry of an export (or of a refused or failed one). */
static void audit_export(Cli *cli, CnController *c, const CnExportOptions *o, CnAuditOutcome outcome,
                         const CnExportResult *res) {
        static const char *const scopes[] = {
                [CN_ERASE_CONTROLLER] = "controller", [CN_ERASE_SUBJECT] = "subject", [CN_ERASE_PATH] = "path"};
        CnAuditEvent *e = cli_audit_event(CN_AUDIT_EXPORT, o->archive == CN_EXPORT_PAX ? "pax" : "zip");
        if (e) {
                cn_audit_event_set_outcome(e, outcome);
                (void) cn_audit_event_text(e, CN_AUDIT_F_SCOPE, scopes[o->scope]);
                if (o->scope == CN_ERASE_CONTROLLER)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_NAME, c->name, strlen(c->name));
                else
                        (void) cn_audit_event_pseudonym(
                                e, o->scope == CN_ERASE_SUBJECT ? CN_AUDIT_F_SUBJECT : CN_AUDIT_F_PATH, o->value,
                                strlen(o->value));
                if (res) {
                        (void) cn_audit_event_id(e, CN_AUDIT_F_DIGEST, res->digest);
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_FILES, res->files);
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_BYTES, res->bytes);
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_SNAPSHOTS, res->snapshots);
                }
        }
        cli_audit(cli, c, e);
}

/* The output: a new file beside FILE with no name (O_TMPFILE), linked as
 * FILE only when the export is complete, never over an existing file; a
 * run that fails, or is killed, leaves nothing. Where O_TMPFILE is not
 * supported, a temporary name that a failure removes. */
typedef struct Output {
        char *dir;
        const char *base;
        int dirfd;
        char tmp[64];                   /* "" with O_TMPFILE */
        int fd;
} Output;

static int output_open(const char *path, Output *out) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy || !(out->dir = strdup(dirname(copy))))
                return -ENOMEM;
        out->base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        out->dirfd = open(out->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (out->dirfd < 0)
                return -errno;
        out->fd = openat(out->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (out->fd >= 0)
                return 0;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
                return -errno;
        for (int tries = 0;; tries++) {
                uint32_t rnd;
                cn_random(&rnd, sizeof rnd);
                snprintf(out->tmp, sizeof out->tmp, ".cairn-export-%08x", rnd);
                out->fd = openat(out->dirfd, out->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out->fd >= 0)
                        return 0;
                if (errno != EEXIST || tries > 16)
                        return -errno;
        }
}

static int output_finish(Output *out) {
        int r;
        if (fsync(out->fd) < 0)
                return -errno;
        /* a link fails on an existing name: an export never replaces a file */
        if (out->tmp[0])
                r = linkat(out->dirfd, out->tmp, out->dirfd, out->base, 0) < 0 ? -errno : 0;
        else
                r = cn_link_fd(out->fd, out->dirfd, out->base);
        if (r < 0)
                return r;
        if (out->tmp[0])
                (void) unlinkat(out->dirfd, out->tmp, 0);
        out->tmp[0] = 0;
        return fsync(out->dirfd) < 0 ? -errno : 0;
}

static void output_done(Output *out) {
        if (out->fd >= 0)
                close(out->fd);
        if (out->tmp[0] && out->dirfd >= 0)
                (void) unlinkat(out->dirfd, out->tmp, 0);
        if (out->dirfd >= 0)
                close(out->dirfd);
        free(out->dir);
}

static int report(Cli *cli, const char *path, const CnExportOptions *o, const CnExportResult *res) {
        char digest[CN_ID_HEX + 1], sz[32];
        cn_hex_encode(res->digest, CN_ID_BYTES, digest);
        if (cli->json)
                return cli_json_print(json_pack(
                        "{s:o, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "output", cli_json_text(path),
                        "format", o->archive == CN_EXPORT_PAX ? "pax" : "zip", "empty", res->empty, "snapshots",
                        (json_int_t) res->snapshots, "entries", (json_int_t) res->entries, "files",
                        (json_int_t) res->files, "bytes", (json_int_t) res->bytes, "events", (json_int_t) res->events,
                        "holds", (json_int_t) res->holds, "restricted", (json_int_t) res->restricted, "digest",
                        digest));
        if (res->empty)
                cli_info(cli, "nothing in scope: %s holds an empty, signed manifest\n", CLI_ESC(path));
        else
                cli_info(cli, "exported %" PRIu64 " snapshot%s: %" PRIu64 " entries, %" PRIu64 " files (%s) to %s\n",
                         res->snapshots, res->snapshots == 1 ? "" : "s", res->entries, res->files,
                         cli_size(res->bytes, sz), CLI_ESC(path));
        /* the one line a script takes: the manifest's digest */
        printf("%s\n", digest);
        return CLI_EXIT_OK;
}

static int export_write(Cli *cli, CnExportOptions *o, const char *path, char **specs, size_t n_specs) {
        _cleanup_free_ uint8_t(*ids)[CN_ID_BYTES] = NULL;
        CnSnapshot *list = NULL;
        size_t n_list = 0;
        CnController *c = NULL;
        Output out = {.dirfd = -1, .fd = -1};
        Run run = {.cli = cli};
        CnExportResult res;
        int r, ret = CLI_EXIT_ERROR;

        if ((r = cli_open(cli, true)) != 0)
                return r;
        if ((r = cli_controller(cli, "an export is of one controller's data", &c)) != 0)
                return r;
        if (n_specs) {
                if ((r = cli_load_snapshots(cli, c, &list, &n_list)) != 0)
                        return r;
                if (!(ids = calloc(n_specs, sizeof *ids))) {
                        cli_error("out of memory");
                        goto out;
                }
                for (size_t i = 0; i < n_specs; i++) {
                        CnSnapshot *s = cli_find_snapshot(list, n_list, specs[i]);
                        if (!s)
                                goto out;
                        memcpy(ids[i], s->id, CN_ID_BYTES);
                }
                o->snapshots = (const uint8_t(*)[CN_ID_BYTES]) ids;
                o->n_snapshots = n_specs;
        }
        if (faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                cli_error("%s exists: an export never replaces a file; remove it or name another", CLI_ESC(path));
                goto out;
        }
        if ((r = output_open(path, &out)) < 0) {
                cli_error("cannot make the export file %s: %s", CLI_ESC(path), strerror(-r));
                goto out;
        }
        o->restricted = on_restricted;
        o->warn = on_warn;
        o->damaged = damaged;
        o->userdata = &run;
        o->tmp_dirfd = out.dirfd;
        o->break_glass = cli->break_glass;
        r = cn_export(cli->rp, c, o, out.fd, &res);
        if (r >= 0 && (r = output_finish(&out)) < 0) {
                cli_error("cannot put the export at %s: %s", CLI_ESC(path), strerror(-r));
                audit_export(cli, c, o, CN_AUDIT_FAILED, NULL);
                goto out;
        }
        if (r == -EACCES && run.refused[0]) {
                cli_error("nothing was exported: snapshot %.8s is restricted (said above); an export that must "
                          "include it (an access request of the subject whose erasure waits) states its "
                          "purpose with --break-glass PURPOSE",
                          run.refused);
                audit_export(cli, c, o, CN_AUDIT_REFUSED, NULL);
                goto out;
        }
        if (r < 0 && res.output_failed) {
                cli_error("cannot write the export to %s: %s; nothing was written", CLI_ESC(path), strerror(-r));
                audit_export(cli, c, o, CN_AUDIT_FAILED, NULL);
                goto out;
        }
        if (r == -EBADMSG || r == -ENOENT || r == -ENOKEY) {
                cli_error("export of controller %s stopped: a file's data in the repository does not open or is "
                          "missing (%s); nothing was written to %s; 'cairn check --read-data' names it",
                          CLI_ESC(c->name), strerror(-r), CLI_ESC(path));
                audit_export(cli, c, o, CN_AUDIT_FAILED, NULL);
                goto out;
        }
        if (r < 0) {
                audit_export(cli, c, o, CN_AUDIT_FAILED, NULL);
                ret = cli_repo_error(cli, "export failed (nothing was written)", r);
                goto out;
        }
        audit_export(cli, c, o, CN_AUDIT_OK, &res);
        ret = report(cli, path, o, &res);
out:
        output_done(&out);
        cn_snapshots_free(list, n_list);
        return ret;
}

/* ---- verify ---- */

typedef struct VerifyRun {
        Cli *cli;
        json_t *problems; /* --json */
} VerifyRun;

static void on_problem(const char *entry, const char *why, void *u) {
        VerifyRun *v = u;
        if (v->problems) {
                json_array_append_new(v->problems, json_pack("{s:o, s:s}", "entry",
                                                             entry ? cli_json_text(entry) : json_null(), "why", why));
                return;
        }
        if (entry)
                cli_error("export verify: %s: %s", CLI_ESC(entry), why);
        else
                cli_error("export verify: %s", why);
}

static int export_verify(Cli *cli, const char *file, const char *public_key) {
        uint8_t pk[CN_SIGN_PUBLIC_BYTES];
        VerifyRun v = {.cli = cli};
        CnExportVerifyResult res;
        int r;

        if (public_key) {
                if (strlen(public_key) != 2 * CN_SIGN_PUBLIC_BYTES || cn_hex_decode(public_key, pk, sizeof pk) < 0)
                        return cli_usage_error("export", "--public-key takes the processor's Ed25519 public key: "
                                                         "64 hex digits ('cairn processor show' prints it)");
        } else {
                if ((r = cli_open(cli, true)) != 0)
                        return r;
                memcpy(pk, cn_repo_processor_public_key(cli->rp), sizeof pk);
        }
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                cli_error("cannot open %s: %s", CLI_ESC(file), strerror(errno));
                return CLI_EXIT_ERROR;
        }
        if (cli->json && !(v.problems = json_array())) {
                cli_error("out of memory");
                return CLI_EXIT_ERROR;
        }
        r = cn_export_verify(fd, pk, -1, on_problem, &v, &res);
        if (r < 0 && r != -EBADMSG) {
                json_decref(v.problems);
                cli_error("cannot verify %s: %s", CLI_ESC(file), strerror(-r));
                return CLI_EXIT_ERROR;
        }
        char digest[CN_ID_HEX + 1];
        cn_hex_encode(res.digest, CN_ID_BYTES, digest);
        if (cli->json) {
                int k = cli_json_print(json_pack("{s:b, s:o, s:I, s:I, s:I, s:b, s:s}", "valid", r == 0, "problems",
                                                 v.problems, "entries", (json_int_t) res.entries, "bytes",
                                                 (json_int_t) res.bytes, "records", (json_int_t) res.records, "empty",
                                                 res.empty, "digest", digest));
                return k != 0 ? k : r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        }
        if (r < 0) {
                cli_error("%s is not a valid export: %" PRIu64 " problem%s (listed above)", CLI_ESC(file), res.problems,
                          res.problems == 1 ? "" : "s");
                return CLI_EXIT_ERROR;
        }
        char sz[32];
        cli_info(cli, "%s: valid, signed by %s: %" PRIu64 " entries (%s), all as the manifest says%s\n", CLI_ESC(file),
                 public_key ? "the key given" : "this repository's processor", res.entries, cli_size(res.bytes, sz),
                 res.empty ? "; nothing in scope (empty)" : "");
        printf("%s\n", digest);
        return CLI_EXIT_OK;
}

int verb_export(Cli *cli, int argc, char **argv) {
        enum { OPT_SUBJECT = _OPT_GLOBAL_MAX, OPT_PATH, OPT_FORMAT, OPT_SNAPSHOT, OPT_PUBLIC_KEY };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {"subject", required_argument, NULL, OPT_SUBJECT},
                {"path", required_argument, NULL, OPT_PATH},
                {"output", required_argument, NULL, 'o'},
                {"format", required_argument, NULL, OPT_FORMAT},
                {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
                {"public-key", required_argument, NULL, OPT_PUBLIC_KEY},
                {},
        };
        CnExportOptions o = {.scope = CN_ERASE_CONTROLLER, .archive = CN_EXPORT_PAX, .tmp_dirfd = -1};
        _cleanup_free_ char **specs = NULL;
        size_t n_specs = 0, scopes = 0;
        const char *output = NULL, *public_key = NULL;
        int c;

        if (!(specs = calloc((size_t) argc, sizeof *specs))) {
                cli_error("out of memory");
                return CLI_EXIT_ERROR;
        }
        while ((c = cli_next_option(cli, argc, argv, "o:" CLI_GLOBAL_SHORT, opts)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return CLI_EXIT_OK;
                case OPT_SUBJECT:
                        o.scope = CN_ERASE_SUBJECT, o.value = optarg, scopes++;
                        break;
                case OPT_PATH:
                        o.scope = CN_ERASE_PATH, o.value = optarg, scopes++;
                        break;
                case 'o':
                        output = optarg;
                        break;
                case OPT_FORMAT:
                        if (strcmp(optarg, "pax") == 0)
                                o.archive = CN_EXPORT_PAX;
                        else if (strcmp(optarg, "zip") == 0)
                                o.archive = CN_EXPORT_ZIP;
                        else
                                return cli_usage_error("export", "--format is pax or zip, not %s", CLI_ESC(optarg));
                        break;
                case OPT_SNAPSHOT:
                        specs[n_specs++] = optarg;
                        break;
                case OPT_PUBLIC_KEY:
                        public_key = optarg;
                        break;
                default:
                        return cli_usage_error("export", "unknown option");
                }
        }
        if (optind < argc && strcmp(argv[optind], "verify") == 0) {
                if (scopes || output || n_specs || optind + 2 != argc)
                        return cli_usage_error("export", "export verify takes one FILE and --public-key HEX");
                return export_verify(cli, argv[optind + 1], public_key);
        }
        if (optind < argc)
                return cli_usage_error("export", "export takes no arguments (did you mean 'export verify FILE'?)");
        if (public_key)
                return cli_usage_error("export", "--public-key is for 'export verify'");
        if (scopes > 1)
                return cli_usage_error("export", "give one of --subject and --path (or --controller alone)");
        if (scopes == 0 && !cli->controller)
                return cli_usage_error("export", "export what? --subject S, --path PATTERN, or --controller C for "
                                                 "everything of a controller");
        if (!output || !*output)
                return cli_usage_error("export", "-o FILE is required: the archive to write");
        if (o.scope == CN_ERASE_PATH && o.value[0] != '/')
                return cli_usage_error("export", "--path takes an absolute pattern (starting with /)");
        if (o.scope == CN_ERASE_PATH && !cli_path_pattern_plain(o.value))
                return cli_usage_error("export", "--path: a pattern with an empty, '.' or '..' component matches no "
                                                 "path a snapshot holds; write it as 'cairn ls' shows paths");
        if (o.scope == CN_ERASE_SUBJECT && !cn_subject_valid(o.value, strlen(o.value)))
                return cli_usage_error("export", "a subject is 1 to 256 bytes without '/'");
        return export_write(cli, &o, output, specs, n_specs);
}

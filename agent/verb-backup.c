/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "cli.h"
#include "session.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] backup [OPTIONS] PATH...\n"
              "       cairn [-r REPO] backup --stdin [--stdin-filename NAME] < STREAM\n"
              "\n"
              "Back up files and directories (with all their metadata) into a new snapshot.\n"
              "Files unchanged since the last snapshot of the same host and paths are not read again.\n"
              "\n"
              "  -e, --exclude PATTERN     skip matching entries (repeatable; see docs/cli/backup.md)\n"
              "      --exclude-file F      read exclude patterns from F, one a line\n"
              "  -x, --one-file-system     do not cross into other file systems\n"
              "      --exclude-nodump      skip files and directories flagged nodump (chattr +d)\n"
              "      --subject-rule PATTERN\n"
              "                            tag entries with the data subject that PATTERN's {subject}\n"
              "                            component captures, e.g. '/home/{subject}/**' (repeatable)\n"
              "      --subject S           tag every entry with the data subject S (repeatable)\n"
              "      --tag TAG             tag the snapshot (repeatable)\n"
              "      --host NAME           record NAME as the host (default: this host's name)\n"
              "      --stdin               back up standard input as one file\n"
              "      --stdin-filename NAME its name in the snapshot (default: stdin)\n"
              "      --parent ID           compare against this snapshot instead of the latest\n"
              "      --force               read every file again, ignoring the parent snapshot, and\n"
              "                            read back every stored chunk reused (a damaged one is stored again)\n"
              "      --compression LEVEL   zstd level, 1 (fastest) to 19 (smallest); default 3\n"
              "\n"
              "Exit 0: done; 3: snapshot saved but some entries could not be read, or changed while\n"
              "read (listed on stderr and recorded in the snapshot), or were stored without a data\n"
              "subject their path gives (listed on stderr); 1: nothing was saved; 4: refused by\n"
              "the location gate (docs/cli/location.md), nothing was saved.\n",
              stdout);
}

typedef struct Warnings {
        uint64_t n;
        uint64_t changed;               /* of n: files stored as read while they changed */
        uint64_t untagged;              /* of n: entries stored without a subject the rules give */
        bool quiet;
} Warnings;

static void on_error(const char *path, int error, void *u) {
        Warnings *w = u;
        w->n++;
        fputs("cairn: warning: ", stderr);
        cli_print_escaped(stderr, path, strlen(path));
        if (error == CN_BACKUP_CHANGED) {
                w->changed++;
                fputs(": changed while it was read; stored as it was read, which need not be one state of "
                      "the file (back it up again when it is quiet)\n",
                      stderr);
        } else if (error == CN_BACKUP_SUBJECT) {
                w->untagged++;
                fputs(": stored without a data subject its path gives: the component a --subject-rule "
                      "captured is longer than 256 bytes, or the entry has more than 64 subjects (tag it with "
                      "--subject, or shorten the rule's reach)\n",
                      stderr);
        } else if (error == EFBIG)
                fputs(": its metadata (extended attributes) is larger than a snapshot entry can hold (skipped)\n",
                      stderr);
        else if (error == ESTALE)
                fputs(": replaced or moved while it was read; what was read of it is kept, the rest was skipped\n",
                      stderr);
        else if (error == E2BIG)
                fputs(": more entries in one directory than a snapshot can hold (16777216); the rest of the "
                      "directory was skipped\n",
                      stderr);
        else
                fprintf(stderr, ": %s (skipped)\n", strerror(error));
}

static int add_strv(char ***v, size_t *n, const char *s) {
        char **a = realloc(*v, (*n + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        *v = a;
        if (!(a[*n] = strdup(s)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* The audit entry of a backup: its outcome, snapshot and counts, the
 * paths it read (pseudonyms) and the host it names. */
static void audit(Cli *cli, CnController *ctl, const CnBackupOptions *o, int r, const CnSnapshot *snap) {
        CnAuditEvent *e = NULL;
        if (cn_audit_event_new(CN_AUDIT_BACKUP, r < 0 ? CN_AUDIT_FAILED : CN_AUDIT_OK, &e) >= 0) {
                if (r >= 0) {
                        (void) cn_audit_event_id(e, CN_AUDIT_F_SNAPSHOT, snap->id);
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_FILES, snap->files);
                        (void) cn_audit_event_u64(e, CN_AUDIT_F_BYTES, snap->bytes);
                }
                (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_NAME, o->hostname, strlen(o->hostname));
                if (o->stdin_fd >= 0)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_PATH, o->stdin_filename,
                                                        strlen(o->stdin_filename));
                for (size_t i = 0; i < o->n_paths; i++)
                        (void) cn_audit_event_pseudonym(e, CN_AUDIT_F_PATH, o->paths[i], strlen(o->paths[i]));
        }
        cli_audit(cli, ctl, e);
}

int verb_backup(Cli *cli, int argc, char **argv) {
        enum { OPT_EXCLUDE_FILE = _OPT_GLOBAL_MAX, OPT_TAG, OPT_HOST, OPT_STDIN, OPT_STDIN_NAME, OPT_PARENT, OPT_FORCE, OPT_COMPRESSION, OPT_EXCLUDE_NODUMP, OPT_SUBJECT_RULE, OPT_SUBJECT };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                { "exclude", required_argument, NULL, 'e' },
                { "exclude-file", required_argument, NULL, OPT_EXCLUDE_FILE },
                { "one-file-system", no_argument, NULL, 'x' },
                { "exclude-nodump", no_argument, NULL, OPT_EXCLUDE_NODUMP },
                { "subject-rule", required_argument, NULL, OPT_SUBJECT_RULE },
                { "subject", required_argument, NULL, OPT_SUBJECT },
                { "tag", required_argument, NULL, OPT_TAG },
                { "host", required_argument, NULL, OPT_HOST },
                { "stdin", no_argument, NULL, OPT_STDIN },
                { "stdin-filename", required_argument, NULL, OPT_STDIN_NAME },
                { "parent", required_argument, NULL, OPT_PARENT },
                { "force", no_argument, NULL, OPT_FORCE },
                { "compression", required_argument, NULL, OPT_COMPRESSION },
                {},
        };
        CnPatterns excludes = {};
        _cleanup_(cn_subject_rules_freep) CnSubjectRules *subjects = NULL;
        char **paths = NULL, **tags = NULL;
        size_t n_paths = 0, n_tags = 0;
        CnSnapshot *list = NULL, snap = {};
        size_t n_list = 0;
        const char *host = NULL, *stdin_name = "stdin", *parent_id = NULL;
        char hostbuf[256] = "";
        bool use_stdin = false, force = false, one_fs = false, no_nodump = false;
        int level = 0;
        Warnings w = {};
        int c, r, ret = CLI_EXIT_ERROR;

        if (cn_subject_rules_new(&subjects) < 0) {
                cli_error("cannot set up data subjects: %s", strerror(ENOMEM));
                goto out;
        }
        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT "e:x", opts)) >= 0) {
                if (c == 'h') {
                        help();
                        ret = CLI_EXIT_OK;
                        goto out;
                }
                switch (c) {
                case OPT_SUBJECT_RULE: {
                        const char *why;
                        r = cn_subject_rules_add_rule(subjects, optarg, &why);
                        if (r == -EINVAL) {
                                ret = cli_usage_error("backup", "--subject-rule %s: %s; a rule is an absolute "
                                                      "pattern with one component {subject}, as "
                                                      "'/home/{subject}/**'",
                                                      CLI_ESC(optarg), why);
                                goto out;
                        }
                        if (r < 0) {
                                cli_error("cannot add --subject-rule %s: %s", CLI_ESC(optarg), strerror(-r));
                                goto out;
                        }
                        break;
                }
                case OPT_SUBJECT:
                        r = cn_subject_rules_add_subject(subjects, optarg);
                        if (r == -EINVAL) {
                                ret = cli_usage_error("backup", "--subject %s: a data subject is 1 to %d bytes "
                                                      "without '/'",
                                                      CLI_ESC(optarg), CN_MAX_SUBJECT_BYTES);
                                goto out;
                        }
                        if (r == -E2BIG) {
                                ret = cli_usage_error("backup", "more than %d --subject: an entry holds at most "
                                                      "%d data subjects",
                                                      CN_MAX_SUBJECTS, CN_MAX_SUBJECTS);
                                goto out;
                        }
                        if (r < 0) {
                                cli_error("cannot add --subject %s: %s", CLI_ESC(optarg), strerror(-r));
                                goto out;
                        }
                        break;
                case 'e':
                        if (cn_patterns_add(&excludes, optarg) < 0) {
                                ret = cli_usage_error("backup", "empty exclude pattern");
                                goto out;
                        }
                        break;
                case OPT_EXCLUDE_FILE: {
                        size_t line = 0;
                        r = cn_patterns_add_file(&excludes, optarg, &line);
                        if (r < 0) {
                                if (line)
                                        cli_error("exclude file %s, line %zu: pattern too long or empty", CLI_ESC(optarg), line);
                                else
                                        cli_error("cannot read exclude file %s: %s", CLI_ESC(optarg), strerror(-r));
                                goto out;
                        }
                        break;
                }
                case 'x':
                        one_fs = true;
                        break;
                case OPT_EXCLUDE_NODUMP:
                        no_nodump = true;
                        break;
                case OPT_TAG:
                        if (add_strv(&tags, &n_tags, optarg) < 0)
                                goto out;
                        break;
                case OPT_HOST:
                        host = optarg;
                        break;
                case OPT_STDIN:
                        use_stdin = true;
                        break;
                case OPT_STDIN_NAME:
                        stdin_name = optarg;
                        break;
                case OPT_PARENT:
                        parent_id = optarg;
                        break;
                case OPT_FORCE:
                        force = true;
                        break;
                case OPT_COMPRESSION: {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 1 || v > 19) {
                                ret = cli_usage_error("backup", "--compression takes a level from 1 to 19");
                                goto out;
                        }
                        level = (int) v;
                        break;
                }
                default:
                        ret = cli_usage_error("backup", "unknown option");
                        goto out;
                }
        }
        if (use_stdin) {
                if (optind < argc) {
                        ret = cli_usage_error("backup", "--stdin takes no paths");
                        goto out;
                }
                if (!*stdin_name || strchr(stdin_name, '/') || strcmp(stdin_name, ".") == 0 ||
                    strcmp(stdin_name, "..") == 0) {
                        ret = cli_usage_error("backup", "--stdin-filename must be a plain file name");
                        goto out;
                }
        } else if (optind >= argc) {
                ret = cli_usage_error("backup", "nothing to back up: give one or more paths, or --stdin");
                goto out;
        }
        /* A path that is missing is recorded in the snapshot (partial) by the
         * backup itself; only when none exists is there nothing to do. */
        size_t n_present = 0;
        for (int i = optind; i < argc; i++)
                if (!*argv[i]) {
                        ret = cli_usage_error("backup", "an empty path names nothing; give '.' to back up the "
                                                        "current directory");
                        goto out;
                }
        for (int i = optind; i < argc; i++) {
                char *p;
                struct stat st;
                r = cn_path_clean(argv[i], &p);
                if (r < 0) {
                        cli_error("cannot make the path %s absolute: %s", CLI_ESC(argv[i]), strerror(-r));
                        goto out;
                }
                if (strlen(p) >= PATH_MAX) {
                        free(p);
                        ret = cli_usage_error("backup", "a path to back up is longer than PATH_MAX (4096 bytes); "
                                                        "back up a directory above it");
                        goto out;
                }
                if (lstat(p, &st) >= 0)
                        n_present++;

                char **a = realloc(paths, (n_paths + 1) * sizeof *a);
                if (!a) {
                        free(p);
                        cli_error("cannot list the paths to back up: %s", strerror(ENOMEM));
                        goto out;
                }
                paths = a;
                paths[n_paths++] = p;
        }
        if (!use_stdin && n_present == 0) {
                for (size_t i = 0; i < n_paths; i++) {
                        fputs("cairn: ", stderr);
                        cli_print_escaped(stderr, paths[i], strlen(paths[i]));
                        fputs(": no such file or directory\n", stderr);
                }
                cli_error("none of the paths to back up exists; nothing was saved");
                goto out;
        }
        if (!host) {
                gethostname(hostbuf, sizeof hostbuf - 1);
                host = hostbuf;
        }

        r = cli_open(cli, true);
        if (r != 0) {
                ret = r;
                goto out;
        }
        /* What killed writers left behind, before this one adds its own. */
        (void) cn_backend_reap(cli->backend);
        /* Never back up the repository into itself. */
        const char *local = cn_backend_local_path(cli->backend);
        if (local && strcmp(local, "/") != 0 && (r = cn_patterns_add_literal(&excludes, local)) < 0) {
                cli_error("cannot exclude the repository %s from the backup: %s", CLI_ESC(local), strerror(-r));
                goto out;
        }
        CnController *ctl;
        r = cli_controller(cli, "a backup stores its data for one of them", &ctl);
        if (r != 0) {
                ret = r;
                goto out;
        }
        /* Nor its key store: an old copy of it, kept in a backup, would
         * bring back keys an erasure destroyed (docs/PRIVACY.md). */
        for (size_t i = 0; ctl->format == 2 && i < ctl->ks->n_locations; i++) {
                const char *ks = ctl->ks->locations[i];
                if (strncmp(ks, "local:", 6) == 0)
                        ks += 6;
                if (ks[0] == '/' && strcmp(ks, "/") != 0 && (r = cn_patterns_add_literal(&excludes, ks)) < 0) {
                        cli_error("cannot exclude the key store %s from the backup: %s", CLI_ESC(ks), strerror(-r));
                        goto out;
                }
        }
        r = cli_load_snapshots(cli, ctl, &list, &n_list);
        if (r != 0) {
                ret = r;
                goto out;
        }
        const CnSnapshot *parent = NULL;
        if (parent_id) {
                parent = cli_find_snapshot(list, n_list, parent_id);
                if (!parent)
                        goto out;
        } else if (!force && !use_stdin)
                parent = cn_backup_find_parent(list, n_list, host, paths, n_paths);

        struct passwd *pw = getpwuid(geteuid());
        CnLocationRefusal refusal = {};
        CnBackupOptions o = {
                .paths = paths,
                .n_paths = n_paths,
                .excludes = &excludes,
                .subjects = subjects,
                .one_file_system = one_fs,
                .exclude_nodump = no_nodump,
                .compression_level = level,
                .tags = tags,
                .n_tags = n_tags,
                .hostname = host,
                .username = pw ? pw->pw_name : "",
                .stdin_fd = use_stdin ? STDIN_FILENO : -1,
                .stdin_filename = stdin_name,
                .parent = parent,
                .verify_existing = force,
                .on_error = on_error,
                .on_damaged = cli_damaged,
                .refusal = &refusal,
                .userdata = &w,
        };
        r = cn_backup_run(cli->rp, ctl, &o, &snap);
        if (r == -EPERM) {
                ret = cli_location_refused(cli, CN_AUDIT_BACKUP, "backup", "no snapshot was saved", &refusal,
                                           cn_backend_url(cli->backend));
                goto out;
        }
        audit(cli, ctl, &o, r, &snap);
        if (r == -ESTALE) {
                cli_error("backup stopped for longer than %d hours, so a prune took it for a dead one and may "
                          "have deleted data it reuses: no snapshot was saved; run the backup again (what it "
                          "stored is reused)",
                          CN_SESSION_STALE_SEC / 3600);
                ret = CLI_EXIT_ERROR;
                goto out;
        }
        if (r == -EBUSY) {
                cli_error("an erasure of controller %s runs now, and no backup of it starts while it runs: no "
                          "snapshot was saved; run the backup again when the erasure ends",
                          CLI_ESC(ctl->name));
                ret = CLI_EXIT_ERROR;
                goto out;
        }
        if (r < 0) {
                ret = cli_repo_error(cli, "backup failed, no snapshot was saved", r);
                goto out;
        }
        char a[32], b[32];
        if (cli->json) {
                printf("{\"snapshot\":\"%s\",\"controller\":\"%s\",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64
                       ",\"others\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"blobs_new\":%" PRIu64
                       ",\"stored_bytes_new\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"seconds\":%.3f}\n",
                       snap.id_hex, ctl->id_hex, snap.files, snap.dirs, snap.others, snap.bytes, snap.blobs_new,
                       snap.stored_bytes_new, w.n, (double) snap.duration_ns / 1e9);
        } else
                cli_info(cli,
                         "snapshot %.8s saved: %" PRIu64 " files, %" PRIu64 " dirs, %" PRIu64
                         " others, %s in %.2f s; %s new data stored%s\n",
                         snap.id_hex, snap.files, snap.dirs, snap.others, cli_size(snap.bytes, a),
                         (double) snap.duration_ns / 1e9, cli_size(snap.stored_bytes_new, b),
                         parent ? "" : " (no parent snapshot: every file read)");
        if (w.n) {
                uint64_t unread = w.n - w.changed - w.untagged;
                if (unread)
                        cli_warn("%" PRIu64 " entr%s could not be read and %s not in snapshot %.8s", unread,
                                 unread == 1 ? "y" : "ies", unread == 1 ? "is" : "are", snap.id_hex);
                if (w.changed)
                        cli_warn("%" PRIu64 " file%s changed while read and %s stored as read in snapshot %.8s",
                                 w.changed, w.changed == 1 ? "" : "s", w.changed == 1 ? "is" : "are", snap.id_hex);
                if (w.untagged)
                        cli_warn("%" PRIu64 " entr%s stored without a data subject %s path gives in snapshot "
                                 "%.8s (listed above)",
                                 w.untagged, w.untagged == 1 ? "y is" : "ies are", w.untagged == 1 ? "its" : "their",
                                 snap.id_hex);
                ret = CLI_EXIT_PARTIAL;
        } else
                ret = CLI_EXIT_OK;
out:
        cn_snapshot_done(&snap);
        cn_snapshots_free(list, n_list);
        strv_free(paths, n_paths);
        strv_free(tags, n_tags);
        cn_patterns_done(&excludes);
        return ret;
}

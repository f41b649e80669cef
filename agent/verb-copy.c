/* SPDX-License-Identifier: GPL-3.0-or-later */
/* copy: send snapshots to a replica (docs/cli/copy.md). The work is
 * core/copy's; here are the two repositories, the selection and the report. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "cli.h"
#include "macro.h"
#include "session.h"

static void help(void) {
        fputs("Usage: cairn [-r DEST] copy --from SRC [--controller C] [FILTERS] [--json] [ID...]\n"
              "\n"
              "Copy snapshots from the repository SRC to DEST, a replica of it ('cairn -r DEST\n"
              "init --replica-of SRC'): each snapshot DEST lacks, with every chunk and tree of it\n"
              "that DEST lacks, sent as stored (never decrypted and sealed again), and the legal\n"
              "holds and releases DEST lacks. Without IDs, every snapshot the filters select;\n"
              "'latest' is the newest of them (of one controller). A copy that is stopped can\n"
              "be run again: it sends only what is still missing.\n"
              "\n"
              "      --from SRC              the source repository (CAIRN_FROM_REPOSITORY)\n" CLI_FROM_HELP
              "      --controller C          only the snapshots and holds of controller C\n" CLI_FILTER_HELP "\n"
              "DEST's password comes as for every verb (CAIRN_PASSWORD, --password-file);\n"
              "SRC's from CAIRN_FROM_PASSWORD, --from-password-file, or a prompt.\n",
              stdout);
}

typedef struct Report {
        Cli *cli;
        const CnSnapshot **copied, **skipped;
        size_t n_copied, n_skipped, cap_copied, cap_skipped;
        bool oom;
} Report;

static void on_snapshot(const CnSnapshot *s, bool copied, void *u) {
        Report *rp = u;
        char t[64];
        if (copied ? CN_GROW(rp->copied, rp->cap_copied, rp->n_copied) < 0
                   : CN_GROW(rp->skipped, rp->cap_skipped, rp->n_skipped) < 0)
                rp->oom = true;
        else if (copied)
                rp->copied[rp->n_copied++] = s;
        else
                rp->skipped[rp->n_skipped++] = s;
        if (rp->cli->json || rp->cli->quiet || (!copied && !rp->cli->verbose))
                return;
        printf("%s snapshot %.8s of %s at %s (controller %s)%s\n", copied ? "copied" : "skipped", s->id_hex,
               CLI_ESC(s->hostname), cli_time(s->time.sec, t), CLI_ESC(s->controller->name),
               copied ? "" : ": at the destination already");
        fflush(stdout);
}

static void json_ids(const char *key, const CnSnapshot *const *v, size_t n) {
        printf(",\"%s\":[", key);
        for (size_t i = 0; i < n; i++)
                printf("%s\"%s\"", i ? "," : "", v[i]->id_hex);
        putchar(']');
}

static void print_report(const Report *rp, const CnCopyStats *st, bool done) {
        char a[32], b[32];
        if (rp->cli->json) {
                printf("{\"done\":%s,\"snapshots_copied\":%" PRIu64 ",\"snapshots_skipped\":%" PRIu64
                       ",\"blobs_sent\":%" PRIu64 ",\"bytes_sent\":%" PRIu64 ",\"packs_written\":%" PRIu64
                       ",\"trees_read\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"bytes_read\":%" PRIu64
                       ",\"holds_copied\":%" PRIu64 ",\"grants_copied\":%" PRIu64 ",\"controllers_added\":%" PRIu64,
                       done ? "true" : "false", st->snapshots_copied, st->snapshots_skipped, st->blobs_sent,
                       st->bytes_sent, st->packs_written, st->trees_read, st->reads, st->bytes_read, st->holds_copied,
                       st->grants_copied, st->controllers_added);
                json_ids("copied", rp->copied, rp->n_copied);
                json_ids("skipped", rp->skipped, rp->n_skipped);
                printf("}\n");
                return;
        }
        cli_info(rp->cli,
                 "%s %" PRIu64 " snapshot%s (%" PRIu64 " at the destination already), %" PRIu64
                 " hold object%s; sent %" PRIu64 " blob%s, %s stored, in %" PRIu64 " pack%s (read %s in %" PRIu64
                 " request%s from the source)\n",
                 done ? "copied" : "before failing, copied", st->snapshots_copied, st->snapshots_copied == 1 ? "" : "s",
                 st->snapshots_skipped, st->holds_copied, st->holds_copied == 1 ? "" : "s", st->blobs_sent,
                 st->blobs_sent == 1 ? "" : "s", cli_size(st->bytes_sent, a), st->packs_written,
                 st->packs_written == 1 ? "" : "s", cli_size(st->bytes_read, b), st->reads, st->reads == 1 ? "" : "s");
        if (st->grants_copied)
                cli_info(rp->cli, "copied %" PRIu64 " location authorisation%s or revocation%s\n", st->grants_copied,
                         st->grants_copied == 1 ? "" : "s", st->grants_copied == 1 ? "" : "s");
        if (st->controllers_added)
                cli_info(rp->cli, "added %" PRIu64 " controller%s the destination lacked\n", st->controllers_added,
                         st->controllers_added == 1 ? "" : "s");
}

/* Say why a copy failed, and what to do; the exit code. */
static int copy_error(Cli *cli, Cli *src, int r, const CnCopyFailure *f) {
        const char *dst_url = CLI_ESC(cn_backend_url(cli->backend)), *src_url = CLI_ESC(cn_backend_url(src->backend));
        const CnController *c = f->controller;
        char what[512];

        if (r == -EXDEV && !c) {
                cli_error("the repository at %s is not a replica of %s (another processor); make one with "
                          "'cairn -r DEST init --replica-of %s' and copy into that; nothing was written",
                          dst_url, src_url, src_url);
                return CLI_EXIT_ERROR;
        }
        if (r == -EXDEV) {
                cli_error("the repository at %s is not a replica of %s: its controller %s has other keys than "
                          "the source's controller of that id; nothing was written",
                          dst_url, src_url, c->id_hex);
                return CLI_EXIT_ERROR;
        }
        if (r == -EKEYEXPIRED) {
                CnController *d = cn_repo_find_controller(cli->rp, c->id_hex);
                cli_error("controller %s (%.8s) is at key epoch %" PRIu32 " in %s but %" PRIu32
                          " in %s: copying between key epochs (after an erasure) is not supported yet; nothing "
                          "was written",
                          CLI_ESC(c->name), c->id_hex, c->epoch, src_url, d ? d->epoch : 0, dst_url);
                return CLI_EXIT_ERROR;
        }
        if (r == -EPERM)
                return cli_location_refused(src, CN_AUDIT_COPY, "copy", "no snapshot was copied", &f->refusal,
                                            cn_backend_url(cli->backend));
        if (r == -ESTALE) {
                cli_error("copy stopped for longer than %d hours, so a prune at %s took it for a dead writer and "
                          "may have deleted data it reuses: no snapshot was put after that; run copy again (what "
                          "it sent is reused)",
                          CN_SESSION_STALE_SEC / 3600, dst_url);
                return CLI_EXIT_ERROR;
        }
        snprintf(what, sizeof what, "copy of controller %s failed%s%s", c ? CLI_ESC(c->name) : "?",
                 f->object[0] ? " at " : "", CLI_ESC(f->object));
        if (r == -ENOENT) {
                cli_error("%s: a snapshot of %s names it, but the source does not hold it; run 'cairn -r %s check' "
                          "(what was copied is kept)",
                          what, src_url, src_url);
                return CLI_EXIT_ERROR;
        }
        if (r == -EBADMSG || r == -ENOKEY) {
                cli_error("%s: %s in the source %s; run 'cairn -r %s check --read-data' there (what was copied "
                          "is kept, and nothing damaged was copied)",
                          what, r == -ENOKEY ? "it has no data key" : "it fails authentication", src_url, src_url);
                return CLI_EXIT_ERROR;
        }
        return cli_repo_error(cli, what, r);
}

int verb_copy(Cli *cli, int argc, char **argv) {
        enum { OPT_FROM = _OPT_GLOBAL_MAX };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG, CLI_FILTER_LONG, CLI_FROM_LONG, {"from", required_argument, NULL, OPT_FROM}, {},
        };
        _cleanup_(cli_close) Cli src = {.source = true};
        _cleanup_(cn_snapshot_filter_done) CnSnapshotFilter filter = {};
        _cleanup_free_ bool *chosen = NULL;
        Report rp = {.cli = cli};
        CnSnapshot *list = NULL;
        CnCopyStats st = {};
        CnCopyFailure fail = {};
        size_t n = 0;
        int c, r, ret = CLI_EXIT_ERROR;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == OPT_FROM)
                        src.repo = optarg;
                else if (!cli_from_option(&src, c, optarg) && !cli_filter_option(&filter, c, optarg))
                        return cli_usage_error("copy", "unknown option");
        }
        cli_resolve(cli);
        cli_resolve(&src);
        if (!src.repo)
                return cli_usage_error("copy", "copy needs the source repository: --from URL (or "
                                               "CAIRN_FROM_REPOSITORY)");

        r = cli_open(&src, true);
        if (r != 0)
                return r;
        CnController *ctl = NULL;
        src.controller = cli->controller;
        if (src.controller && (r = cli_controller(&src, "", &ctl)) != 0)
                return r;
        r = cli_load_snapshots(&src, ctl, &list, &n);
        if (r != 0)
                return r;
        size_t selected = cn_snapshot_filter_list(list, n, &filter);
        if (optind < argc) {
                /* IDs pick among what the filters select. */
                chosen = calloc(selected ? selected : 1, sizeof *chosen);
                if (!chosen)
                        goto oom;
                for (int i = optind; i < argc; i++) {
                        CnSnapshot *s = NULL;
                        if (strcmp(argv[i], "latest") == 0) {
                                CnController *one = ctl;
                                if (!one && (r = cli_controller(&src,
                                                                "'latest' means the newest snapshot of one "
                                                                "of them",
                                                                &one)) != 0) {
                                        ret = r;
                                        goto out;
                                }
                                s = cn_snapshot_latest(list, selected, one, NULL);
                                if (!s) {
                                        cli_error("no snapshot in %s for 'latest' to name",
                                                  CLI_ESC(cn_backend_url(src.backend)));
                                        goto out;
                                }
                        } else if (!(s = cli_find_snapshot(list, selected, argv[i])))
                                goto out;
                        chosen[s - list] = true;
                }
                /* The chosen ones to the front, oldest first. */
                size_t k = 0;
                for (size_t i = 0; i < selected; i++)
                        if (chosen[i]) {
                                CnSnapshot t = list[k];
                                list[k++] = list[i];
                                list[i] = t;
                        }
                selected = k;
        }

        r = cli_open(cli, true);
        if (r != 0) {
                ret = r;
                goto out;
        }
        CnCopyOptions o = {
                .controller = ctl,
                .on_snapshot = on_snapshot,
                .damaged = cli_damaged,
                .userdata = &rp,
        };
        r = cn_copy_run(src.rp, cli->rp, list, selected, &o, &st, &fail);
        if (rp.oom)
                goto oom;
        /* Both logs: the source's says what left, the replica's what came.
         * A copy that failed (the gate's refusal logs itself) is in the log
         * of each controller in scope, partial when some of its snapshots
         * went. */
        bool failed = r < 0 && r != -EPERM;
        for (size_t i = 0; i < cn_repo_n_controllers(src.rp) && (rp.n_copied || failed); i++) {
                CnController *sc = cn_repo_controller(src.rp, i), *dc;
                CnAuditOutcome outcome = CN_AUDIT_OK;
                if (failed && ctl && ctl != sc)
                        continue;
                if (failed) {
                        outcome = CN_AUDIT_FAILED;
                        for (size_t j = 0; j < rp.n_copied; j++)
                                if (memcmp(rp.copied[j]->controller->id, sc->id, CN_UUID_BYTES) == 0)
                                        outcome = CN_AUDIT_PARTIAL;
                }
                cli_audit_snapshots(&src, src.rp, sc, CN_AUDIT_COPY, outcome, "send", cn_backend_url(cli->backend),
                                    rp.copied, rp.n_copied);
                if ((dc = cn_repo_find_controller(cli->rp, sc->id_hex)))
                        cli_audit_snapshots(cli, cli->rp, dc, CN_AUDIT_COPY, outcome, "receive",
                                            cn_backend_url(src.backend), rp.copied, rp.n_copied);
        }
        if (r < 0) {
                if (st.snapshots_copied || st.blobs_sent || st.holds_copied || st.grants_copied)
                        print_report(&rp, &st, false);
                ret = copy_error(cli, &src, r, &fail);
                goto out;
        }
        print_report(&rp, &st, true);
        ret = CLI_EXIT_OK;
        goto out;
oom:
        cli_error("copy: out of memory");
out:
        free(rp.copied);
        free(rp.skipped);
        cn_snapshots_free(list, n);
        return ret;
}

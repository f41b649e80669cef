/* SPDX-License-Identifier: GPL-3.0-or-later */
/* stats: what each controller's data costs in the repository
 * (docs/cli/stats.md); core/stats does the counting. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "stats.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] stats [--controller C] [--json]\n"
              "\n"
              "For each controller (or C): snapshots, files (in all, and in distinct directories),\n"
              "logical bytes (file sizes over every snapshot), unique bytes (after deduplication),\n"
              "stored bytes (its packs), the dedup and compression ratios, the metadata bytes per\n"
              "stored chunk (index, ledger and pack headers), the bytes erasure requests still\n"
              "reach (pending, or deferred by legal holds), and what holds keep.\n",
              stdout);
}

/* a / b, or -1 (no ratio) when b is 0. */
static double ratio(uint64_t a, uint64_t b) {
        return b ? (double) a / (double) b : -1;
}

static json_t *ratio_json(uint64_t a, uint64_t b) {
        return b ? json_real(ratio(a, b)) : json_null();
}

static json_t *stats_json(const CnController *c, const CnStats *s) {
        uint64_t meta = s->index_bytes + s->ledger_bytes + s->pack_overhead_bytes;
        return json_pack(
                "{s:{s:s, s:o}, s:I, s:{s:I, s:I}, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                "s:o, s:o, s:o, s:{s:I, s:I, s:I}, s:{s:I, s:I}}",
                "controller", "id", c->id_hex, "name", cli_json_text(c->name), "snapshots", (json_int_t) s->snapshots,
                "files", "total", (json_int_t) s->files, "distinct", (json_int_t) s->files_distinct, "directories",
                (json_int_t) s->directories, "logical_bytes", (json_int_t) s->logical_bytes, "unique_bytes",
                (json_int_t) s->unique_bytes, "unique_stored_bytes", (json_int_t) s->unique_stored_bytes, "chunks",
                (json_int_t) s->chunks, "missing_chunks", (json_int_t) s->missing_chunks, "stored_bytes",
                (json_int_t) s->stored_bytes, "packs", (json_int_t) s->packs, "blobs", (json_int_t) s->blobs,
                "index_bytes", (json_int_t) s->index_bytes, "ledger_bytes", (json_int_t) s->ledger_bytes,
                "pack_overhead_bytes", (json_int_t) s->pack_overhead_bytes, "dedup_ratio",
                ratio_json(s->logical_bytes, s->unique_bytes), "compression_ratio",
                ratio_json(s->unique_bytes, s->unique_stored_bytes), "metadata_bytes_per_chunk",
                ratio_json(meta, s->blobs), "erasure", "pending_requests", (json_int_t) s->pending_erasures,
                "pending_bytes", (json_int_t) s->pending_erasure_bytes, "deferred_bytes",
                (json_int_t) s->deferred_erasure_bytes, "holds", "held_snapshots", (json_int_t) s->held_snapshots,
                "held_bytes", (json_int_t) s->held_bytes);
}

static void print_ratio(const char *what, uint64_t a, uint64_t b, const char *unit) {
        if (b)
                printf("  %-22s %.2f%s\n", what, ratio(a, b), unit);
        else
                printf("  %-22s -\n", what);
}

static void stats_text(const CnController *c, const CnStats *s) {
        char a[32], b[32], d[32];
        printf("controller %s\n", CLI_ESC(c->name));
        printf("  %-22s %" PRIu64 "\n", "snapshots", s->snapshots);
        printf("  %-22s %" PRIu64 " in all, %" PRIu64 " distinct (in %" PRIu64 " distinct directories)\n", "files",
               s->files, s->files_distinct, s->directories);
        printf("  %-22s %s (%" PRIu64 ")\n", "logical bytes", cli_size(s->logical_bytes, a), s->logical_bytes);
        printf("  %-22s %s (%" PRIu64 ") in %" PRIu64 " chunk%s\n", "unique bytes", cli_size(s->unique_bytes, a),
               s->unique_bytes, s->chunks, s->chunks == 1 ? "" : "s");
        printf("  %-22s %s (%" PRIu64 ") in %" PRIu64 " pack%s\n", "stored bytes", cli_size(s->stored_bytes, a),
               s->stored_bytes, s->packs, s->packs == 1 ? "" : "s");
        print_ratio("dedup ratio", s->logical_bytes, s->unique_bytes, "");
        print_ratio("compression ratio", s->unique_bytes, s->unique_stored_bytes, "");
        print_ratio("metadata per chunk", s->index_bytes + s->ledger_bytes + s->pack_overhead_bytes, s->blobs,
                    " bytes");
        printf("  %-22s index %s, ledger %s, pack headers %s, %" PRIu64 " blobs\n", "", cli_size(s->index_bytes, a),
               cli_size(s->ledger_bytes, b), cli_size(s->pack_overhead_bytes, d), s->blobs);
        printf("  %-22s %" PRIu64 " request%s: %s to erase, %s deferred by holds\n", "pending erasure",
               s->pending_erasures, s->pending_erasures == 1 ? "" : "s", cli_size(s->pending_erasure_bytes, a),
               cli_size(s->deferred_erasure_bytes, b));
        printf("  %-22s %" PRIu64 " snapshot%s, %s\n", "held", s->held_snapshots, s->held_snapshots == 1 ? "" : "s",
               cli_size(s->held_bytes, a));
        if (s->missing_chunks)
                printf("  %-22s %" PRIu64 " chunks the snapshots name are in no readable pack: run 'cairn check'\n",
                       "missing", s->missing_chunks);
}

int verb_stats(Cli *cli, int argc, char **argv) {
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {},
        };
        CnController *only = NULL;
        int c, r;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT, opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                return cli_usage_error("stats", "unknown option");
        }
        if (optind < argc)
                return cli_usage_error("stats", "stats takes no arguments");
        r = cli_open(cli, true);
        if (r != 0)
                return r;
        if (cli->controller && (r = cli_controller(cli, "", &only)) != 0)
                return r;
        json_t *all = cli->json ? json_array() : NULL;
        for (size_t i = 0; i < cn_repo_n_controllers(cli->rp); i++) {
                CnController *ctl = cn_repo_controller(cli->rp, i);
                CnStats s;
                if (only && ctl != only)
                        continue;
                r = cn_stats_run(cli->rp, ctl, cli_damaged, cli, &s);
                if (r < 0) {
                        char what[CLI_ESCAPE_MAX + 64];
                        json_decref(all);
                        snprintf(what, sizeof what, "cannot count the data of controller %s", CLI_ESC(ctl->name));
                        return cli_repo_error(cli, what, r);
                }
                if (!cli->json) {
                        stats_text(ctl, &s);
                        continue;
                }
                if (json_array_append_new(all, stats_json(ctl, &s)) < 0) {
                        json_decref(all);
                        return cli_repo_error(cli, "cannot print the stats", -ENOMEM);
                }
        }
        return cli->json ? cli_json_print(all) : CLI_EXIT_OK;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every string that comes from a repository, a tree or a server (file
 * names, link targets, hosts, users, tags, controller names, key labels,
 * object names, a server's error text) is printed through here, so that
 * none can move the cursor, clear the screen, reorder what follows or forge
 * a line (docs/cli/ls.md "Names in output"). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "records.h"
#include "utf8.h"

/* Never printed as themselves: the C0 and C1 controls and DEL (cursor
 * movement, terminal escapes), the bidirectional marks, embeddings,
 * overrides and isolates (U+061C, U+200E/F, U+202A-E, U+2066-9: they
 * reorder what follows), and the line and paragraph separators. */
static bool unsafe(uint32_t cp) {
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
               (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

typedef void (*Sink)(void *ctx, const char *p, size_t n);

/* s escaped for text (C style: \\, \n, \t, \r, \x1b, \u202e, \xff for a
 * byte that is not UTF-8) or for a JSON string body (\", \\, \n, \t, \r,
 * \u001b, \u202e, \udcff for a byte that is not UTF-8, as Python's
 * surrogateescape). Runs of plain characters go to sink whole. */
static void escape(const char *str, size_t n, bool json, Sink sink, void *ctx) {
        const unsigned char *s = (const unsigned char *) str;
        size_t run = 0;
        for (size_t i = 0; i < n;) {
                char e[16];
                int k = 0;
                uint32_t cp;
                size_t len = cn_utf8_decode(s + i, n - i, &cp);
                if (len == 0) {
                        k = snprintf(e, sizeof e, json ? "\\udc%02x" : "\\x%02x", s[i]);
                        len = 1;
                } else if (cp == '\\' || (json && cp == '"'))
                        k = snprintf(e, sizeof e, "\\%c", (char) cp);
                else if (cp == '\n')
                        k = snprintf(e, sizeof e, "\\n");
                else if (cp == '\t')
                        k = snprintf(e, sizeof e, "\\t");
                else if (cp == '\r')
                        k = snprintf(e, sizeof e, "\\r");
                else if (unsafe(cp))
                        k = snprintf(e, sizeof e, json || cp > 0x7f ? "\\u%04x" : "\\x%02x", (unsigned) cp);
                if (k > 0) {
                        if (i > run)
                                sink(ctx, str + run, i - run);
                        sink(ctx, e, (size_t) k);
                        run = i + len;
                }
                i += len;
        }
        if (n > run)
                sink(ctx, str + run, n - run);
}

static void file_sink(void *ctx, const char *p, size_t n) {
        fwrite(p, 1, n, ctx);
}

void cli_json_string(FILE *f, const char *s, size_t n) {
        fputc('"', f);
        escape(s, n, true, file_sink, f);
        fputc('"', f);
}

void cli_print_escaped(FILE *f, const char *s, size_t n) {
        escape(s, n, false, file_sink, f);
}

typedef struct BufSink {
        char *buf;
        size_t size, len;       /* size >= 4: room for "..." and the NUL */
        bool full;
} BufSink;

static void buf_sink(void *ctx, const char *p, size_t n) {
        BufSink *b = ctx;
        if (b->full)
                return;
        if (n > b->size - 4 - b->len) {
                /* Cut at a character boundary, then mark the cut. */
                n = b->size - 4 - b->len;
                while (n > 0 && ((unsigned char) p[n] & 0xc0) == 0x80)
                        n--;
                b->full = true;
        }
        memcpy(b->buf + b->len, p, n);
        b->len += n;
        if (b->full) {
                memcpy(b->buf + b->len, "...", 3);
                b->len += 3;
        }
}

const char *cli_escape(const char *s, size_t n, char *buf, size_t size) {
        BufSink b = { .buf = buf, .size = size };
        if (size < 4) {
                if (size)
                        buf[0] = 0;
                return buf;
        }
        escape(s, n, false, buf_sink, &b);
        buf[b.len] = 0;
        return buf;
}

const char *cli_escape_str(const char *s, char buf[CLI_ESCAPE_MAX]) {
        if (!s)
                s = "(none)";
        return cli_escape(s, strlen(s), buf, CLI_ESCAPE_MAX);
}

const char *cli_size(uint64_t bytes, char buf[32]) {
        static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double) bytes;
        size_t u = 0;
        while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, 32, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, 32, "%.2f %s", v, units[u]);
        return buf;
}

const char *cli_time(int64_t sec, char buf[64]) {
        time_t t = (time_t) sec;
        struct tm tm;
        /* Not strftime's %Y: year 1 is "0001", not "1". */
        if (localtime_r(&t, &tm))
                snprintf(buf, 64, "%04lld-%02d-%02d %02d:%02d:%02d", (long long) tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        else
                snprintf(buf, 64, "@%" PRId64, sec);
        return buf;
}

const char *cli_seconds(CnTime t, char buf[32]) {
        if (t.sec < 0 && t.nsec > 0)
                /* sec + nsec/1e9 is -((-sec - 1) + (1e9 - nsec)/1e9) */
                snprintf(buf, 32, "-%" PRIu64 ".%09u", (uint64_t) -(t.sec + 1), 1000000000u - t.nsec);
        else
                snprintf(buf, 32, "%" PRId64 ".%09u", t.sec, t.nsec);
        return buf;
}

void cli_short_id(const char *hex, char buf[9]) {
        memcpy(buf, hex, 8);
        buf[8] = 0;
}

json_t *cli_json_text(const char *s) {
        return cn_json_text(s);
}

int cli_json_print(json_t *j) {
        int r = j ? json_dumpf(j, stdout, JSON_COMPACT) : -1;
        json_decref(j);
        if (r < 0 || putchar('\n') == EOF) {
                cli_error("cannot write the JSON output: out of memory, or standard output failed");
                return CLI_EXIT_ERROR;
        }
        return CLI_EXIT_OK;
}

void cli_json_strv(FILE *f, const char *const *v, size_t n) {
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        fputc(',', f);
                cli_json_string(f, v[i], strlen(v[i]));
        }
        fputc(']', f);
}

void cli_json_snapshot(FILE *f, const CnSnapshot *s) {
        fprintf(f, "{\"id\":\"%s\",\"short_id\":\"%.8s\",\"time\":%s,\"hostname\":", s->id_hex, s->id_hex,
                cli_seconds(s->time, (char[32]) {}));
        cli_json_string(f, s->hostname, strlen(s->hostname));
        fprintf(f, ",\"username\":");
        cli_json_string(f, s->username, strlen(s->username));
        fprintf(f, ",\"paths\":");
        cli_json_strv(f, (const char *const *) s->paths, s->n_paths);
        fprintf(f, ",\"tags\":");
        cli_json_strv(f, (const char *const *) s->tags, s->n_tags);
        fprintf(f, ",\"controller\":{\"id\":\"%s\",\"name\":", s->controller->id_hex);
        cli_json_string(f, s->controller->name, strlen(s->controller->name));
        fprintf(f,
                "},\"partial\":%s,\"rewritten\":%s,\"errors\":%zu,\"files\":%" PRIu64 ",\"dirs\":%" PRIu64
                ",\"bytes\":%" PRIu64 "}",
                (s->flags & CN_SNAPSHOT_PARTIAL) ? "true" : "false",
                (s->flags & CN_SNAPSHOT_REWRITTEN) ? "true" : "false", s->n_errors, s->files, s->dirs, s->bytes);
}

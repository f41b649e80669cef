/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export (docs/cli/export.md; the manifest's schema is
 * docs/export-manifest.schema.json): every version of every file a scope
 * reaches, one archive written with libarchive (pax, or zip), then
 * manifest.json (what the archive holds, with sizes and SHA-256, and what
 * the processor knows of the scope: processing events, holds, locations,
 * retention, an audit anchor) and manifest.sig, the processor's Ed25519
 * signature of
 *
 *   "cairn.export-manifest.v1\n" || the bytes of manifest.json
 *
 * as {"algorithm": "Ed25519", "public_key": hex, "value": hex}.
 *
 * It streams: file contents go chunk by chunk from the store into the
 * archive (cn_file_content(), restore's reader), each file's manifest
 * record to an unlinked temporary file as it is made, and manifest.json is
 * put together from that file at the end (signed in two passes over it:
 * cn_sign_stream_*), so memory does not grow with the archive.
 *
 * The archive's entries, in this order (cn_export_path_cmp() order):
 *
 *   files/<snapshot>/<path>    each entry of each snapshot with entries in
 *                              scope, the snapshot's folders in time order,
 *                              its entries in walk order (depth first, names
 *                              in byte order); a directory above an entry in
 *                              scope comes first (a "parent", not in scope)
 *   manifest.json
 *   manifest.sig
 *
 * <snapshot> is the snapshot's time, RFC 3339 UTC to the second
 * (2026-12-07T23:02:43Z); when another snapshot of the controller has the
 * same second, with nanoseconds (2026-12-07T23:02:43.123456789Z); when one
 * has the same nanosecond too, that and "-" and the snapshot's id. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "erase.h"
#include "repo.h"
#include "snapshot.h"
#include "store.h"

#define CN_EXPORT_FORMAT "cairn.export-manifest.v1"
#define CN_EXPORT_SIGN_DOMAIN CN_EXPORT_FORMAT "\n"
#define CN_EXPORT_MANIFEST "manifest.json"
#define CN_EXPORT_SIGNATURE "manifest.sig"
#define CN_EXPORT_FILES "files/"
/* What a reader of an export takes at most: manifest.json (a record a file
 * is a few hundred bytes), one JSON value in it other than a record of
 * "files" or "events", manifest.sig. */
#define CN_EXPORT_MAX_MANIFEST_BYTES (UINT64_C(1) << 40)
#define CN_EXPORT_MAX_VALUE_BYTES (64u << 20)
#define CN_EXPORT_MAX_SIGNATURE_BYTES 4096u

typedef enum CnExportArchive {
        CN_EXPORT_PAX = 1, /* POSIX.1-2001 tar with pax headers */
        CN_EXPORT_ZIP,
} CnExportArchive;

typedef struct CnExportOptions {
        /* CN_ERASE_CONTROLLER (everything of the controller), CN_ERASE_SUBJECT
         * (the entries tagged with value) or CN_ERASE_PATH (the entries value,
         * a pattern of core/pattern.h, matches): what an erasure of the same
         * scope and value would reach (cn_erase_scope_walk()), and the
         * directories above it. */
        CnEraseScope scope;
        const char *value; /* ignored for a controller */
        CnExportArchive archive;
        /* Only these snapshots of the controller (NULL: all of them). */
        const uint8_t (*snapshots)[CN_ID_BYTES];
        size_t n_snapshots;
        /* Called for each snapshot with entries in scope that a deferred
         * erasure restricts (cn_erase_restricted()), before any entry of it
         * is written: 0 exports it (break glass: the caller logs it), < 0
         * stops the export with that error. NULL: -EACCES. */
        int (*restricted)(const CnSnapshot *s, void *userdata);
        /* The purpose of a break-glass export (recorded in the manifest with
         * the restricted snapshots), or NULL. */
        const char *break_glass;
        /* A file whose stored content is shorter or longer than its entry
         * says (-EUCLEAN, cn_file_content()): exported as restore lays it
         * out; told here. May be NULL. */
        void (*warn)(const CnSnapshot *s, const char *path, int error, void *userdata);
        CnStoreDamagedFn damaged; /* objects that do not open: skipped and told; may be NULL */
        void *userdata;
        int tmp_dirfd; /* where the unlinked temporary file goes (O_TMPFILE); -1: /tmp */
        int64_t now;   /* created_at; 0: the clock */
} CnExportOptions;

typedef struct CnExportResult {
        uint64_t snapshots;          /* with entries in scope */
        uint64_t restricted;         /* of them, read under break glass */
        uint64_t entries;            /* records in "files" (parents included) */
        uint64_t files, bytes;       /* regular files in scope and their bytes */
        uint64_t holds;              /* active holds that touch the scope */
        uint64_t events;             /* audit log entries that touch it */
        bool empty;                  /* nothing in scope */
        bool output_failed;          /* on failure: writing the archive failed (its errno) */
        uint8_t digest[CN_ID_BYTES]; /* SHA-256 of manifest.json */
        uint64_t manifest_bytes;
} CnExportResult;

/* Write the export of controller c to fd (a new file, written from its
 * current offset; the caller removes it on failure). -EINVAL bad options
 * (a scope or value an erasure would refuse); -EACCES (or restricted()'s
 * error) a restricted snapshot refused; -EBADMSG, -ENOENT, -ENOKEY a file's
 * data does not open or is gone ('cairn check --read-data' names it);
 * ret->output_failed and the write's errno (-EIO when libarchive gives
 * none) when writing the archive failed; errors of reading the repository. */
int cn_export(CnRepo *repo, CnController *c, const CnExportOptions *o, int fd, CnExportResult *ret);

/* The order of the archive's file entries: "files/" and a snapshot folder
 * (byte order: time order), then the path component by component
 * (cn_name_cmp()), so a directory comes before what is in it. */
int cn_export_path_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

/* sec as RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ", with nsec as nine digits
 * of fraction when frac ("...:SS.123456789Z"); any int64 second: a year
 * outside 0000 to 9999 is written as ISO 8601 expands it, a sign and at
 * least four digits ("+10000-01-01T00:00:00Z"). */
#define CN_EXPORT_TIME_BYTES 64
void cn_export_time(int64_t sec, uint32_t nsec, bool frac, char buf[CN_EXPORT_TIME_BYTES]);
/* The folder of snapshot i of v (n snapshots sorted by time, then id),
 * as the header says. */
#define CN_EXPORT_FOLDER_BYTES (CN_EXPORT_TIME_BYTES + CN_ID_HEX + 2)
void cn_export_folder(const CnSnapshot *const *v, size_t n, size_t i, char ret[CN_EXPORT_FOLDER_BYTES]);

/* ---- verifying ---- */

typedef struct CnExportVerifyResult {
        uint64_t entries; /* file entries of the archive */
        uint64_t bytes;   /* their content */
        uint64_t records; /* records of "files" */
        uint64_t problems;
        bool empty;
        uint8_t digest[CN_ID_BYTES]; /* SHA-256 of manifest.json */
} CnExportVerifyResult;

/* One failed check: the archive entry (or manifest record) it is about,
 * or NULL, and what is wrong. Borrowed for the call. */
typedef void (*CnExportProblemFn)(const char *entry, const char *why, void *userdata);

/* Check the export archive read from fd (pax or zip): manifest.json and
 * manifest.sig at its end, the signature by pk, the manifest's format and
 * processor key, and every file entry against the manifest's records
 * (each listed entry there, of its type, size and SHA-256, a hard link
 * to its record's target; no entry the manifest does not list; no
 * listed entry missing). Every failure is told to fn. Returns 0 when
 * all checks pass, -EBADMSG when some failed (ret->problems of them),
 * other errors (-EIO, -ENOMEM) when checking could not go on. */
int cn_export_verify(int fd, const uint8_t pk[CN_SIGN_PUBLIC_BYTES], int tmp_dirfd, CnExportProblemFn fn,
                     void *userdata, CnExportVerifyResult *ret);

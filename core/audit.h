/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The audit log (docs/FORMAT.md "Audit log"): one hash chain per
 * controller of what was done to its data, holding no personal data.
 *
 *   audit/<ctrl>/<seq>   seq as 16 lower-case hex digits, 0, 1, 2, ...
 *   envelope CAIRNAUD 1, sealed under the audit key KDF(master, 4, "cnmaster")
 *   body  = seq:u64 prev[32] time:i64 kind:u8 outcome:u8 count:u8 field*count
 *   field = tag:u8 len:u8 value[len]
 *   prev  = SHA-256 of the stored bytes of entry seq - 1 (32 zero bytes for 0)
 *
 * An entry is added with an exclusive put of the next seq, so of writers
 * racing for one seq exactly one wins and the others chain after it: the
 * log never forks and loses nothing. Hosts, users, paths, subjects, names
 * and free text are stored only as pseudonyms, HMAC-SHA-256 under the
 * controller's pseudonym key KDF(domain_root, 4, "cndomain"); the audit
 * key does not depend on the controller, so the log of an erased
 * controller stays readable (its pseudonyms no longer resolve).
 *
 * A checkpoint is a signed statement of the log's length and head: the
 * processor's Ed25519 key over "cairn.audit-checkpoint.v1\n" || the
 * canonical JSON of {format, repository, processor, controller, entries,
 * head, time}. Kept outside the repository, it lets verify detect a cut
 * tail and a rewritten history. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "format.h"
#include "repo.h"

#define CN_AUDIT_FOLDER "audit/"
#define CN_AUDIT_CHECKPOINT_FORMAT "cairn.audit-checkpoint.v1"
#define CN_AUDIT_MAX_FIELDS 64u
#define CN_AUDIT_MAX_TEXT_BYTES 255u
#define CN_AUDIT_MAX_CHECKPOINT_BYTES 4096u
#define CN_AUDIT_NAME_MAX 256u /* room for a name reported (longer ones are cut) */

typedef enum CnAuditKind {
        CN_AUDIT_INIT = 1,      /* a repository or controller created */
        CN_AUDIT_BACKUP,
        CN_AUDIT_RESTORE,
        CN_AUDIT_DUMP,
        CN_AUDIT_EXPORT,
        CN_AUDIT_COPY,
        CN_AUDIT_FORGET,
        CN_AUDIT_PRUNE,
        CN_AUDIT_ERASURE,
        CN_AUDIT_HOLD,
        CN_AUDIT_RELEASE,
        CN_AUDIT_BREAK_GLASS,
        CN_AUDIT_KEY,           /* passwords, key store locations */
        CN_AUDIT_LOCATION,
        CN_AUDIT_REQUEST,
        CN_AUDIT_RETENTION,
        CN_AUDIT_KIND_MAX = CN_AUDIT_RETENTION,
} CnAuditKind;

typedef enum CnAuditOutcome {
        CN_AUDIT_OK = 0,
        CN_AUDIT_FAILED,
        CN_AUDIT_REFUSED,
        CN_AUDIT_PARTIAL,
        CN_AUDIT_OUTCOME_MAX = CN_AUDIT_PARTIAL,
} CnAuditOutcome;

/* Field tags: the range gives the type, so a reader can skip or show a tag
 * it does not know. */
enum {
        /* 1-31: pseudonyms, 32 bytes: HMAC-SHA-256(pseudonym key, value) */
        CN_AUDIT_F_HOST = 1,    /* added by append: the acting host */
        CN_AUDIT_F_USER = 2,    /* added by append: the acting user */
        CN_AUDIT_F_PATH = 3,
        CN_AUDIT_F_SUBJECT = 4,
        CN_AUDIT_F_TEXT = 5,    /* a purpose, reason or reference */
        CN_AUDIT_F_URL = 6,     /* a repository or replica URL */
        CN_AUDIT_F_NAME = 7,    /* a controller's or key's name */
        /* 32-63: ids, 32 bytes */
        CN_AUDIT_F_SNAPSHOT = 32,
        CN_AUDIT_F_HOLD = 33,
        CN_AUDIT_F_CERTIFICATE = 34,
        CN_AUDIT_F_REQUEST = 35,
        CN_AUDIT_F_DIGEST = 36, /* SHA-256 of an export's manifest */
        /* 64-95: u64, 8 bytes */
        CN_AUDIT_F_FILES = 64,
        CN_AUDIT_F_BYTES = 65,
        CN_AUDIT_F_SNAPSHOTS = 66,
        CN_AUDIT_F_EPOCH = 67,
        /* 96-127: text, 1 to 255 bytes 0x20-0x7e, never personal data */
        CN_AUDIT_F_ACTION = 96,
        CN_AUDIT_F_SCOPE = 97,
        CN_AUDIT_F_LOCATION = 98,
        CN_AUDIT_F_PROVIDER = 99,
        CN_AUDIT_F_REGION = 100,
        CN_AUDIT_F_KIND = 101,
        CN_AUDIT_F_MAX = 127,
};

typedef enum CnAuditType {
        CN_AUDIT_TYPE_NONE = 0, /* tag 0 or above 127: invalid */
        CN_AUDIT_TYPE_PSEUDONYM,
        CN_AUDIT_TYPE_ID,
        CN_AUDIT_TYPE_U64,
        CN_AUDIT_TYPE_TEXT,
} CnAuditType;
CnAuditType cn_audit_field_type(unsigned field);

/* ---- writing ---- */

typedef struct CnAuditEvent CnAuditEvent;

int cn_audit_event_new(CnAuditKind kind, CnAuditOutcome outcome, CnAuditEvent **ret);
CnAuditEvent *cn_audit_event_free(CnAuditEvent *e);    /* wipes pseudonym values; NULL-tolerant */
static inline void cn_audit_event_freep(CnAuditEvent **e) {
        cn_audit_event_free(*e);
}
void cn_audit_event_set_outcome(CnAuditEvent *e, CnAuditOutcome outcome);
/* Add a field of the type its tag says. -EINVAL a tag of another type;
 * -E2BIG past CN_AUDIT_MAX_FIELDS (a caller may ignore it: the entry is
 * written with the fields that fit); -ENOMEM. A pseudonym's value is kept
 * (in wiped memory) until append hashes it; a text is cut at 255 bytes and
 * every byte outside 0x20-0x7e becomes '?'; an empty text is not added. */
int cn_audit_event_pseudonym(CnAuditEvent *e, unsigned field, const void *value, size_t n);
int cn_audit_event_id(CnAuditEvent *e, unsigned field, const uint8_t id[CN_ID_BYTES]);
int cn_audit_event_u64(CnAuditEvent *e, unsigned field, uint64_t v);
int cn_audit_event_text(CnAuditEvent *e, unsigned field, const char *s);

/* A copy of e, its pseudonym values included. */
int cn_audit_event_copy(const CnAuditEvent *e, CnAuditEvent **ret);
/* Compute e's pseudonyms and the acting host's and user's now, under c's
 * pseudonym key, and make e an event of c's log: for an event appended
 * after c is gone (a controller erasure). -EINVAL bound to another. */
int cn_audit_event_bind(CnAuditEvent *e, const CnController *c);
/* Append e to c's log (c NULL: to the log e is bound to), with the acting
 * host and user and the time now; the entry's seq into *ret_seq (may be
 * NULL). The entry follows the highest listed entry that is one of this
 * log (objects above it that are not, planted or damaged, are stepped
 * over, up to 64 of them; FORMAT.md "Appending"). Errors of the backend,
 * -EINVAL e bound to another controller or (c NULL) to none, -EOVERFLOW
 * no seq is left after the log's names, or -EBUSY when 1000 racing
 * writers in a row took the next seq. */
int cn_audit_append(CnRepo *r, const CnController *c, CnAuditEvent *e, uint64_t *ret_seq);
/* Append e to the log of every controller of r (repository-wide events:
 * passwords, key store locations): the first error, after trying all. */
int cn_audit_append_all(CnRepo *r, const CnAuditEvent *e);

/* ---- reading ---- */

typedef struct CnAuditItem {
        unsigned field;
        uint8_t len;
        uint8_t value[CN_AUDIT_MAX_TEXT_BYTES];
} CnAuditItem;

typedef struct CnAuditEntry {
        uint64_t seq;
        int64_t time;
        CnAuditKind kind;       /* may be one this reader does not name */
        CnAuditOutcome outcome;
        uint8_t prev[CN_ID_BYTES];
        uint8_t hash[CN_ID_BYTES];      /* SHA-256 of the stored object */
        CnAuditItem *items;
        size_t n_items;
} CnAuditEntry;

/* A log as read: the entries that chain from entry 0, and the first thing
 * wrong with it, if any. */
typedef struct CnAuditLog {
        uint8_t controller[CN_UUID_BYTES];
        CnAuditEntry *v;        /* entries 0 .. n - 1, each chained to the one before */
        size_t n;
        /* Broken: entry `broken_seq` (its name: audit/<ctrl>/<seq>) is
         * missing, does not open or does not chain; entries after it are
         * not in v. `why` is a static phrase. */
        bool broken;
        uint64_t broken_seq;
        const char *why;
        /* Broken because entry broken_seq is missing: the next seq listed
         * (deleted entries, or a name planted beyond the end). */
        uint64_t later_seq;
        /* Objects under audit/<ctrl>/ that are no entry name (not counted),
         * and the first of them (its backend name). */
        size_t n_foreign;
        char foreign[CN_AUDIT_NAME_MAX];
} CnAuditLog;
void cn_audit_log_done(CnAuditLog *l);

/* One entry's body, as FORMAT.md "Audit log" says (hash is not part of
 * it). Decode: -EBADMSG for anything the format does not allow; the
 * entry owns its items (cn_audit_entry_done()). Encode: -EINVAL for what
 * decode would refuse. */
int cn_audit_entry_decode(const uint8_t *p, size_t n, CnAuditEntry *ret);
int cn_audit_entry_encode(const CnAuditEntry *e, CnBuf *out);
void cn_audit_entry_done(CnAuditEntry *e);

/* Read and verify c's log (controller: 16 bytes; the controller may have
 * been erased). Only errors of the machine or the connection fail (then
 * ret is untouched); a broken log is a success with ret->broken set. */
int cn_audit_load(CnRepo *r, const uint8_t controller[CN_UUID_BYTES], CnAuditLog *ret);
/* The controllers that have a log (folders under audit/), sorted. */
int cn_audit_controllers(CnRepo *r, uint8_t (**ret)[CN_UUID_BYTES], size_t *ret_n);

/* The pseudonym of value under c's pseudonym key. */
int cn_audit_pseudonym(const CnController *c, const void *value, size_t n, uint8_t ret[CN_ID_BYTES]);
/* Whether e has field with exactly these bytes (a pseudonym: its hash). */
bool cn_audit_entry_has(const CnAuditEntry *e, unsigned field, const uint8_t *value, size_t n);

/* Names for output: "backup", "ok", "snapshot", ...; NULL if unknown. */
const char *cn_audit_kind_name(unsigned kind);
const char *cn_audit_outcome_name(unsigned outcome);
const char *cn_audit_field_name(unsigned field);
/* The entry as `audit show --json` prints it: {seq, time, kind, outcome,
 * hash, prev, fields: {name: value or [values]}}; pseudonyms, ids as hex,
 * numbers as integers; unknown kinds and tags by number. NULL: no memory. */
json_t *cn_audit_entry_json(const CnAuditEntry *e);

/* ---- checkpoints ---- */

typedef struct CnAuditCheckpoint {
        uint8_t repository[CN_UUID_BYTES];
        uint8_t processor[CN_UUID_BYTES];
        uint8_t controller[CN_UUID_BYTES];
        uint64_t entries;
        uint8_t head[CN_ID_BYTES];      /* hash of entry entries - 1; zeros when 0 */
        int64_t time;
        uint8_t public_key[CN_SIGN_PUBLIC_BYTES];
} CnAuditCheckpoint;

/* A signed checkpoint of the log l (which must not be broken) as the file
 * bytes (canonical JSON and a newline) into ret_json (replaced). */
int cn_audit_checkpoint(CnRepo *r, const CnAuditLog *l, CnBuf *ret_json);
/* Parse and verify a checkpoint file with public key pk (NULL: the key it
 * names). -EBADMSG not one (*ret_why says why), -EKEYREJECTED another key,
 * -EPROTONOSUPPORT another format, -E2BIG too large. */
int cn_audit_checkpoint_verify(const uint8_t *p, size_t n, const uint8_t *pk, CnAuditCheckpoint *ret,
                               const char **ret_why);
/* Hold l against a checkpoint of the same controller: 0 it extends it;
 * -ESTALE entries the checkpoint vouches for are gone (the tail was cut);
 * -EBADMSG the entry at the checkpoint's head differs (history rewritten).
 * *ret_why says which, as a static phrase. */
int cn_audit_check_against(const CnAuditLog *l, const CnAuditCheckpoint *cp, const char **ret_why);

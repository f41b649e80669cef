/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erasure certificates (docs/FORMAT.md "Certificates", the schema in
 * docs/certificate.schema.json): what one erasure did, as JSON signed with
 * the processor's Ed25519 key, verifiable offline with the public key alone.
 *
 *   file      = canonical({"certificate": C, "signature": S}) "\n"
 *   S         = {"algorithm": "Ed25519", "public_key": hex, "value": hex}
 *   value     = Ed25519(processor key, "cairn.erasure-certificate.v1\n" || canonical(C))
 *   C.id      = hex SHA-256 of canonical(C with "id": "")
 *   canonical = json_dumps(JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII)
 *
 * A verifier demands the file be byte for byte the canonical serialization
 * of what it parses, so no byte can change, appear or go unnoticed.
 * Stored as certificates/<id> (top level: a controller erasure deletes that
 * controller's folders, its certificate must stay), an envelope CAIRNCRT
 * under the repository's config key whose body is the file. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "format.h"
#include "repo.h"
#include "store.h"

#define CN_CERTIFICATE_FORMAT "cairn.erasure-certificate.v1"
/* What the signature covers: this, then the canonical "certificate" member. */
#define CN_CERTIFICATE_SIGN_DOMAIN CN_CERTIFICATE_FORMAT "\n"

/* Caps every reader enforces and every writer refuses to exceed. */
#define CN_CERTIFICATE_MAX_BYTES (16u << 20)    /* a whole file */
#define CN_CERTIFICATE_MAX_DEPTH 8              /* nesting of objects and arrays */
#define CN_CERTIFICATE_MAX_VALUES (1u << 20)    /* { [ , : outside strings in one file */
#define CN_CERTIFICATE_MAX_TEXT_BYTES 4096u     /* reason, a url, a residual line */
#define CN_CERTIFICATE_MAX_REFERENCE_BYTES 1024u
/* Integers are 0 to 2^63 - 1; times 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define CN_CERTIFICATE_MAX_TIME INT64_C(253402300799)

typedef enum CnCertificateScope {
        CN_CERTIFICATE_SCOPE_CONTROLLER = 1,    /* "controller" */
        CN_CERTIFICATE_SCOPE_SUBJECT,           /* "subject" */
        CN_CERTIFICATE_SCOPE_PATH,              /* "path" */
        CN_CERTIFICATE_SCOPE_SNAPSHOT,          /* "snapshot" */
} CnCertificateScope;

typedef enum CnCertificateStatus {
        /* everything done at every location: cryptographically_complete
         * set, every location done, nothing deferred */
        CN_CERTIFICATE_COMPLETE = 1,
        /* a location is unreachable or pending; not cryptographically
         * complete (cryptographically_complete false) */
        CN_CERTIFICATE_PARTIAL,
        /* part of it waits for holds: at least one deferred part */
        CN_CERTIFICATE_DEFERRED,
} CnCertificateStatus;

typedef enum CnCertificateLocationKind {
        CN_CERTIFICATE_LOCATION_REPOSITORY = 1, /* "repository" */
        CN_CERTIFICATE_LOCATION_REPLICA,        /* "replica" */
        CN_CERTIFICATE_LOCATION_KEY_STORE,      /* "key-store" */
} CnCertificateLocationKind;

typedef enum CnCertificateLocationStatus {
        CN_CERTIFICATE_LOCATION_DONE = 1,       /* "done" */
        CN_CERTIFICATE_LOCATION_UNREACHABLE,    /* "unreachable" */
        CN_CERTIFICATE_LOCATION_PENDING,        /* "pending" */
} CnCertificateLocationStatus;

typedef struct CnCertificateCounts {
        uint64_t snapshots_deleted;
        uint64_t snapshots_rewritten;
        uint64_t entries_erased;
        uint64_t bytes_erased;
        uint64_t chunks_destroyed;
        uint64_t keys_destroyed;
        uint64_t packs_deleted;
        uint64_t packs_rewritten;
} CnCertificateCounts;

/* What keeps a retained chunk: a snapshot outside the request, and the
 * pseudonym of the path in it. */
typedef struct CnCertificateKeeper {
        uint8_t snapshot[CN_ID_BYTES];
        uint8_t path_pseudonym[CN_ID_BYTES];
} CnCertificateKeeper;

/* Chunks kept because data outside the request references them. */
typedef struct CnCertificateRetained {
        uint64_t chunks;
        uint64_t bytes;
        const CnCertificateKeeper *kept_by;
        size_t n_kept_by;
} CnCertificateRetained;

typedef struct CnCertificateLocation {
        const char *url;                /* 1 to 4096 bytes, without credentials (no "user:password@") */
        CnCertificateLocationKind kind;
        CnCertificateLocationStatus status;
} CnCertificateLocation;

/* A part of the request a hold keeps for now. */
typedef struct CnCertificateDeferred {
        uint8_t hold[CN_ID_BYTES];
        const uint8_t (*snapshots)[CN_ID_BYTES];
        size_t n_snapshots;
        uint64_t entries;
} CnCertificateDeferred;

/* One certificate. Every string is UTF-8 without control characters
 * (U+0000 to U+001F, U+007F); lengths are in bytes. A certificate the
 * caller fills borrows its strings and arrays; one filled by
 * cn_certificate_decode(), cn_certificate_verify() or the readers below
 * owns them, and cn_certificate_done() frees them. */
typedef struct CnCertificate {
        char id_hex[CN_ID_HEX + 1];     /* output: set by sign and the readers, ignored as input */
        uint8_t processor_id[CN_UUID_BYTES];
        const char *processor_name;     /* 0 to 1024 bytes */
        uint8_t processor_public_key[CN_SIGN_PUBLIC_BYTES];
        uint8_t repository[CN_UUID_BYTES];
        uint8_t controller[CN_UUID_BYTES];
        /* request */
        CnCertificateScope scope;
        /* HMAC-SHA-256 of the request's value under the controller's
         * pseudonym key; for CN_CERTIFICATE_SCOPE_SNAPSHOT the snapshot
         * id itself may be given */
        uint8_t value_pseudonym[CN_ID_BYTES];
        const char *reference;          /* 0 to 1024 bytes ("" or NULL: none) */
        const char *reason;             /* 0 to 4096 bytes ("" or NULL: none) */
        int64_t requested_at;           /* times: seconds since 1970, UTC */
        /* outcome */
        CnCertificateStatus status;
        int64_t started_at;
        int64_t completed_at;
        bool cryptographically_complete; /* false: null (always while partial) */
        int64_t cryptographically_complete_at;
        uint32_t epoch_from;
        uint32_t epoch_to;
        CnCertificateCounts counts;     /* each at most INT64_MAX */
        const CnCertificateRetained *retained;
        size_t n_retained;
        const CnCertificateLocation *locations;
        size_t n_locations;
        const CnCertificateDeferred *deferred;
        size_t n_deferred;
        /* what an old copy still reveals: 1 to 4096 bytes each */
        const char *const *residual;
        size_t n_residual;
} CnCertificate;

/* Frees what a reader allocated (never call it on a certificate the caller
 * filled with borrowed pointers); NULL-tolerant; leaves *c zeroed. */
void cn_certificate_done(CnCertificate *c);

/* Encode c and sign it with sk (the processor's secret key; its public half
 * must be c->processor_public_key): the exact file bytes into ret_file
 * (replaced), the id into ret_id_hex. -EINVAL c breaks a rule of the
 * format (a string over its cap or not UTF-8 without controls, an unknown
 * enum, a status its fields contradict, a url with a password, an integer
 * over INT64_MAX, a time out of range), or sk is not of that key; -E2BIG
 * the file would exceed a cap above. The file is verified before it is
 * returned. */
int cn_certificate_sign(const CnCertificate *c, const uint8_t sk[CN_SIGN_SECRET_BYTES], CnBuf *ret_file,
                        char ret_id_hex[CN_ID_HEX + 1]);

/* Check file against the processor's public key pk: -E2BIG over
 * CN_CERTIFICATE_MAX_BYTES (nothing parsed); -EBADMSG not a certificate in
 * canonical form (not JSON, nested too deep, too many values, any byte
 * that differs from the canonical serialization, a member missing, extra
 * or of the wrong type, a rule of the format broken, the id not the hash
 * of the content) or a signature that does not match; -EPROTONOSUPPORT a
 * "format" other than CN_CERTIFICATE_FORMAT; -EKEYREJECTED signed by
 * (or naming as processor) another key than pk; -ENOMEM. On failure
 * *ret_why (may be NULL) says which check failed. On success *ret (may be
 * NULL) is the certificate, owned (cn_certificate_done()). */
int cn_certificate_verify(const uint8_t *file, size_t n, const uint8_t pk[CN_SIGN_PUBLIC_BYTES], CnCertificate *ret,
                          const char **ret_why);

/* Every check of cn_certificate_verify() but those of the key and the
 * signature: the structure, for fuzzing and tests. ret_public_key and
 * ret_signature (may be NULL) get the signature member's fields. */
int cn_certificate_decode(const uint8_t *file, size_t n, CnCertificate *ret,
                          uint8_t ret_public_key[CN_SIGN_PUBLIC_BYTES], uint8_t ret_signature[CN_SIGN_BYTES],
                          const char **ret_why);
/* The file of c with the given signature fields, unsigned: its inverse
 * (what cn_certificate_decode() accepts, this writes back byte for byte).
 * Errors as cn_certificate_sign(). */
int cn_certificate_encode(const CnCertificate *c, const uint8_t public_key[CN_SIGN_PUBLIC_BYTES],
                          const uint8_t signature[CN_SIGN_BYTES], CnBuf *ret_file);

/* jansson reports a failed allocation as a parse error like any other:
 * between cn_json_begin() and cn_json_end(r) on this thread, a failure r
 * (< 0) of a jansson call becomes -ENOMEM when an allocation failed. */
void cn_json_begin(void);
int cn_json_end(int r);

/* The signature member of every document cairn signs with the processor's
 * key (certificates, export manifests): {"algorithm": "Ed25519",
 * "public_key": hex, "value": hex}, lower-case hex. NULL: no memory. */
json_t *cn_signature_json(const uint8_t pk[CN_SIGN_PUBLIC_BYTES], const uint8_t sig[CN_SIGN_BYTES]);
/* Its fields from sig, which must be exactly that: -EBADMSG with *why
 * saying what is wrong. */
int cn_signature_from_json(const json_t *sig, uint8_t ret_pk[CN_SIGN_PUBLIC_BYTES], uint8_t ret_sig[CN_SIGN_BYTES],
                           const char **why);

/* Whether s may be a string of a certificate: valid UTF-8 without control
 * characters, at most max bytes (a caller checks --reason with it before
 * an erasure starts). */
bool cn_certificate_text_valid(const char *s, size_t max);

/* Names for messages and output. */
const char *cn_certificate_scope_name(CnCertificateScope s);
const char *cn_certificate_status_name(CnCertificateStatus s);
const char *cn_certificate_location_kind_name(CnCertificateLocationKind k);
const char *cn_certificate_location_status_name(CnCertificateLocationStatus s);
/* "YYYY-MM-DDTHH:MM:SSZ" of t (0 to CN_CERTIFICATE_MAX_TIME). */
#define CN_RFC3339_BYTES 21
void cn_certificate_time(int64_t t, char buf[CN_RFC3339_BYTES]);

/* ---- in the repository ---- */

/* Sign c with r's processor key and store it: c's processor and repository
 * fields are taken from r (whatever c holds there). The file into ret_file
 * (replaced; may be NULL), the id into ret_id_hex (may be NULL). The one
 * call an erasure makes. Errors of cn_certificate_sign() and
 * cn_certificate_put(). */
int cn_certificate_issue(CnRepo *r, const CnCertificate *c, CnBuf *ret_file, char ret_id_hex[CN_ID_HEX + 1]);

/* Store the certificate file as certificates/<id>, after verifying it with
 * r's processor key (errors of cn_certificate_verify()). Storing the same
 * file again is a success (an erasure resumed after a crash); -EEXIST
 * another object holds that name. */
int cn_certificate_put(CnRepo *r, const uint8_t *file, size_t n, char ret_id_hex[CN_ID_HEX + 1]);

/* The certificate certificates/<id_hex>: its file into ret_file (replaced;
 * may be NULL), decoded into ret (may be NULL). -ENOENT none of that id;
 * -EBADMSG the object does not open under r's config key, names another
 * processor, epoch or controller than the certificate, is not named by the
 * certificate's id, or the file does not verify with r's processor key;
 * -E2BIG oversized; -EPROTONOSUPPORT an unknown version. */
int cn_certificate_get(CnRepo *r, const char *id_hex, CnBuf *ret_file, CnCertificate *ret);

/* The id of the one certificate whose id starts with prefix (1 to 64 hex
 * digits, either case): returns how many stored certificates match and
 * sets ret_id_hex only when exactly one does; -EINVAL not hex. Lists the
 * names only. */
int cn_certificate_find(CnRepo *r, const char *prefix, char ret_id_hex[CN_ID_HEX + 1]);

typedef struct CnCertificates {
        CnCertificate *v;               /* by completed_at, then id */
        size_t n;
} CnCertificates;
void cn_certificates_done(CnCertificates *l);

/* Every stored certificate. One that does not open or verify (as
 * cn_certificate_get() checks) is passed to damaged and skipped, and
 * counted in *ret_damaged (may be NULL); damaged NULL: loading fails with
 * its error. Errors of the machine or the connection fail it either way. */
int cn_certificates_load(CnRepo *r, CnStoreDamagedFn damaged, void *userdata, CnCertificates *ret,
                         size_t *ret_damaged);

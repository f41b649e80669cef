/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Requests (docs/FORMAT.md "Requests"): access, erasure, rectification
 * and disclosure requests a controller received, with their reference,
 * dates and outcome, linked to the export or erasure certificate that
 * answered them.
 *
 *   request body = kind:u8 received:i64 reference:bytes32 scope:u8
 *                  scope_pseudonym[32] note:bytes32 creator:bytes32 created:i64
 *   closing body = request_id[32] outcome:u8 links:u8 export[32]
 *                  certificate[32] note:bytes32 creator:bytes32 created:i64
 *
 * Both are stored as requests/<ctrl>/<sha256 of the object>, sealed under
 * the controller's metadata key (magics CAIRNRQS and CAIRNRQC), written
 * once and never changed. A request is open until a closing that names it
 * is stored. The scope's value (a subject, a path pattern) is kept only as
 * its keyed pseudonym, so a request record outlives an erasure of what it
 * names without naming it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "repo.h"
#include "store.h"

typedef enum CnRequestKind {
        CN_REQUEST_ACCESS = 1,
        CN_REQUEST_ERASURE = 2,
        CN_REQUEST_RECTIFICATION = 3,
        CN_REQUEST_DISCLOSURE = 4,
} CnRequestKind;

typedef enum CnRequestScope {
        CN_REQUEST_SCOPE_NONE = 0, /* not said: the controller's data in general */
        CN_REQUEST_SCOPE_SUBJECT = 1,
        CN_REQUEST_SCOPE_PATH = 2,
        CN_REQUEST_SCOPE_CONTROLLER = 3,
} CnRequestScope;

typedef enum CnRequestOutcome {
        CN_REQUEST_ANSWERED = 1,
        CN_REQUEST_REFUSED = 2,
        CN_REQUEST_PARTIAL = 3,
        CN_REQUEST_WITHDRAWN = 4,
} CnRequestOutcome;

#define CN_MAX_REQUEST_NOTE_BYTES 4096u
#define CN_REQUEST_MAX_TIME INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

enum {
        CN_REQUEST_LINK_EXPORT = 1u << 0,
        CN_REQUEST_LINK_CERTIFICATE = 1u << 1,
};

typedef struct CnRequestClosing {
        uint8_t id[CN_ID_BYTES];
        char id_hex[CN_ID_HEX + 1];
        uint8_t request[CN_ID_BYTES]; /* the id of the request it closes */
        CnRequestOutcome outcome;
        unsigned links;                     /* CN_REQUEST_LINK_* */
        uint8_t export_digest[CN_ID_BYTES]; /* SHA-256 of the export file that answered it */
        uint8_t certificate[CN_ID_BYTES];   /* id of the erasure certificate that answered it */
        char *note;                         /* "" when none */
        char *creator;                      /* user@host */
        int64_t created;                    /* when it was closed */
} CnRequestClosing;

typedef struct CnRequest {
        uint8_t id[CN_ID_BYTES];
        char id_hex[CN_ID_HEX + 1];
        CnController *controller; /* borrowed from the repo; set by load, and by the caller of add */
        CnRequestKind kind;
        int64_t received; /* when the controller received it, seconds since 1970 UTC */
        char *reference;  /* the controller's case reference, 1 to CN_MAX_LABEL_BYTES */
        CnRequestScope scope;
        /* cn_audit_pseudonym() of the scope's value (the subject, the path
         * pattern, the controller's id in lower-case hex), as certificates'
         * value_pseudonym; zero for CN_REQUEST_SCOPE_NONE. */
        uint8_t scope_pseudonym[CN_ID_BYTES];
        char *note;                           /* "" when none */
        char *creator;
        int64_t created; /* when it was recorded */
        /* Filled by cn_requests_load(): the closing that ends it (the
         * oldest, if several), NULL while it is open. */
        const CnRequestClosing *closing;
} CnRequest;

typedef struct CnRequests {
        CnRequest *v; /* by received, then created, then id */
        size_t n;
        CnRequestClosing *closings;
        size_t n_closings;
} CnRequests;

void cn_request_done(CnRequest *q);
void cn_request_closing_done(CnRequestClosing *x);
void cn_requests_done(CnRequests *l);

const char *cn_request_kind_name(CnRequestKind k);       /* "access", ... ; NULL for none */
const char *cn_request_scope_name(CnRequestScope s);     /* "none", "subject", "path", "controller" */
const char *cn_request_outcome_name(CnRequestOutcome o); /* "answered", ... */
/* By name: 0 and *ret, or -EINVAL. */
int cn_request_kind_parse(const char *s, CnRequestKind *ret);
int cn_request_outcome_parse(const char *s, CnRequestOutcome *ret);

/* Bodies. Encoders refuse (-EINVAL) what decoders refuse (-EBADMSG): an
 * unknown kind, scope or outcome, a pseudonym or link field that is not
 * zero where it has no meaning, an empty reference, a field over its cap or
 * holding a NUL, a time outside 0 to CN_REQUEST_MAX_TIME. */
int cn_request_encode(const CnRequest *q, CnBuf *out);
int cn_request_decode(const uint8_t *p, size_t n, CnRequest *ret);
int cn_request_closing_encode(const CnRequestClosing *x, CnBuf *out);
int cn_request_closing_decode(const uint8_t *p, size_t n, CnRequestClosing *ret);

/* Store q as a request of q->controller; sets q->id and q->id_hex. */
int cn_request_add(CnRepo *repo, CnRequest *q);
/* Store a closing of q (x->request is set from q; x->id from the object).
 * -EALREADY q is closed already (q->closing). */
int cn_request_close(CnRepo *repo, const CnRequest *q, CnRequestClosing *x);

/* Every request and closing of controller c (NULL: of every controller).
 * An object under requests/ that does not open is passed to damaged (may
 * be NULL: loading fails with its error then) and counted in *ret_damaged
 * (may be NULL). */
int cn_requests_load(CnRepo *repo, const CnController *c, CnStoreDamagedFn damaged, void *userdata, CnRequests *ret,
                     size_t *ret_damaged);
/* The request whose id starts with prefix (1 to 64 hex digits, either
 * case): returns how many match and sets *ret only when exactly one does;
 * -EINVAL not hex. */
int cn_requests_find(CnRequests *l, const char *prefix, CnRequest **ret);
/* The stored bytes of requests/<ctrl>/<id> object name of c into ret
 * (replaced), checked as cn_requests_load() checks it: for a replica. */
int cn_request_read_object(CnRepo *repo, CnController *c, const char *name, CnBuf *ret);

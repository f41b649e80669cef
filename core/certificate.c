/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "certificate.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "envelope.h"
#include "hex.h"
#include "macro.h"
#include "utf8.h"

#define CANONICAL (JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII)
/* A stored certificate: the largest file, sealed. */
#define MAX_OBJECT_BYTES (CN_CERTIFICATE_MAX_BYTES + CN_ENVELOPE_HEADER_BYTES + CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES)

/* jansson reports a failed allocation as a parse or dump error like any
 * other (a parse that ran out of memory says "invalid token"): its
 * allocations go through json_alloc(), which notes a failure, so that the
 * callers here (and export's verify) return -ENOMEM for it instead of
 * calling a good certificate bad. Set once per process; it allocates as
 * jansson would. */
static __thread bool json_failed;
static void *json_alloc(size_t n) {
        void *p = malloc(n);
        if (!p)
                json_failed = true;
        return p;
}
static void json_setup(void) {
        json_set_alloc_funcs(json_alloc, free);
}
void cn_json_begin(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        (void) pthread_once(&once, json_setup);
        json_failed = false;
}
int cn_json_end(int r) {
        return r < 0 && json_failed ? -ENOMEM : r;
}

/* json_decrefp() is jansson's own (of json_auto_t). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* ---- names ---- */

static const char *const scope_names[] = {NULL, "controller", "subject", "path", "snapshot"};
static const char *const status_names[] = {NULL, "complete", "partial", "deferred"};
static const char *const kind_names[] = {NULL, "repository", "replica", "key-store"};
static const char *const location_status_names[] = {NULL, "done", "unreachable", "pending"};

static const char *name_of(const char *const *names, size_t n, int v) {
        return v > 0 && (size_t) v < n ? names[v] : NULL;
}
static int value_of(const char *const *names, size_t n, const char *s) {
        for (size_t i = 1; i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return (int) i;
        return 0;
}
#define NAME_OF(names, v) name_of(names, CN_ELEMENTSOF(names), (int) (v))
#define VALUE_OF(names, s) value_of(names, CN_ELEMENTSOF(names), s)

const char *cn_certificate_scope_name(CnCertificateScope s) {
        return NAME_OF(scope_names, s) ?: "?";
}
const char *cn_certificate_status_name(CnCertificateStatus s) {
        return NAME_OF(status_names, s) ?: "?";
}
const char *cn_certificate_location_kind_name(CnCertificateLocationKind k) {
        return NAME_OF(kind_names, k) ?: "?";
}
const char *cn_certificate_location_status_name(CnCertificateLocationStatus s) {
        return NAME_OF(location_status_names, s) ?: "?";
}

/* ---- the rules every field follows (writers and readers alike) ---- */

/* Valid UTF-8 (no overlong form, no surrogate, nothing above U+10FFFF)
 * without U+0000-U+001F and U+007F: the strings whose canonical form is
 * the same in jansson and in any JSON library (FORMAT.md "Certificates"). */
bool cn_certificate_text_valid(const char *s, size_t max) {
        size_t n;
        if (!s || (n = strlen(s)) > max)
                return false;
        for (size_t i = 0, len; i < n; i += len) {
                uint32_t cp;
                len = cn_utf8_decode((const unsigned char *) s + i, n - i, &cp);
                if (len == 0 || cp < 0x20 || cp == 0x7f)
                        return false;
        }
        return true;
}

/* A location's url holds no password: no "user:secret@" before the host. */
static bool url_valid(const char *url) {
        const char *pw, *pw_end;
        return cn_certificate_text_valid(url, CN_CERTIFICATE_MAX_TEXT_BYTES) && url[0] &&
               !cn_backend_url_password(url, &pw, &pw_end);
}

static bool time_valid(int64_t t) {
        return t >= 0 && t <= CN_CERTIFICATE_MAX_TIME;
}

static bool counts_valid(const CnCertificateCounts *k) {
        const uint64_t v[] = {k->snapshots_deleted, k->snapshots_rewritten, k->entries_erased, k->bytes_erased,
                              k->chunks_destroyed,  k->keys_destroyed,      k->packs_deleted,  k->packs_rewritten};
        for (size_t i = 0; i < CN_ELEMENTSOF(v); i++)
                if (v[i] > INT64_MAX)
                        return false;
        return true;
}

static bool certificate_valid(const CnCertificate *c) {
        bool all_done = true;

        if (!NAME_OF(scope_names, c->scope) || !NAME_OF(status_names, c->status))
                return false;
        if (!cn_certificate_text_valid(c->processor_name ?: "", CN_MAX_LABEL_BYTES) ||
            !cn_certificate_text_valid(c->reference ?: "", CN_CERTIFICATE_MAX_REFERENCE_BYTES) ||
            !cn_certificate_text_valid(c->reason ?: "", CN_CERTIFICATE_MAX_TEXT_BYTES))
                return false;
        if (!time_valid(c->requested_at) || !time_valid(c->started_at) || !time_valid(c->completed_at) ||
            (c->cryptographically_complete && !time_valid(c->cryptographically_complete_at)))
                return false;
        if (!counts_valid(&c->counts))
                return false;
        for (size_t i = 0; i < c->n_retained; i++) {
                const CnCertificateRetained *r = &c->retained[i];
                if (r->chunks > INT64_MAX || r->bytes > INT64_MAX || (r->n_kept_by && !r->kept_by))
                        return false;
        }
        for (size_t i = 0; i < c->n_locations; i++) {
                const CnCertificateLocation *l = &c->locations[i];
                if (!url_valid(l->url) || !NAME_OF(kind_names, l->kind) || !NAME_OF(location_status_names, l->status))
                        return false;
                all_done &= l->status == CN_CERTIFICATE_LOCATION_DONE;
        }
        for (size_t i = 0; i < c->n_deferred; i++) {
                const CnCertificateDeferred *d = &c->deferred[i];
                if (d->entries > INT64_MAX || (d->n_snapshots && !d->snapshots))
                        return false;
        }
        for (size_t i = 0; i < c->n_residual; i++)
                if (!cn_certificate_text_valid(c->residual[i], CN_CERTIFICATE_MAX_TEXT_BYTES) || !c->residual[i][0])
                        return false;
        if ((c->n_retained && !c->retained) || (c->n_locations && !c->locations) || (c->n_deferred && !c->deferred) ||
            (c->n_residual && !c->residual))
                return false;
        switch (c->status) {
        case CN_CERTIFICATE_COMPLETE:
                return c->cryptographically_complete && all_done && c->n_deferred == 0;
        case CN_CERTIFICATE_PARTIAL:
                return !c->cryptographically_complete && !all_done;
        case CN_CERTIFICATE_DEFERRED:
                return c->n_deferred > 0;
        }
        return false;
}

/* ---- times ---- */

void cn_certificate_time(int64_t t, char buf[CN_RFC3339_BYTES]) {
        time_t tt = (time_t) CN_MIN(CN_MAX(t, 0), CN_CERTIFICATE_MAX_TIME);
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || strftime(buf, CN_RFC3339_BYTES, "%Y-%m-%dT%H:%M:%SZ", &tm) != CN_RFC3339_BYTES - 1)
                snprintf(buf, CN_RFC3339_BYTES, "1970-01-01T00:00:00Z");
}

static int digits(const char *s, size_t n) {
        int v = 0;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
        return v;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" naming a real second in range: what
 * cn_certificate_time() writes, and nothing else. */
static int parse_time(const char *s, int64_t *ret) {
        static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
        char back[CN_RFC3339_BYTES];
        struct tm tm = {};

        if (strlen(s) != CN_RFC3339_BYTES - 1)
                return -EBADMSG;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
                        return -EBADMSG;
        tm.tm_year = digits(s, 4) - 1900;
        tm.tm_mon = digits(s + 5, 2) - 1;
        tm.tm_mday = digits(s + 8, 2);
        tm.tm_hour = digits(s + 11, 2);
        tm.tm_min = digits(s + 14, 2);
        tm.tm_sec = digits(s + 17, 2);
        time_t t = timegm(&tm);
        if (t == (time_t) -1 || !time_valid(t))
                return -EBADMSG;
        cn_certificate_time(t, back);
        if (strcmp(back, s) != 0)
                return -EBADMSG; /* 2026-02-30, 24:00:00, :60 */
        *ret = t;
        return 0;
}

/* ---- to JSON ---- */

static json_t *hex_json(const uint8_t *p, size_t n) {
        char hex[2 * CN_SIGN_BYTES + 1];
        assert(n <= CN_SIGN_BYTES);
        cn_hex_encode(p, n, hex);
        return json_string(hex);
}

static json_t *time_json(int64_t t) {
        char buf[CN_RFC3339_BYTES];
        cn_certificate_time(t, buf);
        return json_string(buf);
}

/* json_object_set_new() that also fails for a NULL value (an allocation
 * that failed): the value is released either way. */
static int put(json_t *o, const char *key, json_t *v) {
        if (!v || json_object_set_new(o, key, v) < 0)
                return -ENOMEM;
        return 0;
}

static int append(json_t *a, json_t *v) {
        if (!v || json_array_append_new(a, v) < 0)
                return -ENOMEM;
        return 0;
}

static json_t *counts_json(const CnCertificateCounts *k) {
        return json_pack("{sIsIsIsIsIsIsIsI}", "snapshots_deleted", (json_int_t) k->snapshots_deleted,
                         "snapshots_rewritten", (json_int_t) k->snapshots_rewritten, "entries_erased",
                         (json_int_t) k->entries_erased, "bytes_erased", (json_int_t) k->bytes_erased,
                         "chunks_destroyed", (json_int_t) k->chunks_destroyed, "keys_destroyed",
                         (json_int_t) k->keys_destroyed, "packs_deleted", (json_int_t) k->packs_deleted,
                         "packs_rewritten", (json_int_t) k->packs_rewritten);
}

static json_t *retained_json(const CnCertificateRetained *r) {
        _cleanup_json_ json_t *kept = json_array();
        if (!kept)
                return NULL;
        for (size_t i = 0; i < r->n_kept_by; i++)
                if (append(kept, json_pack("{soso}", "snapshot", hex_json(r->kept_by[i].snapshot, CN_ID_BYTES),
                                           "path_pseudonym", hex_json(r->kept_by[i].path_pseudonym, CN_ID_BYTES))) < 0)
                        return NULL;
        return json_pack("{sIsIsO}", "chunks", (json_int_t) r->chunks, "bytes", (json_int_t) r->bytes, "kept_by", kept);
}

static json_t *deferred_json(const CnCertificateDeferred *d) {
        _cleanup_json_ json_t *snaps = json_array();
        if (!snaps)
                return NULL;
        for (size_t i = 0; i < d->n_snapshots; i++)
                if (append(snaps, hex_json(d->snapshots[i], CN_ID_BYTES)) < 0)
                        return NULL;
        return json_pack("{sosOsI}", "hold", hex_json(d->hold, CN_ID_BYTES), "snapshots", snaps, "entries",
                         (json_int_t) d->entries);
}

/* The "certificate" member of c with id id (validated already). */
static int certificate_json(const CnCertificate *c, const char *id, json_t **ret) {
        _cleanup_json_ json_t *o = NULL, *retained = json_array(), *locations = json_array(), *deferred = json_array(),
                              *residual = json_array();
        int r;

        if (!retained || !locations || !deferred || !residual)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_retained; i++)
                if ((r = append(retained, retained_json(&c->retained[i]))) < 0)
                        return r;
        for (size_t i = 0; i < c->n_locations; i++) {
                const CnCertificateLocation *l = &c->locations[i];
                if ((r = append(locations, json_pack("{ssssss}", "url", l->url, "kind", NAME_OF(kind_names, l->kind),
                                                     "status", NAME_OF(location_status_names, l->status)))) < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_deferred; i++)
                if ((r = append(deferred, deferred_json(&c->deferred[i]))) < 0)
                        return r;
        for (size_t i = 0; i < c->n_residual; i++)
                if ((r = append(residual, json_string(c->residual[i]))) < 0)
                        return r;
        o = json_pack("{s:s, s:s, s:{s:o, s:s, s:o}, s:o, s:{s:o}, s:{s:s, s:o, s:s, s:s, s:o}}", "format",
                      CN_CERTIFICATE_FORMAT, "id", id, "processor", "id", hex_json(c->processor_id, CN_UUID_BYTES),
                      "name", c->processor_name ?: "", "public_key",
                      hex_json(c->processor_public_key, CN_SIGN_PUBLIC_BYTES), "repository",
                      hex_json(c->repository, CN_UUID_BYTES), "controller", "id",
                      hex_json(c->controller, CN_UUID_BYTES), "request", "scope", NAME_OF(scope_names, c->scope),
                      "value_pseudonym", hex_json(c->value_pseudonym, CN_ID_BYTES), "reference", c->reference ?: "",
                      "reason", c->reason ?: "", "requested_at", time_json(c->requested_at));
        if (!o)
                return -ENOMEM;
        if ((r = put(o, "status", json_string(NAME_OF(status_names, c->status)))) < 0 ||
            (r = put(o, "started_at", time_json(c->started_at))) < 0 ||
            (r = put(o, "completed_at", time_json(c->completed_at))) < 0 ||
            (r = put(o, "cryptographically_complete_at",
                     c->cryptographically_complete ? time_json(c->cryptographically_complete_at) : json_null())) < 0 ||
            (r = put(o, "epoch",
                     json_pack("{sIsI}", "from", (json_int_t) c->epoch_from, "to", (json_int_t) c->epoch_to))) < 0 ||
            (r = put(o, "counts", counts_json(&c->counts))) < 0 ||
            (r = put(o, "retained", json_incref(retained))) < 0 ||
            (r = put(o, "locations", json_incref(locations))) < 0 ||
            (r = put(o, "deferred", json_incref(deferred))) < 0 || (r = put(o, "residual", json_incref(residual))) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* The canonical serialization of j into out (replaced), plus a newline if asked. */
static int dump(const json_t *j, bool newline, CnBuf *out) {
        _cleanup_free_ char *s = json_dumps(j, CANONICAL);
        int r;
        if (!s)
                return -ENOMEM;
        cn_buf_reset(out);
        size_t n = strlen(s);
        if (n + newline > CN_CERTIFICATE_MAX_BYTES)
                return -E2BIG;
        if ((r = cn_buf_append(out, s, n)) < 0 || (newline && (r = cn_buf_append(out, "\n", 1)) < 0))
                return r;
        return 0;
}

/* The id of certificate member m: the SHA-256 of its canonical form with
 * "id" set to "". m's "id" is "" afterwards. */
static int certificate_id(json_t *m, char ret[CN_ID_HEX + 1]) {
        _cleanup_(cn_buf_donep) CnBuf b = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        uint8_t h[CN_ID_BYTES];
        int r;

        if ((r = put(m, "id", json_string(""))) < 0 || (r = dump(m, false, &b)) < 0)
                return r;
        cn_sha256(h, b.data, b.len);
        cn_hex_encode(h, CN_ID_BYTES, ret);
        return 0;
}

/* The whole document: {"certificate": m, "signature": {...}}. */
static int document_json(json_t *m, const uint8_t pk[CN_SIGN_PUBLIC_BYTES], const uint8_t sig[CN_SIGN_BYTES],
                         json_t **ret) {
        json_t *d = json_pack("{sOso}", "certificate", m, "signature", cn_signature_json(pk, sig));
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

/* The member of c with its id set, and that id. */
static int member_with_id(const CnCertificate *c, json_t **ret, char ret_id[CN_ID_HEX + 1]) {
        _cleanup_json_ json_t *m = NULL;
        char id[CN_ID_HEX + 1];
        int r;

        if (!certificate_valid(c))
                return -EINVAL;
        if ((r = certificate_json(c, "", &m)) < 0 || (r = certificate_id(m, id)) < 0 ||
            (r = put(m, "id", json_string(id))) < 0)
                return r;
        *ret = TAKE_PTR(m);
        memcpy(ret_id, id, sizeof id);
        return 0;
}

int cn_certificate_encode(const CnCertificate *c, const uint8_t public_key[CN_SIGN_PUBLIC_BYTES],
                          const uint8_t signature[CN_SIGN_BYTES], CnBuf *ret_file) {
        _cleanup_json_ json_t *m = NULL, *d = NULL;
        char id[CN_ID_HEX + 1];
        int r;

        cn_json_begin();
        if ((r = member_with_id(c, &m, id)) < 0 || (r = document_json(m, public_key, signature, &d)) < 0 ||
            (r = dump(d, true, ret_file)) < 0)
                return cn_json_end(r);
        return 0;
}

int cn_certificate_sign(const CnCertificate *c, const uint8_t sk[CN_SIGN_SECRET_BYTES], CnBuf *ret_file,
                        char ret_id_hex[CN_ID_HEX + 1]) {
        _cleanup_json_ json_t *m = NULL, *d = NULL;
        _cleanup_(cn_buf_donep) CnBuf msg = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + sizeof CN_CERTIFICATE_SIGN_DOMAIN);
        _cleanup_(cn_buf_donep) CnBuf member = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        _cleanup_(cn_buf_donep) CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        uint8_t sig[CN_SIGN_BYTES];
        char id[CN_ID_HEX + 1];
        int r;

        /* libsodium's secret key is seed || public key */
        if (!cn_memeq(sk + CN_SIGN_SECRET_BYTES - CN_SIGN_PUBLIC_BYTES, c->processor_public_key, CN_SIGN_PUBLIC_BYTES))
                return -EINVAL;
        cn_json_begin();
        if ((r = member_with_id(c, &m, id)) < 0 || (r = dump(m, false, &member)) < 0)
                return cn_json_end(r);
        if ((r = cn_buf_append(&msg, CN_CERTIFICATE_SIGN_DOMAIN, strlen(CN_CERTIFICATE_SIGN_DOMAIN))) < 0 ||
            (r = cn_buf_append(&msg, member.data, member.len)) < 0)
                return r;
        cn_sign(sig, msg.data, msg.len, sk);
        if ((r = document_json(m, c->processor_public_key, sig, &d)) < 0 || (r = dump(d, true, &file)) < 0)
                return cn_json_end(r);
        /* What a reader would refuse is never handed out (a file over the
         * caps, or a bug): verify it as a reader does. */
        r = cn_certificate_verify(file.data, file.len, c->processor_public_key, NULL, NULL);
        if (r < 0)
                return r;
        cn_buf_reset(ret_file);
        r = cn_buf_append(ret_file, file.data, file.len);
        if (r < 0)
                return r;
        memcpy(ret_id_hex, id, sizeof id);
        return 0;
}

json_t *cn_signature_json(const uint8_t pk[CN_SIGN_PUBLIC_BYTES], const uint8_t sig[CN_SIGN_BYTES]) {
        return json_pack("{sssoso}", "algorithm", "Ed25519", "public_key", hex_json(pk, CN_SIGN_PUBLIC_BYTES),
                         "value", hex_json(sig, CN_SIGN_BYTES));
}

/* ---- from JSON ---- */

void cn_certificate_done(CnCertificate *c) {
        if (!c)
                return;
        free((char *) c->processor_name);
        free((char *) c->reference);
        free((char *) c->reason);
        for (size_t i = 0; i < c->n_retained; i++)
                free((CnCertificateKeeper *) c->retained[i].kept_by);
        free((CnCertificateRetained *) c->retained);
        for (size_t i = 0; i < c->n_locations; i++)
                free((char *) c->locations[i].url);
        free((CnCertificateLocation *) c->locations);
        for (size_t i = 0; i < c->n_deferred; i++)
                free((void *) c->deferred[i].snapshots);
        free((CnCertificateDeferred *) c->deferred);
        for (size_t i = 0; i < c->n_residual; i++)
                free((char *) c->residual[i]);
        free((char **) c->residual);
        *c = (CnCertificate){};
}

void cn_certificates_done(CnCertificates *l) {
        for (size_t i = 0; i < l->n; i++)
                cn_certificate_done(&l->v[i]);
        free(l->v);
        *l = (CnCertificates){};
}

/* A reader's failure: *why gets the reason, the return value says -EBADMSG. */
#define BAD(why_text) (*why = (why_text), -EBADMSG)

/* o is an object with exactly these n keys. */
static bool exact(const json_t *o, const char *const *keys, size_t n) {
        if (!json_is_object(o) || json_object_size(o) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!json_object_get(o, keys[i]))
                        return false;
        return true;
}
#define EXACT(o, ...) exact(o, (const char *const[]){__VA_ARGS__}, CN_ELEMENTSOF(((const char *const[]){__VA_ARGS__})))

static bool get_hex(const json_t *o, const char *key, uint8_t *out, size_t n) {
        const char *s = json_string_value(json_object_get(o, key));
        return s && strlen(s) == 2 * n && strspn(s, "0123456789abcdef") == 2 * n && cn_hex_decode(s, out, n) == 0;
}

static bool get_int(const json_t *o, const char *key, uint64_t max, uint64_t *ret) {
        const json_t *v = json_object_get(o, key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > max)
                return false;
        *ret = (uint64_t) json_integer_value(v);
        return true;
}

static bool get_time(const json_t *o, const char *key, int64_t *ret) {
        const char *s = json_string_value(json_object_get(o, key));
        return s && parse_time(s, ret) == 0;
}

/* A string member within max bytes, copied (*ret malloc'd); -EBADMSG or -ENOMEM. */
static int get_text(const json_t *o, const char *key, size_t max, const char **ret) {
        const char *s = json_string_value(json_object_get(o, key));
        if (!s || !cn_certificate_text_valid(s, max))
                return -EBADMSG;
        char *d = strdup(s);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static int get_enum(const json_t *o, const char *key, const char *const *names, size_t n, int *ret) {
        const char *s = json_string_value(json_object_get(o, key));
        int v = s ? value_of(names, n, s) : 0;
        if (v == 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}
#define GET_ENUM(o, key, names, ret) get_enum(o, key, names, CN_ELEMENTSOF(names), (int *) (ret))

/* An array member: its elements and count (calloc'd room of size each in *ret). */
static int get_array(const json_t *o, const char *key, size_t size, void **ret, size_t *ret_n) {
        const json_t *a = json_object_get(o, key);
        if (!json_is_array(a))
                return -EBADMSG;
        size_t n = json_array_size(a);
        void *v = calloc(n ? n : 1, size);
        if (!v)
                return -ENOMEM;
        *ret = v;
        *ret_n = n;
        return 0;
}

static int retained_from(const json_t *e, CnCertificateRetained *r, const char **why) {
        CnCertificateKeeper *k = NULL;
        size_t n;
        int k_r;

        if (!EXACT(e, "chunks", "bytes", "kept_by") || !get_int(e, "chunks", INT64_MAX, &r->chunks) ||
            !get_int(e, "bytes", INT64_MAX, &r->bytes))
                return BAD("a \"retained\" entry is not {chunks, bytes, kept_by}");
        if ((k_r = get_array(e, "kept_by", sizeof *k, (void **) &k, &n)) < 0)
                return k_r == -ENOMEM ? k_r : BAD("\"kept_by\" is not an array");
        r->kept_by = k;
        r->n_kept_by = n;
        const json_t *a = json_object_get(e, "kept_by");
        for (size_t i = 0; i < n; i++) {
                const json_t *x = json_array_get(a, i);
                if (!EXACT(x, "snapshot", "path_pseudonym") || !get_hex(x, "snapshot", k[i].snapshot, CN_ID_BYTES) ||
                    !get_hex(x, "path_pseudonym", k[i].path_pseudonym, CN_ID_BYTES))
                        return BAD("a \"kept_by\" entry is not {snapshot, path_pseudonym} of 64 hex digits each");
        }
        return 0;
}

static int deferred_from(const json_t *e, CnCertificateDeferred *d, const char **why) {
        uint8_t(*s)[CN_ID_BYTES] = NULL;
        size_t n;
        int r;

        if (!EXACT(e, "hold", "snapshots", "entries") || !get_hex(e, "hold", d->hold, CN_ID_BYTES) ||
            !get_int(e, "entries", INT64_MAX, &d->entries))
                return BAD("a \"deferred\" entry is not {hold, snapshots, entries}");
        if ((r = get_array(e, "snapshots", sizeof *s, (void **) &s, &n)) < 0)
                return r == -ENOMEM ? r : BAD("a \"deferred\" entry's \"snapshots\" is not an array");
        d->snapshots = (const uint8_t(*)[CN_ID_BYTES]) s;
        d->n_snapshots = n;
        const json_t *a = json_object_get(e, "snapshots");
        for (size_t i = 0; i < n; i++) {
                const char *h = json_string_value(json_array_get(a, i));
                if (!h || strlen(h) != CN_ID_HEX || strspn(h, "0123456789abcdef") != CN_ID_HEX ||
                    cn_hex_decode(h, s[i], CN_ID_BYTES) < 0)
                        return BAD("a deferred snapshot is not 64 lower-case hex digits");
        }
        return 0;
}

/* The "certificate" member m into c (owned, zeroed first; partly filled on
 * failure, for cn_certificate_done()). */
static int certificate_from(const json_t *m, CnCertificate *c, const char **why) {
        const json_t *processor, *request, *counts, *epoch, *crypto, *a;
        const char *format, *id;
        uint64_t from, to;
        int r;

        if (!EXACT(m, "format", "id", "processor", "repository", "controller", "request", "status", "started_at",
                   "completed_at", "cryptographically_complete_at", "epoch", "counts", "retained", "locations",
                   "deferred", "residual"))
                return BAD("the \"certificate\" member does not have exactly the members of the format");
        format = json_string_value(json_object_get(m, "format"));
        if (!format || strcmp(format, CN_CERTIFICATE_FORMAT) != 0) {
                *why = "\"format\" is not " CN_CERTIFICATE_FORMAT;
                return format && strncmp(format, "cairn.erasure-certificate.", 26) == 0 ? -EPROTONOSUPPORT : -EBADMSG;
        }
        id = json_string_value(json_object_get(m, "id"));
        if (!id || strlen(id) != CN_ID_HEX || strspn(id, "0123456789abcdef") != CN_ID_HEX)
                return BAD("\"id\" is not 64 lower-case hex digits");
        memcpy(c->id_hex, id, CN_ID_HEX + 1);

        processor = json_object_get(m, "processor");
        if (!EXACT(processor, "id", "name", "public_key") ||
            !get_hex(processor, "id", c->processor_id, CN_UUID_BYTES) ||
            !get_hex(processor, "public_key", c->processor_public_key, CN_SIGN_PUBLIC_BYTES))
                return BAD("\"processor\" is not {id, name, public_key} of 32 and 64 hex digits");
        if ((r = get_text(processor, "name", CN_MAX_LABEL_BYTES, &c->processor_name)) < 0)
                return r == -ENOMEM ? r : BAD("the processor's name is not a string of the format");
        if (!get_hex(m, "repository", c->repository, CN_UUID_BYTES))
                return BAD("\"repository\" is not 32 lower-case hex digits");
        if (!EXACT(json_object_get(m, "controller"), "id") ||
            !get_hex(json_object_get(m, "controller"), "id", c->controller, CN_UUID_BYTES))
                return BAD("\"controller\" is not {id} of 32 lower-case hex digits");

        request = json_object_get(m, "request");
        if (!EXACT(request, "scope", "value_pseudonym", "reference", "reason", "requested_at") ||
            GET_ENUM(request, "scope", scope_names, &c->scope) < 0 ||
            !get_hex(request, "value_pseudonym", c->value_pseudonym, CN_ID_BYTES) ||
            !get_time(request, "requested_at", &c->requested_at))
                return BAD("\"request\" is not {scope, value_pseudonym, reference, reason, requested_at} as the "
                           "format says");
        if ((r = get_text(request, "reference", CN_CERTIFICATE_MAX_REFERENCE_BYTES, &c->reference)) < 0 ||
            (r = get_text(request, "reason", CN_CERTIFICATE_MAX_TEXT_BYTES, &c->reason)) < 0)
                return r == -ENOMEM ? r : BAD("the request's reference or reason is not a string of the format");

        if (GET_ENUM(m, "status", status_names, &c->status) < 0)
                return BAD("\"status\" is not complete, partial or deferred");
        if (!get_time(m, "started_at", &c->started_at) || !get_time(m, "completed_at", &c->completed_at))
                return BAD("\"started_at\" or \"completed_at\" is not a time YYYY-MM-DDTHH:MM:SSZ");
        crypto = json_object_get(m, "cryptographically_complete_at");
        c->cryptographically_complete = !json_is_null(crypto);
        if (c->cryptographically_complete &&
            !get_time(m, "cryptographically_complete_at", &c->cryptographically_complete_at))
                return BAD("\"cryptographically_complete_at\" is neither null nor a time YYYY-MM-DDTHH:MM:SSZ");

        epoch = json_object_get(m, "epoch");
        if (!EXACT(epoch, "from", "to") || !get_int(epoch, "from", UINT32_MAX, &from) ||
            !get_int(epoch, "to", UINT32_MAX, &to))
                return BAD("\"epoch\" is not {from, to} of integers 0 to 2^32-1");
        c->epoch_from = (uint32_t) from;
        c->epoch_to = (uint32_t) to;

        counts = json_object_get(m, "counts");
        CnCertificateCounts *k = &c->counts;
        if (!EXACT(counts, "snapshots_deleted", "snapshots_rewritten", "entries_erased", "bytes_erased",
                   "chunks_destroyed", "keys_destroyed", "packs_deleted", "packs_rewritten") ||
            !get_int(counts, "snapshots_deleted", INT64_MAX, &k->snapshots_deleted) ||
            !get_int(counts, "snapshots_rewritten", INT64_MAX, &k->snapshots_rewritten) ||
            !get_int(counts, "entries_erased", INT64_MAX, &k->entries_erased) ||
            !get_int(counts, "bytes_erased", INT64_MAX, &k->bytes_erased) ||
            !get_int(counts, "chunks_destroyed", INT64_MAX, &k->chunks_destroyed) ||
            !get_int(counts, "keys_destroyed", INT64_MAX, &k->keys_destroyed) ||
            !get_int(counts, "packs_deleted", INT64_MAX, &k->packs_deleted) ||
            !get_int(counts, "packs_rewritten", INT64_MAX, &k->packs_rewritten))
                return BAD("\"counts\" does not have exactly the counts of the format, as integers 0 to 2^63-1");

        CnCertificateRetained *ret_v = NULL;
        if ((r = get_array(m, "retained", sizeof *ret_v, (void **) &ret_v, &c->n_retained)) < 0)
                return r == -ENOMEM ? r : BAD("\"retained\" is not an array");
        c->retained = ret_v;
        a = json_object_get(m, "retained");
        for (size_t i = 0; i < c->n_retained; i++)
                if ((r = retained_from(json_array_get(a, i), &ret_v[i], why)) < 0)
                        return r;

        CnCertificateLocation *loc = NULL;
        if ((r = get_array(m, "locations", sizeof *loc, (void **) &loc, &c->n_locations)) < 0)
                return r == -ENOMEM ? r : BAD("\"locations\" is not an array");
        c->locations = loc;
        a = json_object_get(m, "locations");
        for (size_t i = 0; i < c->n_locations; i++) {
                const json_t *e = json_array_get(a, i);
                if (!EXACT(e, "url", "kind", "status") || GET_ENUM(e, "kind", kind_names, &loc[i].kind) < 0 ||
                    GET_ENUM(e, "status", location_status_names, &loc[i].status) < 0)
                        return BAD("a location is not {url, kind, status} as the format says");
                if ((r = get_text(e, "url", CN_CERTIFICATE_MAX_TEXT_BYTES, &loc[i].url)) < 0)
                        return r == -ENOMEM ? r : BAD("a location's url is not a string of the format");
                if (!url_valid(loc[i].url))
                        return BAD("a location's url is empty or holds a password");
        }

        CnCertificateDeferred *def = NULL;
        if ((r = get_array(m, "deferred", sizeof *def, (void **) &def, &c->n_deferred)) < 0)
                return r == -ENOMEM ? r : BAD("\"deferred\" is not an array");
        c->deferred = def;
        a = json_object_get(m, "deferred");
        for (size_t i = 0; i < c->n_deferred; i++)
                if ((r = deferred_from(json_array_get(a, i), &def[i], why)) < 0)
                        return r;

        const char **res = NULL;
        if ((r = get_array(m, "residual", sizeof *res, (void **) &res, &c->n_residual)) < 0)
                return r == -ENOMEM ? r : BAD("\"residual\" is not an array");
        c->residual = res;
        a = json_object_get(m, "residual");
        for (size_t i = 0; i < c->n_residual; i++) {
                const char *s = json_string_value(json_array_get(a, i));
                if (!s || !s[0] || !cn_certificate_text_valid(s, CN_CERTIFICATE_MAX_TEXT_BYTES))
                        return BAD("a \"residual\" entry is not a non-empty string of the format");
                if (!(res[i] = strdup(s)))
                        return -ENOMEM;
        }

        if (!certificate_valid(c))
                return BAD("\"status\" contradicts the certificate (complete needs every location done, nothing "
                           "deferred and a cryptographically_complete_at; partial needs a location not done and "
                           "null; deferred needs a deferred part)");
        return 0;
}

/* Before any parsing: at most CN_CERTIFICATE_MAX_DEPTH levels of nesting
 * and CN_CERTIFICATE_MAX_VALUES of the characters { [ , : outside strings
 * (each value but the first follows one), so the parser's work and memory
 * are bounded by far less than the input. */
static int prescan(const uint8_t *p, size_t n, const char **why) {
        size_t depth = 0, marks = 0;
        bool in_string = false;

        for (size_t i = 0; i < n; i++) {
                uint8_t c = p[i];
                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                if (c == '"')
                        in_string = true;
                else if ((c == '}' || c == ']') && depth > 0)
                        depth--;
                if (c != '{' && c != '[' && c != ',' && c != ':')
                        continue;
                if (++marks > CN_CERTIFICATE_MAX_VALUES) {
                        *why = "more JSON values than a certificate may hold";
                        return -E2BIG;
                }
                if ((c == '{' || c == '[') && ++depth > CN_CERTIFICATE_MAX_DEPTH)
                        return BAD("nested too deep for a certificate");
        }
        return 0;
}

/* Parse and check file up to (not including) key and signature: the
 * document into *ret_doc, the certificate into c. */
static int decode(const uint8_t *file, size_t n, json_t **ret_doc, CnCertificate *c, const char **why) {
        _cleanup_(cn_buf_donep) CnBuf canon = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        _cleanup_json_ json_t *doc = NULL;
        json_error_t err;
        int r;

        if (n > CN_CERTIFICATE_MAX_BYTES) {
                *why = "larger than a certificate may be (16 MiB)";
                return -E2BIG;
        }
        if ((r = prescan(file, n, why)) < 0)
                return r;
        doc = json_loadb((const char *) file, n, JSON_REJECT_DUPLICATES, &err);
        if (!doc) {
                if (json_error_code(&err) == json_error_out_of_memory)
                        return -ENOMEM;
                return BAD("not JSON");
        }
        r = dump(doc, true, &canon);
        if (r == -E2BIG || (r >= 0 && (canon.len != n || memcmp(canon.data, file, n) != 0)))
                return BAD("not in canonical form: a byte differs from the canonical serialization of what it holds "
                           "(changed, added or removed)");
        if (r < 0)
                return r;
        if (!EXACT(doc, "certificate", "signature"))
                return BAD("not a certificate: the document is not {certificate, signature}");
        uint8_t pk[CN_SIGN_PUBLIC_BYTES], value[CN_SIGN_BYTES];
        if ((r = cn_signature_from_json(json_object_get(doc, "signature"), pk, value, why)) < 0)
                return r;
        r = certificate_from(json_object_get(doc, "certificate"), c, why);
        if (r < 0)
                return r;
        *ret_doc = TAKE_PTR(doc);
        return 0;
}

int cn_signature_from_json(const json_t *sig, uint8_t ret_pk[CN_SIGN_PUBLIC_BYTES],
                           uint8_t ret_sig[CN_SIGN_BYTES], const char **why) {
        if (!EXACT(sig, "algorithm", "public_key", "value"))
                return BAD("\"signature\" is not {algorithm, public_key, value}");
        if (!json_is_string(json_object_get(sig, "algorithm")) ||
            strcmp(json_string_value(json_object_get(sig, "algorithm")), "Ed25519") != 0)
                return BAD("the signature's algorithm is not Ed25519");
        if (!get_hex(sig, "public_key", ret_pk, CN_SIGN_PUBLIC_BYTES) || !get_hex(sig, "value", ret_sig, CN_SIGN_BYTES))
                return BAD("the signature's public_key or value is not 64 or 128 lower-case hex digits");
        return 0;
}

static void sig_fields(const json_t *doc, uint8_t pk[CN_SIGN_PUBLIC_BYTES], uint8_t value[CN_SIGN_BYTES]) {
        const char *why;
        /* checked by decode() */
        (void) cn_signature_from_json(json_object_get(doc, "signature"), pk, value, &why);
}

/* The id check, then (pk given) the key and signature. */
static int check(json_t *doc, const CnCertificate *c, const uint8_t *pk, const char **why) {
        _cleanup_(cn_buf_donep) CnBuf msg = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + sizeof CN_CERTIFICATE_SIGN_DOMAIN);
        _cleanup_(cn_buf_donep) CnBuf member = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        json_t *m = json_object_get(doc, "certificate");
        uint8_t signer[CN_SIGN_PUBLIC_BYTES], value[CN_SIGN_BYTES];
        char id[CN_ID_HEX + 1];
        int r;

        if ((r = certificate_id(m, id)) < 0)
                return r;
        if (strcmp(id, c->id_hex) != 0)
                return BAD("\"id\" is not the SHA-256 of the certificate's content");
        if ((r = put(m, "id", json_string(c->id_hex))) < 0)
                return r;
        if (!pk)
                return 0;
        sig_fields(doc, signer, value);
        if (!cn_memeq(signer, pk, CN_SIGN_PUBLIC_BYTES)) {
                *why = "signed by another key than the one given";
                return -EKEYREJECTED;
        }
        if (!cn_memeq(c->processor_public_key, pk, CN_SIGN_PUBLIC_BYTES)) {
                *why = "it names another processor key than the one given";
                return -EKEYREJECTED;
        }
        if ((r = dump(m, false, &member)) < 0 ||
            (r = cn_buf_append(&msg, CN_CERTIFICATE_SIGN_DOMAIN, strlen(CN_CERTIFICATE_SIGN_DOMAIN))) < 0 ||
            (r = cn_buf_append(&msg, member.data, member.len)) < 0)
                return r;
        if (cn_sign_verify(value, msg.data, msg.len, pk) < 0)
                return BAD("the signature does not match the content: the certificate was changed after it was "
                           "signed, or it was never signed by this key");
        return 0;
}

static int decode_and_check(const uint8_t *file, size_t n, const uint8_t *pk, CnCertificate *ret, uint8_t *ret_pk,
                            uint8_t *ret_sig, const char **ret_why) {
        _cleanup_json_ json_t *doc = NULL;
        CnCertificate c = {};
        const char *why = NULL;
        int r;

        cn_json_begin();
        r = decode(file, n, &doc, &c, &why);
        if (r >= 0)
                r = check(doc, &c, pk, &why);
        r = cn_json_end(r);
        if (r == -ENOMEM)
                why = "out of memory";
        if (r < 0) {
                cn_certificate_done(&c);
                if (ret_why)
                        *ret_why = why ?: (r == -ENOMEM ? "out of memory" : "unreadable");
                return r;
        }
        if (ret_pk || ret_sig) {
                uint8_t spk[CN_SIGN_PUBLIC_BYTES], sig[CN_SIGN_BYTES];
                sig_fields(doc, spk, sig);
                if (ret_pk)
                        memcpy(ret_pk, spk, sizeof spk);
                if (ret_sig)
                        memcpy(ret_sig, sig, sizeof sig);
        }
        if (ret)
                *ret = c;
        else
                cn_certificate_done(&c);
        return 0;
}

int cn_certificate_decode(const uint8_t *file, size_t n, CnCertificate *ret,
                          uint8_t ret_public_key[CN_SIGN_PUBLIC_BYTES], uint8_t ret_signature[CN_SIGN_BYTES],
                          const char **ret_why) {
        return decode_and_check(file, n, NULL, ret, ret_public_key, ret_signature, ret_why);
}

int cn_certificate_verify(const uint8_t *file, size_t n, const uint8_t pk[CN_SIGN_PUBLIC_BYTES], CnCertificate *ret,
                          const char **ret_why) {
        return decode_and_check(file, n, pk, ret, NULL, NULL, ret_why);
}

/* ---- in the repository ---- */

#define FOLDER "certificates/"

static int config_key(CnRepo *r, uint8_t **ret) {
        _cleanup_secret_ uint8_t *key = cn_secret_new(CN_KEY_BYTES);
        int k;
        if (!key)
                return -ENOMEM;
        if ((k = cn_repo_config_key(r, key)) < 0)
                return k;
        *ret = TAKE_PTR(key);
        return 0;
}

/* Open the stored object obj of name under r's config key and verify its
 * body: the file into ret_file (may be NULL), the certificate into ret. */
static int open_object(CnRepo *r, const uint8_t *key, const char *name, const CnBuf *obj, CnBuf *body,
                       CnCertificate *ret) {
        CnEnvelopeHeader h;
        CnCertificate c = {};
        int k;

        k = cn_envelope_open(obj->data, obj->len, CN_MAGIC_CERTIFICATE, key, &h, body);
        if (k < 0)
                return k;
        if (!cn_memeq(h.processor, cn_repo_processor_id(r), CN_UUID_BYTES) || h.epoch != 0)
                return -EBADMSG;
        k = cn_certificate_verify(body->data, body->len, cn_repo_processor_public_key(r), &c, NULL);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return k == -E2BIG ? k : -EBADMSG;
        if (memcmp(h.controller, c.controller, CN_UUID_BYTES) != 0 || strcmp(name + strlen(FOLDER), c.id_hex) != 0) {
                cn_certificate_done(&c);
                return -EBADMSG;
        }
        *ret = c;
        return 0;
}

static int read_object(CnRepo *r, const uint8_t *key, const char *name, CnBuf *obj, CnBuf *body, CnCertificate *ret) {
        int k = cn_backend_get(cn_repo_backend(r), name, 0, CN_GET_ALL, obj);
        if (k < 0)
                return k;
        return open_object(r, key, name, obj, body, ret);
}

int cn_certificate_put(CnRepo *r, const uint8_t *file, size_t n, char ret_id_hex[CN_ID_HEX + 1]) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(MAX_OBJECT_BYTES);
        _cleanup_(cn_buf_donep) CnBuf old = CN_BUF_INIT(MAX_OBJECT_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        _cleanup_secret_ uint8_t *key = NULL;
        CnCertificate c = {};
        CnEnvelopeHeader h = {};
        char name[sizeof FOLDER + CN_ID_HEX];
        int k;

        k = cn_certificate_verify(file, n, cn_repo_processor_public_key(r), &c, NULL);
        if (k < 0)
                return k;
        memcpy(h.processor, cn_repo_processor_id(r), CN_UUID_BYTES);
        memcpy(h.controller, c.controller, CN_UUID_BYTES);
        snprintf(name, sizeof name, FOLDER "%s", c.id_hex);
        if (ret_id_hex)
                memcpy(ret_id_hex, c.id_hex, CN_ID_HEX + 1);
        cn_certificate_done(&c);
        if ((k = config_key(r, &key)) < 0 || (k = cn_envelope_seal(&obj, CN_MAGIC_CERTIFICATE, &h, key, file, n)) < 0)
                return k;
        k = cn_backend_put(cn_repo_backend(r), name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (k != -EEXIST)
                return k;
        /* There already: the same certificate (stored before a crash) is fine. */
        k = read_object(r, key, name, &old, &body, &c);
        if (k >= 0) {
                cn_certificate_done(&c);
                if (body.len == n && memcmp(body.data, file, n) == 0)
                        return 0;
        }
        return k == -ENOMEM ? k : -EEXIST;
}

int cn_certificate_issue(CnRepo *r, const CnCertificate *c, CnBuf *ret_file, char ret_id_hex[CN_ID_HEX + 1]) {
        _cleanup_(cn_buf_donep) CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        CnCertificate x = *c;
        char id[CN_ID_HEX + 1];
        int k;

        memcpy(x.processor_id, cn_repo_processor_id(r), CN_UUID_BYTES);
        memcpy(x.processor_public_key, cn_repo_processor_public_key(r), CN_SIGN_PUBLIC_BYTES);
        memcpy(x.repository, cn_repo_id(r), CN_UUID_BYTES);
        /* The name is informational (the uuid and key identify the
         * processor): one the format cannot hold is left out. */
        x.processor_name = cn_repo_processor_name(r);
        if (!cn_certificate_text_valid(x.processor_name, CN_MAX_LABEL_BYTES))
                x.processor_name = "";
        if ((k = cn_certificate_sign(&x, cn_repo_processor_secret_key(r), &file, id)) < 0 ||
            (k = cn_certificate_put(r, file.data, file.len, NULL)) < 0)
                return k;
        if (ret_file) {
                cn_buf_reset(ret_file);
                if ((k = cn_buf_append(ret_file, file.data, file.len)) < 0)
                        return k;
        }
        if (ret_id_hex)
                memcpy(ret_id_hex, id, sizeof id);
        return 0;
}

static bool id_hex_valid(const char *s) {
        return strlen(s) == CN_ID_HEX && strspn(s, "0123456789abcdef") == CN_ID_HEX;
}

int cn_certificate_get(CnRepo *r, const char *id_hex, CnBuf *ret_file, CnCertificate *ret) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(MAX_OBJECT_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        _cleanup_secret_ uint8_t *key = NULL;
        CnCertificate c = {};
        char name[sizeof FOLDER + CN_ID_HEX];
        int k;

        if (!id_hex_valid(id_hex))
                return -ENOENT;
        snprintf(name, sizeof name, FOLDER "%s", id_hex);
        if ((k = config_key(r, &key)) < 0 || (k = read_object(r, key, name, &obj, &body, &c)) < 0)
                return k;
        if (ret_file) {
                cn_buf_reset(ret_file);
                k = cn_buf_append(ret_file, body.data, body.len);
                if (k < 0) {
                        cn_certificate_done(&c);
                        return k;
                }
        }
        if (ret)
                *ret = c;
        else
                cn_certificate_done(&c);
        return 0;
}

int cn_certificate_find(CnRepo *r, const char *prefix, char ret_id_hex[CN_ID_HEX + 1]) {
        _cleanup_(cn_names_done) CnNames names = {};
        size_t len = strlen(prefix);
        const char *found = NULL;
        int count = 0, k;

        if (len == 0 || len > CN_ID_HEX || strspn(prefix, "0123456789abcdefABCDEF") != len)
                return -EINVAL;
        k = cn_backend_list_names(cn_repo_backend(r), FOLDER, &names);
        if (k < 0)
                return k;
        for (size_t i = 0; i < names.n; i++) {
                const char *id = names.v[i] + strlen(FOLDER);
                if (id_hex_valid(id) && strncasecmp(id, prefix, len) == 0) {
                        found = id;
                        if (count < INT32_MAX)
                                count++;
                }
        }
        if (count == 1)
                memcpy(ret_id_hex, found, CN_ID_HEX + 1);
        return count;
}

typedef struct LoadCtx {
        CnRepo *repo;
        const uint8_t *key;
        CnStoreDamagedFn damaged;
        void *userdata;
        CnCertificates list;
        size_t cap;
        size_t n_damaged;
        CnBuf obj, body;
} LoadCtx;

static int load_one(const char *name, _unused_ uint64_t size, void *u) {
        LoadCtx *x = u;
        CnCertificate c = {};
        int k = CN_GROW(x->list.v, x->cap, x->list.n);
        if (k < 0)
                return k;
        k = read_object(x->repo, x->key, name, &x->obj, &x->body, &c);
        if (k >= 0) {
                x->list.v[x->list.n++] = c;
                return 0;
        }
        if (k == -ENOENT)
                return 0; /* removed meanwhile */
        if (cn_store_error_is_environment(k) || !x->damaged)
                return k;
        x->damaged(name, k, x->userdata);
        x->n_damaged++;
        return 0;
}

static int certificate_cmp(const void *a, const void *b) {
        const CnCertificate *x = a, *y = b;
        if (x->completed_at != y->completed_at)
                return x->completed_at < y->completed_at ? -1 : 1;
        return strcmp(x->id_hex, y->id_hex);
}

int cn_certificates_load(CnRepo *r, CnStoreDamagedFn damaged, void *userdata, CnCertificates *ret,
                         size_t *ret_damaged) {
        _cleanup_secret_ uint8_t *key = NULL;
        LoadCtx x = {.repo = r, .damaged = damaged, .userdata = userdata};
        int k;

        if ((k = config_key(r, &key)) < 0)
                return k;
        x.key = key;
        cn_buf_init(&x.obj, MAX_OBJECT_BYTES);
        cn_buf_init(&x.body, CN_CERTIFICATE_MAX_BYTES);
        k = cn_backend_list(cn_repo_backend(r), FOLDER, load_one, &x);
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        if (k < 0) {
                cn_certificates_done(&x.list);
                return k;
        }
        if (x.list.n > 1)
                qsort(x.list.v, x.list.n, sizeof *x.list.v, certificate_cmp);
        *ret = x.list;
        if (ret_damaged)
                *ret_damaged = x.n_damaged;
        return 0;
}

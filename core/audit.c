/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "envelope.h"
#include "hex.h"
#include "macro.h"

#define CANONICAL (JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII)
#define _cleanup_json_ _cleanup_(json_decrefp)

#define SEQ_HEX 16
#define BODY_FIXED (8 + CN_ID_BYTES + 8 + 3)
#define MAX_BODY_BYTES (BODY_FIXED + CN_AUDIT_MAX_FIELDS * (2 + CN_AUDIT_MAX_TEXT_BYTES))
#define MAX_OBJECT_BYTES (MAX_BODY_BYTES + CN_ENVELOPE_HEADER_BYTES + CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES)
#define MAX_RACES 1000

CnAuditType cn_audit_field_type(unsigned field) {
        if (field >= 1 && field < 32)
                return CN_AUDIT_TYPE_PSEUDONYM;
        if (field >= 32 && field < 64)
                return CN_AUDIT_TYPE_ID;
        if (field >= 64 && field < 96)
                return CN_AUDIT_TYPE_U64;
        if (field >= 96 && field <= CN_AUDIT_F_MAX)
                return CN_AUDIT_TYPE_TEXT;
        return CN_AUDIT_TYPE_NONE;
}

/* Whether a field of this tag may have n bytes. */
static bool field_len_ok(unsigned field, size_t n) {
        switch (cn_audit_field_type(field)) {
        case CN_AUDIT_TYPE_PSEUDONYM:
        case CN_AUDIT_TYPE_ID:
                return n == CN_ID_BYTES;
        case CN_AUDIT_TYPE_U64:
                return n == 8;
        case CN_AUDIT_TYPE_TEXT:
                return n >= 1 && n <= CN_AUDIT_MAX_TEXT_BYTES;
        default:
                return false;
        }
}

/* ---- names ---- */

static const char *const kind_names[] = {
        [CN_AUDIT_INIT] = "init",           [CN_AUDIT_BACKUP] = "backup",       [CN_AUDIT_RESTORE] = "restore",
        [CN_AUDIT_DUMP] = "dump",           [CN_AUDIT_EXPORT] = "export",       [CN_AUDIT_COPY] = "copy",
        [CN_AUDIT_FORGET] = "forget",       [CN_AUDIT_PRUNE] = "prune",         [CN_AUDIT_ERASURE] = "erasure",
        [CN_AUDIT_HOLD] = "hold",           [CN_AUDIT_RELEASE] = "release",     [CN_AUDIT_BREAK_GLASS] = "break-glass",
        [CN_AUDIT_KEY] = "key",             [CN_AUDIT_LOCATION] = "location",   [CN_AUDIT_REQUEST] = "request",
        [CN_AUDIT_RETENTION] = "retention",
};
static const char *const outcome_names[] = {"ok", "failed", "refused", "partial"};
static const char *const field_names[CN_AUDIT_F_MAX + 1] = {
        [CN_AUDIT_F_HOST] = "host",
        [CN_AUDIT_F_USER] = "user",
        [CN_AUDIT_F_PATH] = "path",
        [CN_AUDIT_F_SUBJECT] = "subject",
        [CN_AUDIT_F_TEXT] = "text",
        [CN_AUDIT_F_URL] = "url",
        [CN_AUDIT_F_NAME] = "name",
        [CN_AUDIT_F_SNAPSHOT] = "snapshot",
        [CN_AUDIT_F_HOLD] = "hold",
        [CN_AUDIT_F_CERTIFICATE] = "certificate",
        [CN_AUDIT_F_REQUEST] = "request",
        [CN_AUDIT_F_DIGEST] = "digest",
        [CN_AUDIT_F_FILES] = "files",
        [CN_AUDIT_F_BYTES] = "bytes",
        [CN_AUDIT_F_SNAPSHOTS] = "snapshots",
        [CN_AUDIT_F_EPOCH] = "epoch",
        [CN_AUDIT_F_ACTION] = "action",
        [CN_AUDIT_F_SCOPE] = "scope",
        [CN_AUDIT_F_LOCATION] = "location",
        [CN_AUDIT_F_PROVIDER] = "provider",
        [CN_AUDIT_F_REGION] = "region",
        [CN_AUDIT_F_KIND] = "kind",
};

const char *cn_audit_kind_name(unsigned kind) {
        return kind < CN_ELEMENTSOF(kind_names) ? kind_names[kind] : NULL;
}
const char *cn_audit_outcome_name(unsigned outcome) {
        return outcome < CN_ELEMENTSOF(outcome_names) ? outcome_names[outcome] : NULL;
}
const char *cn_audit_field_name(unsigned field) {
        return field <= CN_AUDIT_F_MAX ? field_names[field] : NULL;
}

/* ---- events ---- */

struct CnAuditEvent {
        CnAuditKind kind;
        CnAuditOutcome outcome;
        size_t n;
        CnAuditItem items[CN_AUDIT_MAX_FIELDS];
        /* pseudonym values, until append hashes them: items[i] of a
         * pseudonym tag holds no value, values[i] does */
        uint8_t *values[CN_AUDIT_MAX_FIELDS];
        size_t value_lens[CN_AUDIT_MAX_FIELDS];
        /* cn_audit_event_bind(): the pseudonyms are computed (values
         * freed), the actor's are in actor[], for this controller */
        bool bound;
        uint8_t controller[CN_UUID_BYTES];
        CnAuditItem actor[2];
};

int cn_audit_event_new(CnAuditKind kind, CnAuditOutcome outcome, CnAuditEvent **ret) {
        CnAuditEvent *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->kind = kind;
        e->outcome = outcome;
        *ret = e;
        return 0;
}

CnAuditEvent *cn_audit_event_free(CnAuditEvent *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n; i++)
                cn_secret_free(e->values[i]);
        free(e);
        return NULL;
}

void cn_audit_event_set_outcome(CnAuditEvent *e, CnAuditOutcome outcome) {
        e->outcome = outcome;
}

static int event_add(CnAuditEvent *e, unsigned field, CnAuditType type, const void *p, size_t n) {
        if (cn_audit_field_type(field) != type || !field_len_ok(field, n))
                return -EINVAL;
        if (e->n >= CN_AUDIT_MAX_FIELDS)
                return -E2BIG;
        CnAuditItem *it = &e->items[e->n];
        it->field = field;
        it->len = (uint8_t) n;
        memcpy(it->value, p, n);
        e->n++;
        return 0;
}

int cn_audit_event_pseudonym(CnAuditEvent *e, unsigned field, const void *value, size_t n) {
        uint8_t zero[CN_ID_BYTES] = {};
        uint8_t *copy;
        int r;

        if (cn_audit_field_type(field) != CN_AUDIT_TYPE_PSEUDONYM)
                return -EINVAL;
        if (!(copy = cn_secret_new(n ? n : 1)))
                return -ENOMEM;
        memcpy(copy, value, n);
        if ((r = event_add(e, field, CN_AUDIT_TYPE_PSEUDONYM, zero, sizeof zero)) < 0) {
                cn_secret_free(copy);
                return r;
        }
        e->values[e->n - 1] = copy;
        e->value_lens[e->n - 1] = n;
        return 0;
}

int cn_audit_event_id(CnAuditEvent *e, unsigned field, const uint8_t id[CN_ID_BYTES]) {
        return event_add(e, field, CN_AUDIT_TYPE_ID, id, CN_ID_BYTES);
}

int cn_audit_event_u64(CnAuditEvent *e, unsigned field, uint64_t v) {
        uint8_t b[8];
        for (size_t i = 0; i < 8; i++)
                b[i] = (uint8_t) (v >> (8 * i));
        return event_add(e, field, CN_AUDIT_TYPE_U64, b, sizeof b);
}

int cn_audit_event_text(CnAuditEvent *e, unsigned field, const char *s) {
        uint8_t b[CN_AUDIT_MAX_TEXT_BYTES];
        size_t n = strnlen(s, CN_AUDIT_MAX_TEXT_BYTES);
        if (n == 0)
                return cn_audit_field_type(field) == CN_AUDIT_TYPE_TEXT ? 0 : -EINVAL;
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t) s[i] >= 0x20 && (uint8_t) s[i] <= 0x7e ? (uint8_t) s[i] : '?';
        return event_add(e, field, CN_AUDIT_TYPE_TEXT, b, n);
}

int cn_audit_event_copy(const CnAuditEvent *e, CnAuditEvent **ret) {
        CnAuditEvent *x = malloc(sizeof *x);
        if (!x)
                return -ENOMEM;
        *x = *e;
        for (size_t i = 0; i < e->n; i++)
                x->values[i] = NULL;
        for (size_t i = 0; i < e->n; i++)
                if (e->values[i]) {
                        if (!(x->values[i] = cn_secret_new(e->value_lens[i] ? e->value_lens[i] : 1))) {
                                cn_audit_event_free(x);
                                return -ENOMEM;
                        }
                        memcpy(x->values[i], e->values[i], e->value_lens[i]);
                }
        *ret = x;
        return 0;
}

/* ---- bodies ---- */

static int body_encode(uint64_t seq, const uint8_t prev[CN_ID_BYTES], int64_t t, unsigned kind, unsigned outcome,
                       const CnAuditItem *items, size_t n, CnBuf *out) {
        int r;
        if (n > CN_AUDIT_MAX_FIELDS || kind == 0 || kind > 255 || outcome > 255)
                return -EINVAL;
        if ((r = cn_buf_put_u64(out, seq)) < 0 || (r = cn_buf_append(out, prev, CN_ID_BYTES)) < 0 ||
            (r = cn_buf_put_i64(out, t)) < 0 || (r = cn_buf_put_u8(out, (uint8_t) kind)) < 0 ||
            (r = cn_buf_put_u8(out, (uint8_t) outcome)) < 0 || (r = cn_buf_put_u8(out, (uint8_t) n)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (!field_len_ok(items[i].field, items[i].len))
                        return -EINVAL;
                if ((r = cn_buf_put_u8(out, (uint8_t) items[i].field)) < 0 ||
                    (r = cn_buf_put_u8(out, items[i].len)) < 0 ||
                    (r = cn_buf_append(out, items[i].value, items[i].len)) < 0)
                        return r;
        }
        return 0;
}

int cn_audit_entry_decode(const uint8_t *p, size_t n, CnAuditEntry *e) {
        CnReader rd;
        uint8_t kind, outcome, count;
        int r;

        cn_reader_init(&rd, p, n);
        if (cn_reader_u64(&rd, &e->seq) < 0 || cn_reader_get(&rd, e->prev, CN_ID_BYTES) < 0 ||
            cn_reader_i64(&rd, &e->time) < 0 || cn_reader_u8(&rd, &kind) < 0 || cn_reader_u8(&rd, &outcome) < 0 ||
            cn_reader_u8(&rd, &count) < 0)
                return -EBADMSG;
        if (kind == 0 || count > CN_AUDIT_MAX_FIELDS)
                return -EBADMSG;
        e->kind = kind;
        e->outcome = outcome;
        e->items = count ? calloc(count, sizeof *e->items) : NULL;
        if (count && !e->items)
                return -ENOMEM;
        e->n_items = count;
        for (size_t i = 0; i < count; i++) {
                uint8_t tag, len;
                if (cn_reader_u8(&rd, &tag) < 0 || cn_reader_u8(&rd, &len) < 0 || !field_len_ok(tag, len) ||
                    cn_reader_get(&rd, e->items[i].value, len) < 0) {
                        r = -EBADMSG;
                        goto fail;
                }
                if (cn_audit_field_type(tag) == CN_AUDIT_TYPE_TEXT)
                        for (size_t j = 0; j < len; j++)
                                if (e->items[i].value[j] < 0x20 || e->items[i].value[j] > 0x7e) {
                                        r = -EBADMSG;
                                        goto fail;
                                }
                e->items[i].field = tag;
                e->items[i].len = len;
        }
        if (!cn_reader_empty(&rd)) {
                r = -EBADMSG;
                goto fail;
        }
        return 0;
fail:
        free(e->items);
        e->items = NULL;
        e->n_items = 0;
        return r;
}

int cn_audit_entry_encode(const CnAuditEntry *e, CnBuf *out) {
        return body_encode(e->seq, e->prev, e->time, e->kind, e->outcome, e->items, e->n_items, out);
}

void cn_audit_entry_done(CnAuditEntry *e) {
        free(e->items);
        *e = (CnAuditEntry) {};
}

/* ---- keys, names ---- */

static int audit_key(const CnRepo *r, uint8_t **ret) {
        _cleanup_secret_ uint8_t *key = cn_secret_new(CN_KEY_BYTES);
        int k;
        if (!key)
                return -ENOMEM;
        if ((k = cn_repo_audit_key(r, key)) < 0)
                return k;
        *ret = TAKE_PTR(key);
        return 0;
}

int cn_audit_pseudonym(const CnController *c, const void *value, size_t n, uint8_t ret[CN_ID_BYTES]) {
        _cleanup_secret_ uint8_t *key = cn_secret_new(CN_KEY_BYTES);
        int r;
        if (!key)
                return -ENOMEM;
        if ((r = cn_kdf_derive(key, CN_KEY_BYTES, CN_SUBKEY_PSEUDONYM, CN_KDF_CTX_DOMAIN, c->root)) < 0)
                return r;
        cn_id_hmac(ret, value, n, key);
        return 0;
}

#define ENTRY_NAME_MAX (sizeof CN_AUDIT_FOLDER + CN_UUID_HEX + 1 + SEQ_HEX)
static void entry_name(const uint8_t controller[CN_UUID_BYTES], uint64_t seq, char ret[ENTRY_NAME_MAX]) {
        char hex[CN_UUID_HEX + 1];
        cn_hex_encode(controller, CN_UUID_BYTES, hex);
        snprintf(ret, ENTRY_NAME_MAX, CN_AUDIT_FOLDER "%s/%016" PRIx64, hex, seq);
}

/* The seq a name's last component spells: exactly 16 lower-case hex digits. */
static bool seq_parse(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (strlen(s) != SEQ_HEX || strspn(s, "0123456789abcdef") != SEQ_HEX)
                return false;
        for (size_t i = 0; i < SEQ_HEX; i++)
                v = v << 4 | (uint64_t) (s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
        *ret = v;
        return true;
}

typedef struct Listing {
        uint64_t *seqs;
        size_t n, cap;
        size_t n_foreign;
        char foreign[CN_AUDIT_NAME_MAX]; /* the first of them */
        size_t prefix_len;
} Listing;

static int list_one(const char *name, _unused_ uint64_t size, void *u) {
        Listing *l = u;
        uint64_t seq;
        int r;
        if (!seq_parse(name + l->prefix_len, &seq)) {
                if (l->n_foreign++ == 0)
                        snprintf(l->foreign, sizeof l->foreign, "%s", name);
                return 0;
        }
        if ((r = CN_GROW(l->seqs, l->cap, l->n)) < 0)
                return r;
        l->seqs[l->n++] = seq;
        return 0;
}

static int seq_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int list_seqs(CnRepo *r, const uint8_t controller[CN_UUID_BYTES], Listing *ret) {
        char prefix[sizeof CN_AUDIT_FOLDER + CN_UUID_HEX + 1];
        char hex[CN_UUID_HEX + 1];
        int k;
        cn_hex_encode(controller, CN_UUID_BYTES, hex);
        snprintf(prefix, sizeof prefix, CN_AUDIT_FOLDER "%s/", hex);
        ret->prefix_len = strlen(prefix);
        k = cn_backend_list(cn_repo_backend(r), prefix, list_one, ret);
        if (k < 0) {
                free(ret->seqs);
                return k;
        }
        if (ret->n)
                qsort(ret->seqs, ret->n, sizeof *ret->seqs, seq_cmp);
        return 0;
}

/* ---- reading one entry ---- */

static const char WHY_MISSING[] = "is missing (deleted), though later entries exist";

/* Entry seq of controller's log, read and opened: 0 it is an entry of this
 * log (into *ret, its hash set; the caller frees its items); 1 it is not
 * (*ret_why says why, a static phrase); or an error of the machine or the
 * connection. obj and body are scratch buffers. */
static int read_entry(CnRepo *r, const uint8_t *key, const uint8_t controller[CN_UUID_BYTES], uint64_t seq, CnBuf *obj,
                      CnBuf *body, CnAuditEntry *ret, const char **ret_why) {
        CnEnvelopeHeader h;
        CnAuditEntry e = {};
        char name[ENTRY_NAME_MAX];
        int k;

        entry_name(controller, seq, name);
        k = cn_backend_get(cn_repo_backend(r), name, 0, CN_GET_ALL, obj);
        if (k == -ENOENT) {
                *ret_why = WHY_MISSING;
                return 1;
        }
        if (k == -E2BIG) {
                *ret_why = "is larger than any entry can be (replaced)";
                return 1;
        }
        if (k < 0)
                return k;
        k = cn_envelope_open(obj->data, obj->len, CN_MAGIC_AUDIT, key, &h, body);
        if (k == -ENOMEM)
                return k;
        if (k < 0 || h.epoch != 0 || memcmp(h.controller, controller, CN_UUID_BYTES) != 0 ||
            memcmp(h.processor, cn_repo_processor_id(r), CN_UUID_BYTES) != 0) {
                *ret_why = "does not open under this repository's audit key for this controller "
                           "(edited, replaced or damaged)";
                return 1;
        }
        k = cn_audit_entry_decode(body->data, body->len, &e);
        if (k == -ENOMEM)
                return k;
        if (k < 0) {
                *ret_why = "opens but its body breaks the format";
                return 1;
        }
        if (e.seq != seq) {
                free(e.items);
                *ret_why = "holds another entry's sequence number (moved)";
                return 1;
        }
        cn_sha256(e.hash, obj->data, obj->len);
        *ret = e;
        return 0;
}

/* ---- append ---- */

/* Objects above the end of a log that append steps over (planted or
 * damaged names): more, and it starts after the highest name. */
#define MAX_STEP_OVER 64

/* Who acts: this host's name and the effective user's name. */
static void actor(char *host, size_t host_size, const char **ret_user) {
        struct passwd *pw;
        host[0] = 0;
        if (gethostname(host, host_size - 1) < 0)
                host[0] = 0;
        host[host_size - 1] = 0;
        pw = getpwuid(geteuid());
        *ret_user = pw && pw->pw_name ? pw->pw_name : "";
}

int cn_audit_event_bind(CnAuditEvent *e, const CnController *c) {
        _cleanup_secret_ uint8_t *pkey = cn_secret_new(CN_KEY_BYTES);
        char host[256];
        const char *user;
        int k;

        if (e->bound)
                return memcmp(e->controller, c->id, CN_UUID_BYTES) == 0 ? 0 : -EINVAL;
        if (!pkey)
                return -ENOMEM;
        if ((k = cn_kdf_derive(pkey, CN_KEY_BYTES, CN_SUBKEY_PSEUDONYM, CN_KDF_CTX_DOMAIN, c->root)) < 0)
                return k;
        actor(host, sizeof host, &user);
        e->actor[0] = (CnAuditItem) {.field = CN_AUDIT_F_HOST, .len = CN_ID_BYTES};
        cn_id_hmac(e->actor[0].value, host, strlen(host), pkey);
        e->actor[1] = (CnAuditItem) {.field = CN_AUDIT_F_USER, .len = CN_ID_BYTES};
        cn_id_hmac(e->actor[1].value, user, strlen(user), pkey);
        for (size_t i = 0; i < e->n; i++)
                if (e->values[i]) {
                        cn_id_hmac(e->items[i].value, e->values[i], e->value_lens[i], pkey);
                        cn_secret_free(e->values[i]);
                        e->values[i] = NULL;
                }
        memcpy(e->controller, c->id, CN_UUID_BYTES);
        e->bound = true;
        return 0;
}

int cn_audit_append(CnRepo *r, const CnController *c, CnAuditEvent *e, uint64_t *ret_seq) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(MAX_BODY_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(MAX_OBJECT_BYTES);
        _cleanup_(cn_buf_donep) CnBuf head = CN_BUF_INIT(MAX_OBJECT_BYTES);
        _cleanup_secret_ uint8_t *key = NULL;
        CnAuditItem items[CN_AUDIT_MAX_FIELDS];
        Listing l = {};
        CnEnvelopeHeader h = {.version = 1};
        uint8_t prev[CN_ID_BYTES] = {};
        char name[ENTRY_NAME_MAX];
        size_t n = 0, next = 0;
        uint64_t seq = 0;
        bool have_prev = false, overflow = false;
        int k;

        if (c && (k = cn_audit_event_bind(e, c)) < 0)
                return k;
        if (!e->bound)
                return -EINVAL;
        if ((k = audit_key(r, &key)) < 0)
                return k;
        /* The acting host and user first, then the event's fields (the
         * last two of a full event give way to them). */
        items[n++] = e->actor[0];
        items[n++] = e->actor[1];
        for (size_t i = 0; i < e->n && n < CN_AUDIT_MAX_FIELDS; i++)
                items[n++] = e->items[i];

        /* The end of the log: the highest listed entry that is one of this
         * log. Names above it that are not (planted, or damaged) are
         * stepped over, so that one planted name (ffffffffffffffff) neither
         * stops the log nor puts every later entry beyond a gap. */
        if ((k = list_seqs(r, e->controller, &l)) < 0)
                return k;
        next = l.n;
        for (size_t walked = 0; next > 0 && walked < MAX_STEP_OVER; walked++) {
                CnAuditEntry last = {};
                const char *why;
                k = read_entry(r, key, e->controller, l.seqs[--next], &head, &body, &last, &why);
                if (k < 0) {
                        free(l.seqs);
                        return k;
                }
                if (k == 0) {
                        memcpy(prev, last.hash, CN_ID_BYTES);
                        free(last.items);
                        have_prev = true;
                        seq = l.seqs[next++] + 1;
                        overflow = seq == 0;
                        break;
                }
                if (walked + 1 == MAX_STEP_OVER) {
                        /* too many: after the highest name, as before */
                        next = l.n;
                        seq = l.seqs[l.n - 1] + 1;
                        overflow = seq == 0;
                }
        }
        /* then the first seq no name takes */
        for (; !overflow && next < l.n && l.seqs[next] <= seq; next++)
                if (l.seqs[next] == seq) {
                        overflow = ++seq == 0;
                        have_prev = false;
                }
        free(l.seqs);
        if (overflow)
                return -EOVERFLOW; /* no seq left after the names */

        memcpy(h.processor, cn_repo_processor_id(r), CN_UUID_BYTES);
        memcpy(h.controller, e->controller, CN_UUID_BYTES);
        for (unsigned attempt = 0;; attempt++) {
                if (seq > 0 && !have_prev) {
                        entry_name(e->controller, seq - 1, name);
                        k = cn_backend_get(cn_repo_backend(r), name, 0, CN_GET_ALL, &head);
                        if (k == -ENOENT || k == -E2BIG)
                                /* a gap or an oversized object: chain to
                                 * what is not there; verify names it */
                                memset(prev, 0, sizeof prev);
                        else if (k < 0)
                                return k;
                        else
                                cn_sha256(prev, head.data, head.len);
                }
                cn_buf_reset(&body);
                cn_buf_reset(&obj);
                if ((k = body_encode(seq, prev, (int64_t) time(NULL), e->kind, e->outcome, items, n, &body)) < 0 ||
                    (k = cn_envelope_seal(&obj, CN_MAGIC_AUDIT, &h, key, body.data, body.len)) < 0)
                        return k;
                entry_name(e->controller, seq, name);
                k = cn_backend_put(cn_repo_backend(r), name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
                if (k >= 0)
                        break;
                if (k != -EEXIST)
                        return k;
                if (attempt + 1 >= MAX_RACES)
                        return -EBUSY;
                if (++seq == 0)
                        return -EOVERFLOW;
                have_prev = false;
        }
        if (ret_seq)
                *ret_seq = seq;
        return 0;
}

int cn_audit_append_all(CnRepo *r, const CnAuditEvent *e) {
        int first = 0;
        for (size_t i = 0; i < cn_repo_n_controllers(r); i++) {
                CnAuditEvent *copy = NULL;
                int k = cn_audit_event_copy(e, &copy);
                if (k >= 0)
                        k = cn_audit_append(r, cn_repo_controller(r, i), copy, NULL);
                cn_audit_event_free(copy);
                if (k < 0 && first == 0)
                        first = k;
        }
        return first;
}

/* ---- reading ---- */

void cn_audit_log_done(CnAuditLog *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].items);
        free(l->v);
        *l = (CnAuditLog) {};
}

static void broken(CnAuditLog *l, uint64_t seq, const char *why) {
        l->broken = true;
        l->broken_seq = seq;
        l->why = why;
}

int cn_audit_load(CnRepo *r, const uint8_t controller[CN_UUID_BYTES], CnAuditLog *ret) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(MAX_OBJECT_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(MAX_BODY_BYTES);
        _cleanup_secret_ uint8_t *key = NULL;
        CnAuditLog l = {};
        Listing ls = {};
        uint8_t prev[CN_ID_BYTES] = {};
        size_t cap = 0;
        int k;

        memcpy(l.controller, controller, CN_UUID_BYTES);
        if ((k = audit_key(r, &key)) < 0 || (k = list_seqs(r, controller, &ls)) < 0)
                return k;
        l.n_foreign = ls.n_foreign;
        memcpy(l.foreign, ls.foreign, sizeof l.foreign);
        for (size_t i = 0; i < ls.n; i++) {
                CnAuditEntry e = {};
                const char *why;
                if (ls.seqs[i] != i) {
                        broken(&l, i, WHY_MISSING);
                        l.later_seq = ls.seqs[i];
                        break;
                }
                k = read_entry(r, key, controller, i, &obj, &body, &e, &why);
                if (k < 0)
                        goto fail;
                if (k > 0) {
                        broken(&l, i, why);
                        if (why == WHY_MISSING)
                                l.later_seq = i + 1 < ls.n ? ls.seqs[i + 1] : i;
                        break;
                }
                if (memcmp(e.prev, prev, CN_ID_BYTES) != 0) {
                        free(e.items);
                        broken(&l, i, "does not chain to the entry before it (that one was edited or replaced)");
                        break;
                }
                memcpy(prev, e.hash, CN_ID_BYTES);
                if ((k = CN_GROW(l.v, cap, l.n)) < 0) {
                        free(e.items);
                        goto fail;
                }
                l.v[l.n++] = e;
        }
        free(ls.seqs);
        *ret = l;
        return 0;
fail:
        free(ls.seqs);
        cn_audit_log_done(&l);
        return k;
}

typedef struct Folders {
        uint8_t (*v)[CN_UUID_BYTES];
        size_t n, cap;
} Folders;

static int folder_one(const char *name, _unused_ uint64_t size, void *u) {
        Folders *f = u;
        const char *s = name + strlen(CN_AUDIT_FOLDER);
        char hex[CN_UUID_HEX + 1];
        uint8_t id[CN_UUID_BYTES];
        int r;
        if (strlen(s) < CN_UUID_HEX + 1 || s[CN_UUID_HEX] != '/' || strspn(s, "0123456789abcdef") != CN_UUID_HEX)
                return 0;
        memcpy(hex, s, CN_UUID_HEX);
        hex[CN_UUID_HEX] = 0;
        if (cn_hex_decode(hex, id, CN_UUID_BYTES) < 0)
                return 0;
        for (size_t i = 0; i < f->n; i++)
                if (memcmp(f->v[i], id, CN_UUID_BYTES) == 0)
                        return 0;
        if ((r = CN_GROW(f->v, f->cap, f->n)) < 0)
                return r;
        memcpy(f->v[f->n++], id, CN_UUID_BYTES);
        return 0;
}

static int uuid_cmp(const void *a, const void *b) {
        return memcmp(a, b, CN_UUID_BYTES);
}

int cn_audit_controllers(CnRepo *r, uint8_t (**ret)[CN_UUID_BYTES], size_t *ret_n) {
        Folders f = {};
        int k = cn_backend_list(cn_repo_backend(r), CN_AUDIT_FOLDER, folder_one, &f);
        if (k < 0) {
                free(f.v);
                return k;
        }
        if (f.n)
                qsort(f.v, f.n, sizeof *f.v, uuid_cmp);
        *ret = f.v;
        *ret_n = f.n;
        return 0;
}

bool cn_audit_entry_has(const CnAuditEntry *e, unsigned field, const uint8_t *value, size_t n) {
        for (size_t i = 0; i < e->n_items; i++)
                if (e->items[i].field == field && e->items[i].len == n && memcmp(e->items[i].value, value, n) == 0)
                        return true;
        return false;
}

static json_t *hex_json(const uint8_t *p, size_t n) {
        char hex[2 * CN_AUDIT_MAX_TEXT_BYTES + 1];
        cn_hex_encode(p, n, hex);
        return json_string(hex);
}

static json_t *time_json(int64_t t) {
        char buf[64];
        struct tm tm;
        time_t tt = (time_t) t;
        if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return json_integer(t);
        return json_string(buf);
}

static json_t *item_json(const CnAuditItem *it) {
        uint64_t v = 0;
        switch (cn_audit_field_type(it->field)) {
        case CN_AUDIT_TYPE_U64:
                for (size_t i = 0; i < 8; i++)
                        v |= (uint64_t) it->value[i] << (8 * i);
                return v <= INT64_MAX ? json_integer((json_int_t) v) : json_real((double) v);
        case CN_AUDIT_TYPE_TEXT:
                return json_stringn((const char *) it->value, it->len);
        default:
                return hex_json(it->value, it->len);
        }
}

json_t *cn_audit_entry_json(const CnAuditEntry *e) {
        _cleanup_json_ json_t *o = NULL, *fields = json_object();
        char num[16];
        const char *kind = cn_audit_kind_name(e->kind), *outcome = cn_audit_outcome_name(e->outcome);

        if (!fields)
                return NULL;
        for (size_t i = 0; i < e->n_items; i++) {
                const char *name = cn_audit_field_name(e->items[i].field);
                json_t *v = item_json(&e->items[i]), *had;
                if (!name) {
                        snprintf(num, sizeof num, "%u", e->items[i].field);
                        name = num;
                }
                if (!v)
                        return NULL;
                /* a tag seen twice becomes a list */
                had = json_object_get(fields, name);
                if (!had) {
                        if (json_object_set_new(fields, name, v) < 0)
                                return NULL;
                } else if (json_is_array(had)) {
                        if (json_array_append_new(had, v) < 0)
                                return NULL;
                } else {
                        json_t *a = json_pack("[Oo]", had, v);
                        if (!a || json_object_set_new(fields, name, a) < 0)
                                return NULL;
                }
        }
        o = json_pack("{sIsosososososO}", "seq", (json_int_t) e->seq, "time", time_json(e->time), "kind",
                      kind ? json_string(kind) : json_integer(e->kind), "outcome",
                      outcome ? json_string(outcome) : json_integer(e->outcome), "hash",
                      hex_json(e->hash, CN_ID_BYTES), "prev", hex_json(e->prev, CN_ID_BYTES), "fields", fields);
        return TAKE_PTR(o);
}

/* ---- checkpoints ---- */

static int dump_canonical(const json_t *j, CnBuf *out) {
        _cleanup_free_ char *s = json_dumps(j, CANONICAL);
        if (!s)
                return -ENOMEM;
        cn_buf_reset(out);
        return cn_buf_append(out, s, strlen(s));
}

static json_t *checkpoint_member(const CnAuditCheckpoint *cp) {
        return json_pack("{sssosososIsoso}", "format", CN_AUDIT_CHECKPOINT_FORMAT, "repository",
                         hex_json(cp->repository, CN_UUID_BYTES), "processor", hex_json(cp->processor, CN_UUID_BYTES),
                         "controller", hex_json(cp->controller, CN_UUID_BYTES), "entries", (json_int_t) cp->entries,
                         "head", hex_json(cp->head, CN_ID_BYTES), "time", time_json(cp->time));
}

/* The signed message: the domain line, then the canonical member. */
static int checkpoint_message(const json_t *member, CnBuf *ret) {
        _cleanup_(cn_buf_donep) CnBuf m = CN_BUF_INIT(CN_AUDIT_MAX_CHECKPOINT_BYTES);
        int r;
        if ((r = dump_canonical(member, &m)) < 0)
                return r;
        cn_buf_reset(ret);
        if ((r = cn_buf_append(ret, CN_AUDIT_CHECKPOINT_FORMAT "\n", strlen(CN_AUDIT_CHECKPOINT_FORMAT) + 1)) < 0 ||
            (r = cn_buf_append(ret, m.data, m.len)) < 0)
                return r;
        return 0;
}

int cn_audit_checkpoint(CnRepo *r, const CnAuditLog *l, CnBuf *ret_json) {
        _cleanup_json_ json_t *member = NULL, *doc = NULL;
        _cleanup_(cn_buf_donep) CnBuf msg = CN_BUF_INIT(2 * CN_AUDIT_MAX_CHECKPOINT_BYTES);
        CnAuditCheckpoint cp = {};
        uint8_t sig[CN_SIGN_BYTES];
        int k;

        if (l->broken)
                return -EINVAL;
        memcpy(cp.repository, cn_repo_id(r), CN_UUID_BYTES);
        memcpy(cp.processor, cn_repo_processor_id(r), CN_UUID_BYTES);
        memcpy(cp.controller, l->controller, CN_UUID_BYTES);
        cp.entries = l->n;
        if (l->n)
                memcpy(cp.head, l->v[l->n - 1].hash, CN_ID_BYTES);
        cp.time = (int64_t) time(NULL);
        if (!(member = checkpoint_member(&cp)))
                return -ENOMEM;
        if ((k = checkpoint_message(member, &msg)) < 0)
                return k;
        cn_sign(sig, msg.data, msg.len, cn_repo_processor_secret_key(r));
        doc = json_pack("{sOs{sssoso}}", "checkpoint", member, "signature", "algorithm", "Ed25519", "public_key",
                        hex_json(cn_repo_processor_public_key(r), CN_SIGN_PUBLIC_BYTES), "value",
                        hex_json(sig, CN_SIGN_BYTES));
        if (!doc || (k = dump_canonical(doc, ret_json)) < 0 || (k = cn_buf_append(ret_json, "\n", 1)) < 0)
                return doc ? k : -ENOMEM;
        return 0;
}

static bool get_hex(const json_t *o, const char *key, uint8_t *out, size_t n) {
        const char *s = json_string_value(json_object_get(o, key));
        return s && strlen(s) == 2 * n && strspn(s, "0123456789abcdef") == 2 * n && cn_hex_decode(s, out, n) >= 0;
}

static bool parse_time(const char *s, int64_t *ret) {
        struct tm tm = {};
        const char *end;
        if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) || *end)
                return false;
        *ret = (int64_t) timegm(&tm);
        return true;
}

int cn_audit_checkpoint_verify(const uint8_t *p, size_t n, const uint8_t *pk, CnAuditCheckpoint *ret,
                               const char **ret_why) {
        _cleanup_json_ json_t *doc = NULL, *again = NULL;
        _cleanup_(cn_buf_donep) CnBuf canon = CN_BUF_INIT(2 * CN_AUDIT_MAX_CHECKPOINT_BYTES);
        _cleanup_(cn_buf_donep) CnBuf msg = CN_BUF_INIT(2 * CN_AUDIT_MAX_CHECKPOINT_BYTES);
        CnAuditCheckpoint cp = {};
        uint8_t sig[CN_SIGN_BYTES];
        const json_t *m, *s;
        json_int_t entries;
        const char *why = "not a checkpoint file";
        int k;

        if (n > CN_AUDIT_MAX_CHECKPOINT_BYTES) {
                why = "larger than any checkpoint";
                k = -E2BIG;
                goto out;
        }
        k = -EBADMSG;
        doc = json_loadb((const char *) p, n, JSON_REJECT_DUPLICATES, NULL);
        m = json_object_get(doc, "checkpoint");
        s = json_object_get(doc, "signature");
        if (!json_is_object(doc) || json_object_size(doc) != 2 || !json_is_object(m) || !json_is_object(s))
                goto out;
        if (!json_is_string(json_object_get(m, "format")) ||
            strcmp(json_string_value(json_object_get(m, "format")), CN_AUDIT_CHECKPOINT_FORMAT) != 0) {
                why = "of another format than " CN_AUDIT_CHECKPOINT_FORMAT;
                k = -EPROTONOSUPPORT;
                goto out;
        }
        entries = json_integer_value(json_object_get(m, "entries"));
        if (json_object_size(m) != 7 || !get_hex(m, "repository", cp.repository, CN_UUID_BYTES) ||
            !get_hex(m, "processor", cp.processor, CN_UUID_BYTES) ||
            !get_hex(m, "controller", cp.controller, CN_UUID_BYTES) || !get_hex(m, "head", cp.head, CN_ID_BYTES) ||
            !json_is_integer(json_object_get(m, "entries")) || entries < 0 ||
            !parse_time(json_string_value(json_object_get(m, "time")), &cp.time) || json_object_size(s) != 3 ||
            !json_is_string(json_object_get(s, "algorithm")) ||
            strcmp(json_string_value(json_object_get(s, "algorithm")), "Ed25519") != 0 ||
            !get_hex(s, "public_key", cp.public_key, CN_SIGN_PUBLIC_BYTES) || !get_hex(s, "value", sig, CN_SIGN_BYTES)) {
                why = "a member is missing, extra or malformed";
                goto out;
        }
        cp.entries = (uint64_t) entries;
        /* byte for byte the canonical form: nothing can change unnoticed */
        if ((k = dump_canonical(doc, &canon)) < 0 || (k = cn_buf_append(&canon, "\n", 1)) < 0)
                goto out;
        k = -EBADMSG;
        if (canon.len != n || memcmp(canon.data, p, n) != 0) {
                why = "not in canonical form (edited)";
                goto out;
        }
        if (pk && !cn_memeq(pk, cp.public_key, CN_SIGN_PUBLIC_BYTES)) {
                why = "signed by another processor key";
                k = -EKEYREJECTED;
                goto out;
        }
        /* Each member exactly as a writer renders it (a time with a space
         * before it, or 2026-02-30, parses, but is not one), and the
         * signature over the member as it is in the file. */
        if (!(again = checkpoint_member(&cp))) {
                k = -ENOMEM;
                goto out;
        }
        k = -EBADMSG;
        if (!json_equal(again, m)) {
                why = "a member is missing, extra or malformed";
                goto out;
        }
        if ((k = checkpoint_message(m, &msg)) < 0)
                goto out;
        k = -EBADMSG;
        if (cn_sign_verify(sig, msg.data, msg.len, cp.public_key) < 0) {
                why = "its signature does not match (edited)";
                goto out;
        }
        if (ret)
                *ret = cp;
        return 0;
out:
        if (ret_why)
                *ret_why = why;
        return k;
}

int cn_audit_check_against(const CnAuditLog *l, const CnAuditCheckpoint *cp, const char **ret_why) {
        if (cp->entries == 0)
                return 0;
        if (l->n < cp->entries) {
                *ret_why = "entries the checkpoint vouches for are gone: the log's tail was cut";
                return -ESTALE;
        }
        if (memcmp(l->v[cp->entries - 1].hash, cp->head, CN_ID_BYTES) != 0) {
                *ret_why = "the entry at the checkpoint's head differs from it: the log was rewritten";
                return -EBADMSG;
        }
        return 0;
}

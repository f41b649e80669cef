/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "certificate.h"
#include "hex.h"
#include "hold.h"
#include "location.h"
#include "macro.h"
#include "retention.h"
#include "snapshot.h"
#include "utf8.h"

json_t *cn_json_text(const char *s) {
        json_t *j = json_string(s);
        if (j)
                return j;
        /* Not UTF-8: each byte that is not becomes U+FFFD. */
        char *t = cn_utf8_lossy(s, strlen(s));
        if (!t)
                return NULL;
        j = json_string(t);
        free(t);
        return j;
}

static json_t *time_json(int64_t t) {
        char buf[CN_RFC3339_BYTES];
        cn_certificate_time(t, buf);
        return json_string(buf);
}

/* Append v (stolen) to array a; -ENOMEM when v is NULL or will not go. */
static int append(json_t *a, json_t *v) {
        return v && json_array_append_new(a, v) == 0 ? 0 : -ENOMEM;
}

static int set(json_t *o, const char *key, json_t *v) {
        return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

typedef struct Keyed {
        const char *key;
        size_t order;
        json_t *v;
} Keyed;

static int keyed_cmp(const void *a, const void *b) {
        const Keyed *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

/* Sort array a of objects (or strings, key NULL) by the string member key,
 * ties as they are: output does not depend on random ids. */
static int sort_by(json_t *a, const char *key) {
        size_t n = json_array_size(a);
        _cleanup_free_ Keyed *v = calloc(n ? n : 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *x = json_array_get(a, i);
                const char *k = json_string_value(key ? json_object_get(x, key) : x);
                v[i] = (Keyed){.key = k ? k : "", .order = i, .v = json_incref(x)};
        }
        qsort(v, n, sizeof *v, keyed_cmp);
        int k = 0;
        for (size_t i = 0; i < n; i++) {
                if (k >= 0 && json_array_set(a, i, v[i].v) < 0)
                        k = -ENOMEM;
                json_decref(v[i].v);
        }
        return k;
}

/* What the repository and its tools do to protect the data: CRYPTO.md. */
static json_t *safeguards(CnRepo *r, const CnController *c) {
        _cleanup_(cn_names_done) CnNames names = {};
        _cleanup_(cn_buf_donep) CnBuf kf = CN_BUF_INIT(CN_MAX_KEYFILE_BYTES);
        json_t *keys = json_array(), *stores = json_array();
        int k = cn_backend_list_names(cn_repo_backend(r), "keys/", &names);

        for (size_t i = 0; k >= 0 && keys && i < names.n; i++) {
                CnKeyfileHeader h;
                CnRepoProblem why;
                if (cn_backend_get(cn_repo_backend(r), names.v[i], 0, CN_GET_ALL, &kf) < 0 ||
                    cn_keyfile_parse(kf.data, kf.len, &h, &why) < 0)
                        continue; /* the open reported it */
                k = append(keys, json_pack("{s:s, s:I, s:I}", "id", names.v[i] + strlen("keys/"), "opslimit",
                                           (json_int_t) h.opslimit, "memlimit", (json_int_t) h.memlimit));
        }
        for (size_t i = 0; k >= 0 && stores && c->format == 2 && i < c->ks->n_locations; i++)
                k = append(stores, cn_json_text(c->ks->locations[i]));
        if (k < 0 || !keys || !stores) {
                json_decref(keys);
                json_decref(stores);
                return NULL;
        }
        return json_pack(
                "{s:s, s:s, s:{s:s, s:o}, s:s, s:s, s:s, s:s, s:s, s:{s:i, s:I, s:o}}", "encryption",
                "XChaCha20-Poly1305-IETF (libsodium); a random key for every chunk and every pack, kept only "
                "in the controller's ledgers",
                "key_derivation", "BLAKE2b KDF (crypto_kdf_derive_from_key), 8-byte contexts", "passwords", "algorithm",
                "Argon2id v1.3 (crypto_pwhash); each key file wraps the master key", "key_files", keys, "identifiers",
                "HMAC-SHA-256 under the controller's chunk-id key (chunk, tree and snapshot ids)", "names",
                "SHA-256 of the encrypted object (holds, locations, damage records...)", "signatures",
                "Ed25519 with the processor key (erasure certificates)", "compression", "zstd, before encryption",
                "separation",
                "each controller has its own random keys: no chunk, id or chunk boundary is shared between two",
                "key_store", "format", c->format, "epoch", (json_int_t) c->epoch, "locations", stores);
}

static json_t *location_json(const CnLocation *l, const char *when) {
        return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "name", l->name, "provider", cn_json_text(l->provider),
                         "region", cn_json_text(l->region), "note", cn_json_text(l->note), when, time_json(l->created),
                         "by", cn_json_text(l->creator));
}

static json_t *event_json(int64_t t, const char *event, const CnLocation *l, const char *by) {
        return json_pack("{s:o, s:s, s:s, s:o, s:o, s:o}", "time", time_json(t), "event", event, "name", l->name,
                         "provider", cn_json_text(l->provider), "region", cn_json_text(l->region), "by",
                         cn_json_text(by));
}

typedef struct Event {
        int64_t time;
        bool end;     /* in the same second, what starts comes before what ends */
        size_t order; /* then as gathered (locations, then grants; each oldest first) */
        json_t *json;
} Event;

static int event_cmp(const void *a, const void *b) {
        const Event *x = a, *y = b;
        if (x->time != y->time)
                return x->time < y->time ? -1 : 1;
        if (x->end != y->end)
                return x->end ? 1 : -1;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* Every recording, removal, authorisation and revocation, oldest first. */
static json_t *history(const CnLocations *here, const CnLocations *grants) {
        const struct {
                const CnLocations *set;
                const char *added, *ended;
        } sets[] = {{here, "location recorded", "location removed"}, {grants, "authorised", "revoked"}};
        _cleanup_free_ Event *v = NULL;
        size_t n = 0, cap = 0;
        json_t *a = json_array();
        int k = a ? 0 : -ENOMEM;

        for (size_t s = 0; k >= 0 && s < CN_ELEMENTSOF(sets); s++)
                for (size_t i = 0; k >= 0 && i < sets[s].set->n; i++) {
                        const CnLocation *l = &sets[s].set->v[i];
                        for (int e = 0; k >= 0 && e < (l->end ? 2 : 1); e++) {
                                int64_t t = e ? l->end->created : l->created;
                                json_t *x = event_json(t, e ? sets[s].ended : sets[s].added, l,
                                                       e ? l->end->creator : l->creator);
                                if (!x || CN_GROW(v, cap, n) < 0) {
                                        json_decref(x);
                                        k = -ENOMEM;
                                } else {
                                        v[n] = (Event){.time = t, .end = e, .order = n, .json = x};
                                        n++;
                                }
                        }
                }
        if (k >= 0 && n > 1)
                qsort(v, n, sizeof *v, event_cmp);
        for (size_t i = 0; i < n; i++) {
                if (k >= 0)
                        k = append(a, v[i].json);
                else
                        json_decref(v[i].json);
        }
        if (k < 0) {
                json_decref(a);
                return NULL;
        }
        return a;
}

/* Providers of the locations in force (recorded here or authorised), each
 * once, with its regions each once. */
static json_t *sub_processors(const CnLocations *here, const CnLocations *grants) {
        json_t *o = json_object(), *a = json_array();
        const CnLocations *sets[] = {here, grants};
        int k = o && a ? 0 : -ENOMEM;

        for (size_t s = 0; k >= 0 && s < 2; s++)
                for (size_t i = 0; k >= 0 && i < sets[s]->n; i++) {
                        const CnLocation *l = &sets[s]->v[i];
                        if (!cn_location_in_force(l))
                                continue;
                        json_t *p = json_object_get(o, l->provider), *regions;
                        if (!p) {
                                p = json_pack("{s:o, s:[]}", "provider", cn_json_text(l->provider), "regions");
                                if ((k = set(o, l->provider, p)) < 0 || (k = append(a, json_incref(p))) < 0)
                                        break;
                        }
                        regions = json_object_get(p, "regions");
                        bool have = false;
                        for (size_t j = 0; j < json_array_size(regions) && !have; j++)
                                have = strcmp(json_string_value(json_array_get(regions, j)), l->region) == 0;
                        if (!have)
                                k = append(regions, cn_json_text(l->region));
                }
        json_decref(o);
        for (size_t i = 0; k >= 0 && i < json_array_size(a); i++)
                k = sort_by(json_object_get(json_array_get(a, i), "regions"), NULL);
        if (k >= 0)
                k = sort_by(a, "provider");
        if (k < 0) {
                json_decref(a);
                return NULL;
        }
        return a;
}

/* The state of c's audit log: {entries, head, intact, broken_at, by_kind}
 * (by_kind: how many entries of each kind, "kind N" for one this reader
 * does not name), and in *ret_kinds the kinds it holds, as bits. */
static json_t *audit_json(const CnAuditLog *l, uint32_t *ret_kinds) {
        char head[CN_ID_HEX + 1], other[32];
        json_t *by = json_object();
        uint32_t kinds = 0;
        int k = by ? 0 : -ENOMEM;

        for (size_t i = 0; k >= 0 && i < l->n; i++) {
                const char *name = cn_audit_kind_name(l->v[i].kind);
                if (!name) {
                        snprintf(other, sizeof other, "kind %u", (unsigned) l->v[i].kind);
                        name = other;
                }
                /* processing carried out: what was refused or failed
                 * outright was not (a backup the gate stopped) */
                if (l->v[i].kind < 32 && (l->v[i].outcome == CN_AUDIT_OK || l->v[i].outcome == CN_AUDIT_PARTIAL))
                        kinds |= 1u << l->v[i].kind;
                json_int_t n = json_integer_value(json_object_get(by, name));
                k = set(by, name, json_integer(n + 1));
        }
        if (k < 0) {
                json_decref(by);
                return NULL;
        }
        if (l->n)
                cn_hex_encode(l->v[l->n - 1].hash, CN_ID_BYTES, head);
        *ret_kinds = kinds;
        return json_pack("{s:I, s:o, s:b, s:o, s:o}", "entries", (json_int_t) l->n, "head",
                         l->n ? json_string(head) : json_null(), "intact", !l->broken, "broken_at",
                         l->broken ? json_integer((json_int_t) l->broken_seq) : json_null(), "by_kind", by);
}

static json_t *holds_json(const CnHolds *holds) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < holds->n; i++) {
                const CnHold *h = &holds->v[i];
                if (!cn_hold_active(h))
                        continue;
                if (append(a, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", h->id_hex, "scope",
                                        cn_hold_scope_name(h->scope), "value", cn_json_text(h->value), "reason",
                                        cn_json_text(h->reason), "reference", cn_json_text(h->reference), "by",
                                        cn_json_text(h->creator), "created", time_json(h->created), "review",
                                        h->has_review ? time_json(h->review) : json_null())) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

typedef struct Shared {
        CnRepo *r;
        CnStoreDamagedFn damaged;
        void *userdata;
        CnLocations here;
        CnCertificates certificates;
        size_t damaged_objects;
} Shared;

static void count_damaged(const char *name, int error, void *u) {
        Shared *x = u;
        x->damaged_objects++;
        if (x->damaged)
                x->damaged(name, error, x->userdata);
}

/* The retention rules in force: {"policy": rules or null (none set),
 * "set_at": time or null}; {"policy": null, "unknown": true} when a
 * damaged policy object may be the newest (docs/cli/retention.md). */
static int retention_json(CnRepo *r, const CnController *c, json_t **ret) {
        CnForgetPolicy p;
        bool is_set = false;
        int64_t created = 0;
        int k = cn_retention_load(r, c, &p, &is_set, &created);
        if (k < 0 && k != -EBADMSG)
                return k;
        *ret = k < 0    ? json_pack("{s:n, s:n, s:b}", "policy", "set_at", "unknown", 1)
               : is_set ? json_pack("{s:o, s:o, s:b}", "policy", cn_retention_policy_json(&p), "set_at",
                                    time_json(created), "unknown", 0)
                        : json_pack("{s:n, s:n, s:b}", "policy", "set_at", "unknown", 0);
        return *ret ? 0 : -ENOMEM;
}

/* Whether the repository recorded g's location, in force or removed since. */
static bool ever_recorded(const CnLocations *here, const CnLocation *g) {
        for (size_t i = 0; i < here->n; i++)
                if (cn_location_same(&here->v[i], g))
                        return true;
        return false;
}

static int controller_record(Shared *x, CnController *c, json_t **ret) {
        json_t *retention = NULL;
        _cleanup_(cn_locations_done) CnLocations grants = {};
        _cleanup_(cn_holds_done) CnHolds holds = {};
        _cleanup_(cn_names_done) CnNames pending = {};
        _cleanup_(cn_audit_log_done) CnAuditLog log = {};
        uint32_t logged = 0;
        CnSnapshot *snaps = NULL;
        size_t n_snaps = 0, damaged_before = x->damaged_objects;
        const CnCertificate *last = NULL;
        size_t n_certificates = 0;
        bool replicated = false, configured = false;
        char prefix[16 + CN_UUID_HEX];
        CnLocationRefusal why;
        int k;

        if ((k = cn_grants_load(x->r, c, count_damaged, x, &grants)) < 0 ||
            (k = cn_holds_load(x->r, c, count_damaged, x, &holds, NULL)) < 0 ||
            (k = cn_snapshot_list(x->r, c, count_damaged, x, &snaps, &n_snaps)) < 0)
                return k;
        snprintf(prefix, sizeof prefix, "erasures/%s/", c->id_hex);
        if ((k = cn_backend_list_names(cn_repo_backend(x->r), prefix, &pending)) < 0 ||
            (k = cn_audit_load(x->r, c->id, &log)) < 0) {
                cn_snapshots_free(snaps, n_snaps);
                return k;
        }
        for (size_t i = 0; i < x->certificates.n; i++) {
                const CnCertificate *e = &x->certificates.v[i];
                if (memcmp(e->controller, c->id, CN_UUID_BYTES) != 0)
                        continue;
                n_certificates++;
                last = e; /* by completed_at */
                for (size_t j = 0; j < e->n_locations; j++)
                        replicated |= e->locations[j].kind == CN_CERTIFICATE_LOCATION_REPLICA;
        }
        /* A grant of a location this repository never recorded is one a
         * replica lives at (the gate of copy uses them); one it recorded
         * and removed is where it lived before. */
        for (size_t i = 0; i < grants.n; i++)
                replicated |= cn_location_in_force(&grants.v[i]) && !ever_recorded(&x->here, &grants.v[i]);

        json_t *categories = json_array(), *locations = json_array(), *authorised = json_array();
        json_t *audit = audit_json(&log, &logged);
#define LOGGED(kind) (logged & (1u << (kind)))
        int gate = cn_location_gate_check(&grants, &x->here, &why, &configured);
        k = categories && locations && authorised && audit ? 0 : -ENOMEM;
        if (k >= 0 && (n_snaps || LOGGED(CN_AUDIT_BACKUP)))
                k = append(categories, json_string("backup"));
        if (k >= 0 && (n_snaps || LOGGED(CN_AUDIT_RESTORE) || LOGGED(CN_AUDIT_DUMP)))
                k = append(categories, json_string("restore"));
        if (k >= 0 && (replicated || LOGGED(CN_AUDIT_COPY)))
                k = append(categories, json_string("replication"));
        if (k >= 0 && (n_certificates || pending.n || LOGGED(CN_AUDIT_ERASURE)))
                k = append(categories, json_string("erasure"));
        if (k >= 0 && LOGGED(CN_AUDIT_EXPORT))
                k = append(categories, json_string("export"));
#undef LOGGED
        for (size_t i = 0; k >= 0 && i < x->here.n; i++) {
                const CnLocation *l = &x->here.v[i];
                json_t *j;
                if (!cn_location_in_force(l))
                        continue;
                k = append(locations, j = location_json(l, "recorded_at"));
                if (k >= 0)
                        k = set(j, "authorised", json_boolean(cn_locations_match(&grants, l)));
        }
        for (size_t i = 0; k >= 0 && i < grants.n; i++) {
                const CnLocation *g = &grants.v[i];
                json_t *j;
                if (!cn_location_in_force(g))
                        continue;
                k = append(authorised, j = location_json(g, "authorised_at"));
                bool here = cn_locations_match(&x->here, g);
                if (k >= 0)
                        k = set(j, "recorded_here", json_boolean(here));
                if (k >= 0)
                        k = set(j, "removed_here", json_boolean(!here && ever_recorded(&x->here, g)));
        }
        if (k >= 0)
                k = sort_by(locations, "name");
        if (k >= 0)
                k = sort_by(authorised, "name");
        json_t *o = k >= 0 ? json_pack("{s:{s:o, s:s, s:o, s:i, s:I}, s:o, s:{s:I, s:o, s:o}, s:o, s:o, s:o, s:s, "
                                       "s:o, s:o, s:o, s:{s:I, s:o}, s:I, s:o}",
                                       "controller", "name", cn_json_text(c->name), "id", c->id_hex, "created",
                                       time_json(c->created), "format", c->format, "epoch", (json_int_t) c->epoch,
                                       "categories", categories, "snapshots", "count", (json_int_t) n_snaps, "first",
                                       n_snaps ? time_json(snaps[0].time.sec) : json_null(), "last",
                                       n_snaps ? time_json(snaps[n_snaps - 1].time.sec) : json_null(), "locations",
                                       locations, "authorised", authorised, "sub_processors",
                                       sub_processors(&x->here, &grants), "location_gate",
                                       gate < 0     ? "refused"
                                       : configured ? "allowed"
                                                    : "unconfigured",
                                       "location_history", history(&x->here, &grants), "holds", holds_json(&holds),
                                       "safeguards", safeguards(x->r, c), "erasure_certificates", "count",
                                       (json_int_t) n_certificates, "last",
                                       last ? json_pack("{s:s, s:o, s:s, s:s}", "id", last->id_hex, "completed_at",
                                                        time_json(last->completed_at), "status",
                                                        cn_certificate_status_name(last->status), "scope",
                                                        cn_certificate_scope_name(last->scope))
                                            : json_null(),
                                       "erasure_requests_pending", (json_int_t) pending.n, "audit_log", audit)
                           : NULL;
        if (k < 0) {
                json_decref(categories);
                json_decref(locations);
                json_decref(authorised);
                json_decref(audit);
        }
        cn_snapshots_free(snaps, n_snaps);
        if (!o)
                return -ENOMEM;
        if ((k = retention_json(x->r, c, &retention)) < 0 || set(o, "retention", retention) < 0 ||
            set(o, "objects_unreadable", json_integer((json_int_t) (x->damaged_objects - damaged_before))) < 0) {
                json_decref(o);
                return k < 0 ? k : -ENOMEM;
        }
        *ret = o;
        return 0;
}

int cn_records_build(CnRepo *r, CnController *c, int64_t now, CnStoreDamagedFn damaged, void *userdata, json_t **ret) {
        Shared x = {.r = r, .damaged = damaged, .userdata = userdata};
        char repo[CN_UUID_HEX + 1], processor[CN_UUID_HEX + 1], pk[2 * CN_SIGN_PUBLIC_BYTES + 1];
        json_t *doc = NULL, *list = json_array();
        int k = list ? 0 : -ENOMEM;

        if (k >= 0)
                k = cn_locations_load(r, count_damaged, &x, &x.here);
        if (k >= 0)
                k = cn_certificates_load(r, count_damaged, &x, &x.certificates, NULL);
        size_t shared_damaged = x.damaged_objects;
        for (size_t i = 0; k >= 0 && i < cn_repo_n_controllers(r); i++) {
                CnController *one = cn_repo_controller(r, i);
                json_t *o = NULL;
                if (c && one != c)
                        continue;
                k = controller_record(&x, one, &o);
                if (k >= 0)
                        k = append(list, o);
        }
        cn_hex_encode(cn_repo_id(r), CN_UUID_BYTES, repo);
        cn_hex_encode(cn_repo_processor_id(r), CN_UUID_BYTES, processor);
        cn_hex_encode(cn_repo_processor_public_key(r), CN_SIGN_PUBLIC_BYTES, pk);
        if (k >= 0) {
                /* objects_unreadable: of the repository's own (locations, certificates) */
                doc = json_pack("{s:s, s:o, s:s, s:{s:o, s:s, s:s}, s:o, s:I}", "format", CN_RECORDS_FORMAT,
                                "generated_at", time_json(now), "repository", repo, "processor", "name",
                                cn_json_text(cn_repo_processor_name(r)), "id", processor, "public_key", pk,
                                "controllers", list, "objects_unreadable", (json_int_t) shared_damaged);
                list = NULL;
                if (!doc)
                        k = -ENOMEM;
        }
        json_decref(list);
        cn_locations_done(&x.here);
        cn_certificates_done(&x.certificates);
        if (k < 0)
                return k;
        *ret = doc;
        return 0;
}

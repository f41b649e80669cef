/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the seed corpora of tests/fuzz (run by make-seeds.sh):
 *
 *   fuzz-make-seeds VECTORS_DIR OUT_DIR
 *
 * into OUT_DIR/<target>/<name>: the golden vectors of tests/vectors (hex
 * decoded), the objects of the v1 repository tests/vectors/repo-v1 (opened
 * with its passphrase: bodies of its index, ledger, snapshot, trees and
 * pack header as their decoders see them), bodies made by the encoders,
 * and sample server answers for the storage parsers. Small on purpose:
 * libFuzzer grows the corpus from there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "certificate.h"
#include "damage.h"
#include "envelope.h"
#include "erase.h"
#include "fileio.h"
#include "hex.h"
#include "audit.h"
#include "hold.h"
#include "keystore.h"
#include "location.h"
#include "macro.h"
#include "pack.h"
#include "repo.h"
#include "request.h"
#include "retention.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"

static const char *out_dir;

static void die(const char *what, int r) {
        fprintf(stderr, "fuzz-make-seeds: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static void seed(const char *target, const char *name, const void *p, size_t n) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", out_dir, target);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                die(path, errno);
        snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
                die(path, errno);
}

static void seed_str(const char *target, const char *name, const char *s) {
        seed(target, name, s, strlen(s));
}

static void seed_buf(const char *target, const char *name, const CnBuf *b) {
        seed(target, name, b->data, b->len);
}

/* For targets whose first byte chooses the version of what follows (1 + its low bit). */
static void seed_version(const char *target, const char *name, uint32_t version, const void *p, size_t n) {
        uint8_t *v = malloc(n + 1);
        if (!v)
                die(name, -ENOMEM);
        v[0] = (uint8_t) (version - 1);
        memcpy(v + 1, p, n);
        seed(target, name, v, n + 1);
        free(v);
}

/* A hex vector of tests/vectors, decoded. */
static void seed_hex(const char *vectors, const char *file, const char *target, const char *name) {
        char path[4096];
        CnBuf text = CN_BUF_INIT(1 << 20);
        snprintf(path, sizeof path, "%s/%s", vectors, file);
        int r = cn_read_file_at(AT_FDCWD, path, &text);
        if (r < 0)
                die(path, r);
        size_t k = 0;
        for (size_t i = 0; i < text.len; i++)
                if (cn_hex_digit((char) text.data[i]) >= 0)
                        text.data[k++] = text.data[i];
        uint8_t *bin = malloc(k / 2 + 1);
        char *hex = malloc(k + 1);
        if (!bin || !hex)
                die("hex", -ENOMEM);
        memcpy(hex, text.data, k);
        hex[k] = 0;
        if (cn_hex_decode(hex, bin, k / 2) < 0)
                die(path, -EBADMSG);
        seed(target, name, bin, k / 2);
        free(bin);
        free(hex);
        cn_buf_done(&text);
}

static CnNode node(const char *name, CnNodeType type) {
        CnNode n = { .name = (char *) name, .name_len = strlen(name), .type = type, .mode = 0644, .nlink = 1 };
        return n;
}

static void seeds_of_encoders(void) {
        uint8_t key[CN_KEY_BYTES], a[CN_ID_BYTES], b[CN_ID_BYTES];
        CnEnvelopeHeader h = { .epoch = 3 };
        CnBuf out = CN_BUF_INIT(1 << 20), env = CN_BUF_INIT(1 << 20);
        int r;

        for (int i = 0; i < CN_KEY_BYTES; i++)
                key[i] = (uint8_t) i;
        memset(a, 0x11, sizeof a);
        memset(b, 0x22, sizeof b);
        memset(h.processor, 0x33, CN_UUID_BYTES);
        memset(h.controller, 0x44, CN_UUID_BYTES);

        /* config and controller bodies, as config_seal and controller_seal write them */
        uint8_t zero[CN_SIGN_SECRET_BYTES] = {};
        cn_buf_append(&out, a, CN_UUID_BYTES);
        cn_buf_put_bytes32(&out, "cairn", 5);
        cn_buf_append(&out, zero, CN_SIGN_PUBLIC_BYTES);
        cn_buf_append(&out, zero, CN_SIGN_SECRET_BYTES);
        cn_buf_put_i64(&out, 1700000000);
        seed_buf("config", "body", &out);
        cn_envelope_seal(&env, CN_MAGIC_CONFIG, &h, key, out.data, out.len);
        seed_buf("envelope", "config", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);
        cn_buf_put_bytes32(&out, "default", 7);
        cn_buf_put_i64(&out, 1700000000);
        cn_buf_append(&out, a, CN_KEY_BYTES);
        cn_buf_put_u8(&out, 1);
        cn_buf_put_u32(&out, cn_chunker_default_params.min_size);
        cn_buf_put_u32(&out, cn_chunker_default_params.avg_size);
        cn_buf_put_u32(&out, cn_chunker_default_params.max_size);
        cn_buf_put_u8(&out, 1);
        seed_version("controller", "body-v2", 2, out.data, out.len);
        cn_buf_put_u32(&out, 1);
        cn_buf_append(&out, b, CN_KEY_BYTES);
        seed_version("controller", "body", 1, out.data, out.len);
        cn_buf_reset(&out);

        /* erasure requests: a subject, and a path with every text field */
        CnEraseRequest rq = { .scope = CN_ERASE_SUBJECT, .value = "alice", .created = 1796601600 };
        cn_erase_request_encode(&rq, &out);
        seed_buf("erasure", "subject", &out);
        cn_buf_reset(&out);
        rq = (CnEraseRequest) { .scope = CN_ERASE_PATH, .value = "/home/*/mail/**", .reason = "art. 17 request",
                                .reference = "DSR-12", .requester = "ops@appliance", .created = -1 };
        cn_erase_request_encode(&rq, &out);
        seed_buf("erasure", "path", &out);
        cn_buf_reset(&out);

        /* a key store object's body during an epoch change: two keys */
        CnKeyStore ks;
        if (cn_keystore_init(&ks, a, b) < 0 || cn_keystore_add_location(&ks, "/var/lib/cairn/keystore") < 0 ||
            cn_keystore_add_location(&ks, "sftp://escrow@127.0.0.1/keys") < 0 ||
            cn_keystore_add_key(&ks, 1, a) < 0 || cn_keystore_add_key(&ks, 2, b) < 0)
                die("keystore", -ENOMEM);
        ks.generation = 2;
        cn_keystore_body_encode(&ks, &out);
        seed_buf("keystore", "two-epochs", &out);
        cn_keystore_done(&ks);
        cn_buf_reset(&out);

        /* snapshot */
        char *paths[] = { "/srv", "/home/a b" }, *tags[] = { "daily", "" };
        CnSnapshotError err = { .path = "/srv/locked", .error = 13 };
        CnSnapshot s = { .time = { 1700000000, 5 }, .hostname = "host", .username = "root", .paths = paths,
                         .n_paths = 2, .tags = tags, .n_tags = 1, .has_parent = true, .files = 3, .dirs = 1,
                         .bytes = 100, .errors = &err, .n_errors = 1 };
        memcpy(s.tree, a, CN_ID_BYTES);
        memcpy(s.parent, b, CN_ID_BYTES);
        if ((r = cn_snapshot_encode(&s, &out)) < 0)
                die("snapshot", r);
        seed_buf("snapshot", "encoded", &out);
        cn_envelope_seal(&env, CN_MAGIC_SNAPSHOT, &h, key, out.data, out.len);
        seed_buf("envelope", "snapshot", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);

        /* audit entries */
        CnAuditItem items[4] = { { .field = CN_AUDIT_F_HOST, .len = CN_ID_BYTES },
                                 { .field = CN_AUDIT_F_SNAPSHOT, .len = CN_ID_BYTES },
                                 { .field = CN_AUDIT_F_FILES, .len = 8, .value = { 3 } },
                                 { .field = CN_AUDIT_F_ACTION, .len = 4, .value = "send" } };
        memcpy(items[1].value, a, CN_ID_BYTES);
        CnAuditEntry ae = { .seq = 7, .time = 1700000000, .kind = CN_AUDIT_COPY, .outcome = CN_AUDIT_OK,
                            .items = items, .n_items = 4 };
        memcpy(ae.prev, b, CN_ID_BYTES);
        if ((r = cn_audit_entry_encode(&ae, &out)) < 0)
                die("audit", r);
        seed_buf("audit", "encoded", &out);
        cn_buf_reset(&out);
        ae.n_items = 0;
        ae.seq = 0;
        memset(ae.prev, 0, CN_ID_BYTES);
        cn_audit_entry_encode(&ae, &out);
        seed_buf("audit", "empty", &out);
        cn_buf_reset(&out);

        /* holds */
        CnHold hold = { .scope = CN_HOLD_PATH, .value = "/srv/mail/**", .reason = "litigation", .reference = "",
                        .creator = "ops", .created = 1700000000, .has_review = true, .review = 1800000000 };
        if ((r = cn_hold_encode(&hold, &out)) < 0)
                die("hold", r);
        seed_buf("hold", "path", &out);
        cn_envelope_seal(&env, CN_MAGIC_HOLD, &h, key, out.data, out.len);
        seed_buf("envelope", "hold", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);
        hold = (CnHold) { .scope = CN_HOLD_TAG, .value = "keep", .reason = "r", .reference = "case 1", .creator = "c" };
        cn_hold_encode(&hold, &out);
        seed_buf("hold", "tag", &out);
        cn_buf_reset(&out);
        /* locations and grants, removals and revocations */
        CnLocation loc = { .name = "gcp-us", .provider = "Google Cloud", .region = "us-east1", .note = "",
                           .creator = "", .created = -1 };
        if ((r = cn_location_encode(&loc, &out)) < 0)
                die("location", r);
        seed_buf("location", "encoded", &out);
        cn_envelope_seal(&env, CN_MAGIC_LOCATION, &h, key, out.data, out.len);
        seed_buf("envelope", "location", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);
        CnLocationEnd end = { .creator = "ops@host", .created = 1700000002 };
        memcpy(end.target, a, CN_ID_BYTES);
        cn_location_end_encode(&end, &out);
        seed_buf("location-end", "encoded", &out);
        cn_envelope_seal(&env, CN_MAGIC_GRANT_REVOKE, &h, key, out.data, out.len);
        seed_buf("envelope", "grant-revoke", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);
        /* retention policies */
        uint8_t sup[2][CN_ID_BYTES];
        memset(sup[0], 1, CN_ID_BYTES);
        memset(sup[1], 2, CN_ID_BYTES);
        CnRetention ret = { .created = 1700000000, .creator = "ops@host", .supersedes = sup, .n_supersedes = 2 };
        ret.policy.keep[CN_FORGET_LAST] = 1;
        ret.policy.within_bucket[CN_FORGET_DAILY] = (CnDuration) { .days = 7 };
        if ((r = cn_retention_encode(&ret, &out)) < 0)
                die("retention", r);
        seed_buf("retention", "encoded", &out);
        cn_envelope_seal(&env, CN_MAGIC_RETENTION, &h, key, out.data, out.len);
        seed_buf("envelope", "retention", &env);
        ret = (CnRetention) { .creator = "" };
        cn_retention_encode(&ret, &out);
        seed_buf("retention", "cleared", &out);
        cn_buf_reset(&out);

        /* requests and their closings */
        CnRequest req = { .kind = CN_REQUEST_ACCESS, .received = 1700000000, .reference = "R-1", .note = "",
                          .creator = "ops", .created = 1700000001 };
        if ((r = cn_request_encode(&req, &out)) < 0)
                die("request", r);
        seed_buf("request", "unscoped", &out);
        cn_envelope_seal(&env, CN_MAGIC_REQUEST, &h, key, out.data, out.len);
        seed_buf("envelope", "request", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);
        CnRequestClosing closing = { .outcome = CN_REQUEST_PARTIAL, .links = CN_REQUEST_LINK_EXPORT, .note = "n",
                                     .creator = "ops", .created = 1700000002 };
        memcpy(closing.request, a, CN_ID_BYTES);
        memcpy(closing.export_digest, a, CN_ID_BYTES);
        if ((r = cn_request_closing_encode(&closing, &out)) < 0)
                die("request closing", r);
        seed_buf("request-closing", "export", &out);
        cn_buf_reset(&out);
        CnHoldRelease rel = { .reason = "closed", .creator = "ops", .created = 1700000001 };
        memcpy(rel.hold, a, CN_ID_BYTES);
        cn_hold_release_encode(&rel, &out);
        seed_buf("hold-release", "encoded", &out);
        cn_buf_reset(&out);

        /* damage, plan, session */
        CnDamageSet d = {};
        cn_damage_set_add(&d, a, b);
        cn_damage_set_add(&d, b, a);
        cn_damage_set_add(&d, b, b);
        if ((r = cn_damage_encode(&d, &out)) < 0)
                die("damage", r);
        seed_buf("damage", "three", &out);
        cn_envelope_seal(&env, CN_MAGIC_DAMAGE, &h, key, out.data, out.len);
        seed_buf("envelope", "damage", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);
        if ((r = cn_plan_encode(1700000000, &d, &out)) < 0)
                die("plan", r);
        seed_buf("plan", "three", &out);
        cn_buf_reset(&out);
        cn_damage_set_done(&d);
        uint8_t plans[2][CN_ID_BYTES];
        memcpy(plans[0], a, CN_ID_BYTES);
        memcpy(plans[1], b, CN_ID_BYTES);
        CnSessionInfo si = { .kind = CN_SESSION_PRUNE, .started = 1700000000, .refreshed = 1700000300,
                             .host = "backup1", .pid = 4242, .plans = plans, .n_plans = 2 };
        cn_session_encode(&si, &out);
        seed_buf("session", "prune", &out);
        cn_envelope_seal(&env, CN_MAGIC_SESSION, &h, key, out.data, out.len);
        seed_buf("envelope", "session", &env);
        cn_buf_reset(&out);
        cn_buf_reset(&env);

        /* trees: every node type; a list of two leaves, blobs for the dir reader */
        CnNode nodes[4] = { node("a-dir", CN_NODE_DIR), node("b-file", CN_NODE_FILE), node("c-link", CN_NODE_SYMLINK),
                            node("d-fifo", CN_NODE_FIFO) };
        CnXattr xa = { .name = "user.k", .value = (uint8_t *) "v", .value_len = 1 };
        uint8_t chunk[1][CN_ID_BYTES];
        memcpy(chunk[0], a, CN_ID_BYTES);
        nodes[1].size = 5;
        nodes[1].chunks = chunk;
        nodes[1].n_chunks = 1;
        nodes[1].xattrs = &xa;
        nodes[1].n_xattrs = 1;
        nodes[2].target = "b-file";
        nodes[2].target_len = 6;
        if ((r = cn_tree_encode(nodes, 4, &out)) < 0)
                die("tree", r);
        seed_buf("tree", "four", &out);
        CnBuf leaf2 = CN_BUF_INIT(1 << 20), list = CN_BUF_INIT(1 << 20), blobs = CN_BUF_INIT(1 << 20);
        CnNode later[1] = { node("z-file", CN_NODE_FILE) };
        cn_tree_encode(later, 1, &leaf2);
        uint8_t ids[2][CN_ID_BYTES] = {};
        ids[0][0] = 1;
        ids[1][0] = 2;
        cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) ids, 2, &list);
        seed_buf("tree-list", "two", &list);
        cn_buf_put_bytes32(&blobs, list.data, list.len);
        cn_buf_put_bytes32(&blobs, out.data, out.len);
        cn_buf_put_bytes32(&blobs, leaf2.data, leaf2.len);
        seed_buf("dir-reader", "list-of-two", &blobs);
        cn_buf_reset(&blobs);
        cn_buf_put_bytes32(&blobs, out.data, out.len);
        seed_buf("dir-reader", "plain", &blobs);
        /* a v3 leaf: an entry with data subjects */
        char *subjects[2] = { "alice", "bob" };
        later[0].subjects = subjects;
        later[0].n_subjects = 2;
        cn_buf_reset(&leaf2);
        cn_tree_encode(later, 1, &leaf2);
        seed_buf("tree", "subjects", &leaf2);
        cn_buf_reset(&blobs);
        cn_buf_put_bytes32(&blobs, list.data, list.len);
        cn_buf_put_bytes32(&blobs, out.data, out.len);
        cn_buf_put_bytes32(&blobs, leaf2.data, leaf2.len);
        seed_buf("dir-reader", "list-v3-leaf", &blobs);
        cn_buf_done(&leaf2);
        cn_buf_done(&list);
        cn_buf_done(&blobs);
        cn_buf_reset(&out);

        /* a pack whose header is in the clear (nonce, entries, a zero tag) */
        CnPackEntry e[2] = { { .loc = { .type = CN_BLOB_DATA, .flags = CN_BLOB_ZSTD, .offset = CN_PACK_PREAMBLE_BYTES,
                                        .length = 50, .raw_length = 100 } },
                             { .loc = { .type = CN_BLOB_TREE, .offset = CN_PACK_PREAMBLE_BYTES + 50, .length = 40,
                                        .raw_length = 24 } } };
        memcpy(e[0].id, a, CN_ID_BYTES);
        memcpy(e[1].id, b, CN_ID_BYTES);
        uint8_t fill[CN_PACK_PREAMBLE_BYTES + 90] = {};
        memcpy(fill, CN_MAGIC_PACK, CN_MAGIC_BYTES);
        cn_le32_put(fill + CN_MAGIC_BYTES, 1);
        CnBuf entries = CN_BUF_INIT(1 << 20);
        cn_pack_encode_entries(&entries, e, 2);
        cn_buf_append(&out, fill, sizeof fill);
        cn_buf_append(&out, zero, CN_AEAD_NONCE_BYTES);
        cn_buf_append(&out, entries.data, entries.len);
        cn_buf_append(&out, zero, CN_AEAD_TAG_BYTES);
        cn_buf_put_u32(&out, (uint32_t) (CN_AEAD_NONCE_BYTES + entries.len + CN_AEAD_TAG_BYTES));
        cn_buf_append(&out, CN_MAGIC_PACK_TRAILER, CN_MAGIC_BYTES);
        seed_buf("pack", "two-blobs", &out);
        cn_buf_reset(&out);
        cn_buf_append(&out, a, CN_ID_BYTES);
        cn_buf_append(&out, entries.data, entries.len);
        seed_buf("index", "two-blobs", &out);
        cn_buf_reset(&out);
        cn_buf_append(&out, a, CN_ID_BYTES);
        cn_buf_put_u32(&out, 2);
        cn_buf_append(&out, a, CN_ID_BYTES);
        cn_buf_append(&out, b, CN_KEY_BYTES);
        cn_buf_append(&out, b, CN_ID_BYTES);
        cn_buf_append(&out, a, CN_KEY_BYTES);
        seed_version("ledger", "two-keys", 1, out.data, out.len);
        cn_buf_reset(&out);
        cn_buf_put_u32(&out, 2);        /* version 2: two packs, the second a version 1 pack */
        cn_ledger_encode_pack(&out, a, b, 1, a, CN_ID_BYTES, b, CN_KEY_BYTES);
        cn_ledger_encode_pack(&out, b, zero, 2, a, 0, zero, 0);
        seed_version("ledger", "two-packs-v2", 2, out.data, out.len);
        cn_buf_done(&entries);
        cn_buf_done(&out);
        cn_buf_done(&env);
}

/* The objects of the golden v1 repository, opened. */
static void seeds_of_repository(const char *vectors) {
        char path[4096];
        CnBackend *be = NULL;
        CnRepo *repo = NULL;
        CnNames names = {};
        CnBuf obj = CN_BUF_INIT(CN_MAX_PACK_BYTES), body = CN_BUF_INIT(CN_MAX_META_BYTES);
        CnEnvelopeHeader h;
        int r;

        snprintf(path, sizeof path, "%s/repo-v1", vectors);
        if ((r = cn_backend_open(path, false, &be)) < 0 || (r = cn_repo_open(be, "cairn-vector", 12, &repo)) < 0)
                die(path, r);
        CnController *c = cn_repo_controller(repo, 0);
        static const struct {
                const char *prefix, *magic, *target;
                bool epoch;
        } kinds[] = {
                { "index/", CN_MAGIC_INDEX, "index", false },
                { "ledger/", CN_MAGIC_LEDGER, "ledger", true },
                { "snapshots/", CN_MAGIC_SNAPSHOT, "snapshot", false },
        };
        for (size_t k = 0; k < CN_ELEMENTSOF(kinds); k++) {
                if ((r = cn_backend_list_names(be, kinds[k].prefix, &names)) < 0)
                        die(kinds[k].prefix, r);
                for (size_t i = 0; i < names.n; i++) {
                        char name[64];
                        if ((r = cn_backend_get(be, names.v[i], 0, CN_GET_ALL, &obj)) < 0 ||
                            (r = cn_envelope_open(obj.data, obj.len, kinds[k].magic,
                                                  kinds[k].epoch ? c->epoch_key : c->meta_key, &h, &body)) < 0)
                                die(names.v[i], r);
                        snprintf(name, sizeof name, "repo-v1-%zu", i);
                        if (kinds[k].epoch)
                                seed_version(kinds[k].target, name, 1, body.data, body.len);
                        else
                                seed(kinds[k].target, name, body.data, body.len);
                        seed("envelope", kinds[k].target, obj.data, obj.len);
                }
                cn_names_done(&names);
        }
        /* key file, config, controller as stored */
        static const char *const stored[][2] = { { "keys/", "keyfile" }, { "config", "envelope" },
                                                  { "controllers/", "envelope" } };
        for (size_t k = 0; k < CN_ELEMENTSOF(stored); k++) {
                if ((r = cn_backend_list_names(be, stored[k][0], &names)) < 0 || names.n == 0)
                        die(stored[k][0], r);
                if ((r = cn_backend_get(be, names.v[0], 0, CN_GET_ALL, &obj)) < 0)
                        die(names.v[0], r);
                seed(stored[k][1], stored[k][0][0] == 'k' ? "repo-v1" : strcmp(stored[k][0], "config") == 0 ?
                                                                          "repo-v1-config" :
                                                                          "repo-v1-controller",
                     obj.data, obj.len);
                cn_names_done(&names);
        }
        /* the pack, its header opened in place (the tag left as zeros) */
        if ((r = cn_backend_list_names(be, "data/", &names)) < 0 || names.n == 0)
                die("data/", r);
        if ((r = cn_backend_get(be, names.v[0], 0, CN_GET_ALL, &obj)) < 0)
                die(names.v[0], r);
        uint32_t hlen;
        uint8_t pack_id[CN_ID_BYTES], ad[CN_PACK_HEADER_AD_BYTES];
        const char *slash = strrchr(names.v[0], '/');
        if (cn_hex_decode(slash + 1, pack_id, CN_ID_BYTES) < 0 ||
            cn_pack_trailer_parse(obj.data + obj.len - CN_PACK_TRAILER_BYTES, obj.len, &hlen) < 0)
                die(names.v[0], -EBADMSG);
        uint8_t *hdr = obj.data + obj.len - CN_PACK_TRAILER_BYTES - hlen;
        cn_pack_header_ad(1, cn_repo_processor_id(repo), c->id, pack_id, ad);
        if ((r = cn_aead_open(hdr + CN_AEAD_NONCE_BYTES, hdr + CN_AEAD_NONCE_BYTES, hlen - CN_AEAD_NONCE_BYTES, ad,
                              sizeof ad, hdr, c->meta_key)) < 0)
                die(names.v[0], r);
        memset(hdr + hlen - CN_AEAD_TAG_BYTES, 0, CN_AEAD_TAG_BYTES);
        seed("pack", "repo-v1", obj.data, obj.len);
        cn_names_done(&names);

        /* the snapshot's root tree, and the tree of its subdirectory */
        CnSnapshot *snaps;
        size_t n_snaps;
        CnStore *store;
        if ((r = cn_snapshot_list(repo, c, NULL, NULL, &snaps, &n_snaps)) < 0 || n_snaps == 0 ||
            (r = cn_store_open(repo, c, CN_STORE_KEYS, &store)) < 0)
                die("snapshot list", r);
        uint8_t tree[CN_ID_BYTES];
        memcpy(tree, snaps[0].tree, CN_ID_BYTES);
        for (int depth = 0; depth < 3; depth++) {
                CnNode *nodes;
                size_t n;
                char name[32];
                CnBuf blobs = CN_BUF_INIT(1 << 20);
                if ((r = cn_store_get(store, tree, &body)) < 0 || (r = cn_tree_decode(body.data, body.len, &nodes, &n)) < 0)
                        die("tree", r);
                snprintf(name, sizeof name, "repo-v1-%d", depth);
                seed("tree", name, body.data, body.len);
                cn_buf_put_bytes32(&blobs, body.data, body.len);
                seed("dir-reader", name, blobs.data, blobs.len);
                cn_buf_done(&blobs);
                size_t i = 0;
                while (i < n && nodes[i].type != CN_NODE_DIR)
                        i++;
                if (i < n)
                        memcpy(tree, nodes[i].subtree, CN_ID_BYTES);
                cn_nodes_free(nodes, n);
                if (i == n)
                        break;
        }
        cn_store_free(store);
        cn_snapshots_free(snaps, n_snaps);
        cn_repo_unref(repo);
        cn_backend_close(be);
        cn_buf_done(&obj);
        cn_buf_done(&body);
}

static void seeds_of_storage(void) {
        seed_str("s3-xml", "list-v2",
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                 "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p/</Prefix>"
                 "<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
                 "<NextContinuationToken>tok</NextContinuationToken><Contents><Key>p/config</Key>"
                 "<Size>312</Size></Contents><Contents><Key>p/keys/ab</Key><Size>0</Size></Contents>"
                 "</ListBucketResult>");
        seed_str("s3-xml", "list-v1",
                 "<ListBucketResult><IsTruncated>false</IsTruncated><Marker></Marker><Contents><Key>a</Key>"
                 "<Size>1</Size></Contents></ListBucketResult>");
        seed_str("s3-xml", "error",
                 "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not "
                 "exist</Message><Resource>/b</Resource></Error>");
        seed_str("s3-xml", "initiate",
                 "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2Fk</UploadId>"
                 "</InitiateMultipartUploadResult>");
        seed_str("s3-credentials", "two-profiles",
                 "# comment\n[default]\naws_access_key_id = AKIA\naws_secret_access_key=secret\n\n[cairn]\n"
                 "aws_access_key_id=id2\r\naws_secret_access_key = s2\naws_session_token = tok\n; end\n");
        seed_str("sftp-ls", "listing",
                 "drwxr-xr-x    5 cairn    cairn        4096 Nov 29 16:38 .\n"
                 "-rw-r--r--    1 cairn    cairn         312 May 20  2024 config\n"
                 "-rw-------    1 cairn    cairn        1497 Feb  3 09:01 .tmp-abc\r\n"
                 "lrwxrwxrwx    1 cairn    cairn           6 Jan  1  1970 link -> target\n"
                 "-rw-r--r--+   1 1000     1000   18446744073709551615 Dec 31 23:59 a name with blanks\n");
        seed_str("webdav-propfind", "nginx",
                 "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<D:multistatus xmlns:D=\"DAV:\">\n"
                 "<D:response><D:href>/repo/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/>"
                 "</D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n"
                 "<D:response><D:href>/repo/config</D:href><D:propstat><D:prop><D:getcontentlength>312"
                 "</D:getcontentlength><D:getlastmodified>Sat, 29 Nov 2025 16:38:00 GMT</D:getlastmodified>"
                 "<D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n"
                 "<D:response><D:href>http://h:8080/repo/a%20b/</D:href><D:propstat><D:prop><D:resourcetype>"
                 "<D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
                 "<D:propstat><D:prop><D:getcontentlength/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status>"
                 "</D:propstat></D:response>\n</D:multistatus>\n");
        seed_str("url", "encoded", "/a%20b/c%2Fd/%7e");
        seed_str("url", "endpoint", "https://minio.example:9000/");
        seed_str("url", "bucket", "my-bucket.example");
}

/* Erasure certificates signed with the key of RFC 8032 test 1 (what
 * fuzz-certificate verifies with): complete, partial and deferred ones with
 * every member used, and the same bytes one edit away from canonical. */
static void seeds_of_certificates(void) {
        static const char sk_hex[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
                                     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        static const CnCertificateKeeper kept[] = {{{1}, {2}}, {{3}, {4}}};
        static const CnCertificateRetained retained[] = {{3, 12345, kept, 2}};
        static const CnCertificateLocation done[] = {
                {"/srv/backup/repo", CN_CERTIFICATE_LOCATION_REPOSITORY, CN_CERTIFICATE_LOCATION_DONE},
                {"s3://bucket/replica", CN_CERTIFICATE_LOCATION_REPLICA, CN_CERTIFICATE_LOCATION_DONE},
                {"/var/lib/cairn/keys", CN_CERTIFICATE_LOCATION_KEY_STORE, CN_CERTIFICATE_LOCATION_DONE},
        };
        static const CnCertificateLocation unreachable[] = {
                {"/srv/backup/repo", CN_CERTIFICATE_LOCATION_REPOSITORY, CN_CERTIFICATE_LOCATION_DONE},
                {"sftp://backup@host/replica", CN_CERTIFICATE_LOCATION_REPLICA, CN_CERTIFICATE_LOCATION_UNREACHABLE},
        };
        static const uint8_t snaps[2][CN_ID_BYTES] = {{0xaa}, {0xbb}};
        static const CnCertificateDeferred deferred[] = {{{0x5a}, snaps, 2, 7}};
        static const char *const residual[] = {"chunk ids in index copies made before the erasure"};
        uint8_t sk[CN_SIGN_SECRET_BYTES], key[CN_KEY_BYTES] = {};
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES), env = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + 4096);
        CnEnvelopeHeader h = {};
        char id[CN_ID_HEX + 1];
        int r;

        if (cn_hex_decode(sk_hex, sk, sizeof sk) < 0)
                die("certificate key", -EINVAL);
        CnCertificate c = {
                .processor_name = "cairn",
                .scope = CN_CERTIFICATE_SCOPE_SUBJECT,
                .reference = "ticket 4711",
                .reason = "Art. 17: L\xc3\xb6schung \"sofort\" \\ / \xf0\x9f\x98\x80",
                .requested_at = 1796601600,
                .status = CN_CERTIFICATE_COMPLETE,
                .started_at = 1796601700,
                .completed_at = 1796601800,
                .cryptographically_complete = true,
                .cryptographically_complete_at = 1796601790,
                .epoch_from = 3,
                .epoch_to = 4,
                .counts = {1, 2, 3, 4, 5, 6, 7, 8},
                .retained = retained,
                .n_retained = 1,
                .locations = done,
                .n_locations = 3,
                .residual = residual,
                .n_residual = 1,
        };
        memcpy(c.processor_public_key, sk + 32, CN_SIGN_PUBLIC_BYTES);
        memset(c.processor_id, 0x33, CN_UUID_BYTES);
        memset(c.repository, 0x55, CN_UUID_BYTES);
        memset(c.controller, 0x44, CN_UUID_BYTES);
        memset(c.value_pseudonym, 0x66, CN_ID_BYTES);
        if ((r = cn_certificate_sign(&c, sk, &file, id)) < 0)
                die("certificate", r);
        seed_buf("certificate", "complete", &file);
        memcpy(h.processor, c.processor_id, CN_UUID_BYTES);
        memcpy(h.controller, c.controller, CN_UUID_BYTES);
        cn_envelope_seal(&env, CN_MAGIC_CERTIFICATE, &h, key, file.data, file.len);
        seed_buf("envelope", "certificate", &env);
        /* one byte past canonical: a space after the first brace */
        cn_buf_reset(&env);
        cn_buf_append(&env, "{ ", 2);
        cn_buf_append(&env, file.data + 1, file.len - 1);
        seed_buf("certificate", "space", &env);

        c.status = CN_CERTIFICATE_PARTIAL;
        c.cryptographically_complete = false;
        c.locations = unreachable;
        c.n_locations = 2;
        c.scope = CN_CERTIFICATE_SCOPE_CONTROLLER;
        if ((r = cn_certificate_sign(&c, sk, &file, id)) < 0)
                die("certificate", r);
        seed_buf("certificate", "partial", &file);

        c.status = CN_CERTIFICATE_DEFERRED;
        c.deferred = deferred;
        c.n_deferred = 1;
        c.scope = CN_CERTIFICATE_SCOPE_PATH;
        c.reference = NULL;
        c.reason = NULL;
        if ((r = cn_certificate_sign(&c, sk, &file, id)) < 0)
                die("certificate", r);
        seed_buf("certificate", "deferred", &file);
        cn_buf_done(&file);
        cn_buf_done(&env);
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: fuzz-make-seeds VECTORS_DIR OUT_DIR\n");
                return 2;
        }
        out_dir = argv[2];
        if (cn_crypto_init() < 0)
                die("libsodium", -EIO);
        seed_hex(argv[1], "envelope-v1.hex", "envelope", "vector-v1");
        seed_hex(argv[1], "damage-body-v1.hex", "damage", "vector-v1");
        seed_hex(argv[1], "hold-body-v1.hex", "hold", "vector-v1");
        seed_hex(argv[1], "hold-release-body-v1.hex", "hold-release", "vector-v1");
        seed_hex(argv[1], "location-body-v1.hex", "location", "vector-v1");
        seed_hex(argv[1], "location-end-body-v1.hex", "location-end", "vector-v1");
        seed_hex(argv[1], "retention-body-v1.hex", "retention", "vector-v1");
        seed_hex(argv[1], "request-body-v1.hex", "request", "vector-v1");
        seed_hex(argv[1], "request-closing-body-v1.hex", "request-closing", "vector-v1");
        seed_hex(argv[1], "tree-v1.hex", "tree", "vector-v1");
        seed_hex(argv[1], "tree-v2.hex", "tree", "vector-v2");
        seed_hex(argv[1], "tree-v3.hex", "tree", "vector-v3");
        seed_hex(argv[1], "treelist-v1.hex", "tree-list", "vector-v1");
        seeds_of_encoders();
        seeds_of_repository(argv[1]);
        seeds_of_storage();
        seeds_of_certificates();
        return 0;
}

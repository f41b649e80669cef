/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The v1 encodings: golden vectors, round trips, and bounded parsing
 * (every truncation and every single-byte corruption is rejected cleanly). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "damage.h"
#include "envelope.h"
#include "fileio.h"
#include "hex.h"
#include "pattern.h"
#include "snapshot.h"
#include "tree.h"

static void init(void) {
        cr_assert_eq(cn_crypto_init(), 0);
}

static char *dup_bytes(const char *s, size_t n) {
        char *p = malloc(n + 1);
        memcpy(p, s, n);
        p[n] = 0;
        return p;
}

/* A directory of every entry kind, with odd names and far-off times. */
static void sample_nodes(CnNode **ret, size_t *ret_n) {
        CnNode *v = calloc(4, sizeof *v);
        static const char odd[] = "\xff\xfe name\nwith newline";

        v[0] = (CnNode) { .type = CN_NODE_DIR, .mode = 01777, .uid = 0, .gid = 0, .nlink = 2 };
        v[0].name = dup_bytes("dir", 3), v[0].name_len = 3;
        v[0].mtime = (CnTime) { -2147483648LL - 5, 999999999 };
        memset(v[0].subtree, 0xab, CN_ID_BYTES);

        v[1] = (CnNode) { .type = CN_NODE_FILE, .mode = 04755, .uid = 12345, .gid = 54321, .size = 1 << 20,
                          .sparse = true, .nlink = 3, .link_group = 1 };
        v[1].name = dup_bytes("file", 4), v[1].name_len = 4;
        v[1].user = dup_bytes("alice", 5);
        v[1].mtime = (CnTime) { 4102444800LL, 123456789 };      /* 2100-01-01 */
        v[1].ctime = (CnTime) { 1700000000, 1 };
        v[1].n_extents = 2;
        v[1].extents = calloc(2, sizeof *v[1].extents);
        v[1].extents[0] = (CnExtent) { 0, 4096 };
        v[1].extents[1] = (CnExtent) { 65536, 4096 };
        v[1].n_chunks = 2;
        v[1].chunks = calloc(2, CN_ID_BYTES);
        memset(v[1].chunks[0], 1, CN_ID_BYTES);
        memset(v[1].chunks[1], 2, CN_ID_BYTES);
        v[1].n_xattrs = 2;
        v[1].xattrs = calloc(2, sizeof *v[1].xattrs);
        v[1].xattrs[0].name = dup_bytes("system.posix_acl_access", 23);
        v[1].xattrs[0].value = (uint8_t *) dup_bytes("\x02\0\0\0\x01\0\x06\0\xff\xff\xff\xff", 12);
        v[1].xattrs[0].value_len = 12;
        v[1].xattrs[1].name = dup_bytes("user.bin", 8);
        v[1].xattrs[1].value = (uint8_t *) dup_bytes("\0\1\2", 3);
        v[1].xattrs[1].value_len = 3;

        v[2] = (CnNode) { .type = CN_NODE_SYMLINK, .mode = 0777 };
        v[2].name = dup_bytes("link", 4), v[2].name_len = 4;
        v[2].target = dup_bytes("../file", 7), v[2].target_len = 7;

        v[3] = (CnNode) { .type = CN_NODE_CHR, .mode = 0666, .rdev = 0x103 };
        v[3].name = dup_bytes(odd, sizeof odd - 1), v[3].name_len = sizeof odd - 1;
        v[3].group = dup_bytes("tty", 3);

        cn_nodes_sort(v, 4);
        *ret = v;
        *ret_n = 4;
}

static void read_vector(const char *name, CnBuf *out) {
        char path[4096];
        const char *dir = getenv("CAIRN_VECTORS");
        cr_assert_not_null(dir, "CAIRN_VECTORS is not set");
        snprintf(path, sizeof path, "%s/%s", dir, name);
        CnBuf hex = CN_BUF_INIT(16u << 20);
        cr_assert_eq(cn_read_file_at(AT_FDCWD, path, &hex), 0, "cannot read %s", path);
        size_t k = 0;
        for (size_t i = 0; i < hex.len; i++)
                if (hex.data[i] != '\n' && hex.data[i] != ' ')
                        hex.data[k++] = hex.data[i];
        hex.len = k;
        cr_assert_eq(cn_buf_append(&hex, "", 1), 0);
        cn_buf_init(out, 8u << 20);
        cr_assert_eq(cn_buf_reserve(out, hex.len / 2), 0);
        cr_assert_eq(cn_hex_decode((const char *) hex.data, out->data, hex.len / 2), 0, "%s is not hex", path);
        out->len = hex.len / 2;
        cn_buf_done(&hex);
}

/* With CAIRN_VECTORS_WRITE=1 the test (re)writes the vector: a format change on purpose. */
static void maybe_write_vector(const char *name, const CnBuf *b) {
        if (!getenv("CAIRN_VECTORS_WRITE"))
                return;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", getenv("CAIRN_VECTORS"), name);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        for (size_t i = 0; i < b->len; i++)
                fprintf(f, "%02x%s", b->data[i], (i + 1) % 32 == 0 ? "\n" : "");
        fputc('\n', f);
        fclose(f);
}

Test(tree, encoding_matches_golden_vector, .init = init) {
        CnNode *v;
        size_t n;
        CnBuf enc = CN_BUF_INIT(1u << 20), gold;
        sample_nodes(&v, &n);
        cr_assert_eq(cn_tree_encode(v, n, &enc), 0);
        maybe_write_vector("tree-v1.hex", &enc);
        read_vector("tree-v1.hex", &gold);
        cr_assert_eq(enc.len, gold.len);
        cr_assert_eq(memcmp(enc.data, gold.data, enc.len), 0, "tree encoding changed: update FORMAT.md and the vector");
        cn_nodes_free(v, n);
        cn_buf_done(&enc);
        cn_buf_done(&gold);
}

Test(tree, round_trip_keeps_every_field, .init = init) {
        CnNode *v, *w;
        size_t n, m;
        CnBuf enc = CN_BUF_INIT(1u << 20);
        sample_nodes(&v, &n);
        cr_assert_eq(cn_tree_encode(v, n, &enc), 0);
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &w, &m), 0);
        cr_assert_eq(m, n);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(w[i].name_len, v[i].name_len);
                cr_assert_eq(memcmp(w[i].name, v[i].name, v[i].name_len), 0);
                cr_assert_eq(w[i].type, v[i].type);
                cr_assert_eq(w[i].mode, v[i].mode);
                cr_assert_eq(w[i].uid, v[i].uid);
                cr_assert_eq(w[i].mtime.sec, v[i].mtime.sec);
                cr_assert_eq(w[i].mtime.nsec, v[i].mtime.nsec);
                cr_assert_eq(w[i].rdev, v[i].rdev);
                cr_assert_eq(w[i].size, v[i].size);
                cr_assert_eq(w[i].link_group, v[i].link_group);
                cr_assert_eq(w[i].n_xattrs, v[i].n_xattrs);
                for (size_t j = 0; j < v[i].n_xattrs; j++) {
                        cr_assert_str_eq(w[i].xattrs[j].name, v[i].xattrs[j].name);
                        cr_assert_eq(w[i].xattrs[j].value_len, v[i].xattrs[j].value_len);
                        cr_assert_eq(memcmp(w[i].xattrs[j].value, v[i].xattrs[j].value, v[i].xattrs[j].value_len), 0);
                }
                cr_assert_eq(w[i].n_extents, v[i].n_extents);
                cr_assert_eq(w[i].n_chunks, v[i].n_chunks);
                if (v[i].n_chunks)
                        cr_assert_eq(memcmp(w[i].chunks, v[i].chunks, v[i].n_chunks * CN_ID_BYTES), 0);
                cr_assert_eq(!!w[i].user, !!v[i].user);
                cr_assert_eq(w[i].target_len, v[i].target_len);
                if (v[i].type == CN_NODE_DIR)
                        cr_assert_eq(memcmp(w[i].subtree, v[i].subtree, CN_ID_BYTES), 0);
        }
        cn_nodes_free(v, n);
        cn_nodes_free(w, m);
        cn_buf_done(&enc);
}

Test(node, copy_is_deep_and_complete, .init = init) {
        CnNode *v, c;
        size_t n;
        CnBuf a = CN_BUF_INIT(1u << 20), b = CN_BUF_INIT(1u << 20);
        sample_nodes(&v, &n);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(cn_node_copy(&c, &v[i]), 0);
                cn_buf_reset(&a);
                cn_buf_reset(&b);
                cr_assert_eq(cn_tree_encode(&v[i], 1, &a), 0);
                cr_assert_eq(cn_tree_encode(&c, 1, &b), 0);
                cr_assert_eq(a.len, b.len, "entry %zu: the copy encodes differently", i);
                cr_assert_eq(memcmp(a.data, b.data, a.len), 0, "entry %zu: the copy encodes differently", i);
                if (v[i].n_xattrs)
                        cr_assert_neq(c.xattrs[0].value, v[i].xattrs[0].value, "values are shared, not copied");
                cn_node_done(&c);
        }
        cn_nodes_free(v, n);
        cn_buf_done(&a);
        cn_buf_done(&b);
}

Test(tree, every_truncation_is_rejected, .init = init) {
        CnNode *v, *w;
        size_t n, m;
        CnBuf enc = CN_BUF_INIT(1u << 20);
        sample_nodes(&v, &n);
        cr_assert_eq(cn_tree_encode(v, n, &enc), 0);
        for (size_t len = 0; len < enc.len; len++) {
                uint8_t *copy = malloc(len ? len : 1);  /* exact size: ASan sees any overrun */
                memcpy(copy, enc.data, len);
                cr_assert_eq(cn_tree_decode(copy, len, &w, &m), -EBADMSG, "length %zu accepted", len);
                free(copy);
        }
        cn_nodes_free(v, n);
        cn_buf_done(&enc);
}

Test(tree, every_corrupted_byte_is_rejected_or_harmless, .init = init) {
        CnNode *v, *w;
        size_t n, m;
        CnBuf enc = CN_BUF_INIT(1u << 20);
        sample_nodes(&v, &n);
        cr_assert_eq(cn_tree_encode(v, n, &enc), 0);
        for (size_t i = 0; i < enc.len; i++)
                for (int bit = 0; bit < 8; bit += 3) {
                        enc.data[i] ^= (uint8_t) (1u << bit);
                        int r = cn_tree_decode(enc.data, enc.len, &w, &m);
                        cr_assert(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT, "byte %zu: %d", i, r);
                        if (r == 0)
                                cn_nodes_free(w, m);
                        enc.data[i] ^= (uint8_t) (1u << bit);
                }
        cn_nodes_free(v, n);
        cn_buf_done(&enc);
}

Test(tree, unknown_version_is_refused_by_name, .init = init) {
        CnBuf enc = CN_BUF_INIT(1024);
        CnNode *w;
        size_t m;
        cr_assert_eq(cn_tree_encode(NULL, 0, &enc), 0);
        enc.data[8] = 2;
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &w, &m), -EPROTONOSUPPORT);
        cn_buf_done(&enc);
}

Test(tree, unsorted_duplicate_and_bad_names_are_rejected, .init = init) {
        static const char *bad[][2] = { { "b", "a" }, { "a", "a" }, { "a", "." }, { "a", ".." }, { "a", "x/y" } };
        for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
                CnNode v[2] = {};
                CnBuf enc = CN_BUF_INIT(4096);
                CnNode *w;
                size_t m;
                for (int i = 0; i < 2; i++) {
                        v[i].type = CN_NODE_FIFO;
                        v[i].name = (char *) bad[t][i];
                        v[i].name_len = strlen(bad[t][i]);
                }
                cr_assert_eq(cn_tree_encode(v, 2, &enc), 0);
                cr_assert_eq(cn_tree_decode(enc.data, enc.len, &w, &m), -EBADMSG, "case %zu accepted", t);
                cn_buf_done(&enc);
        }
}

Test(envelope, golden_vector_opens_and_binds_its_header, .init = init) {
        uint8_t key[CN_KEY_BYTES];
        CnBuf gold, body = CN_BUF_INIT(4096);
        CnEnvelopeHeader h;
        static const char msg[] = "cairn envelope vector";
        for (int i = 0; i < CN_KEY_BYTES; i++)
                key[i] = (uint8_t) i;
        if (getenv("CAIRN_VECTORS_WRITE")) {
                CnBuf out = CN_BUF_INIT(4096);
                CnEnvelopeHeader w = { .epoch = 7 };
                memset(w.processor, 0x11, CN_UUID_BYTES);
                memset(w.controller, 0x22, CN_UUID_BYTES);
                cr_assert_eq(cn_envelope_seal(&out, CN_MAGIC_SNAPSHOT, &w, key, msg, strlen(msg)), 0);
                maybe_write_vector("envelope-v1.hex", &out);
                cn_buf_done(&out);
        }
        read_vector("envelope-v1.hex", &gold);
        cr_assert_eq(cn_envelope_open(gold.data, gold.len, CN_MAGIC_SNAPSHOT, key, &h, &body), 0);
        cr_assert_eq(body.len, strlen(msg));
        cr_assert_eq(memcmp(body.data, msg, body.len), 0);
        cr_assert_eq(h.epoch, 7);
        cr_assert_eq(h.controller[0], 0x22);
        /* Another kind, another controller, another epoch: all refused. */
        cr_assert_eq(cn_envelope_open(gold.data, gold.len, CN_MAGIC_INDEX, key, &h, &body), -EBADMSG);
        for (size_t i = 0; i < gold.len; i++) {
                gold.data[i] ^= 0x40;
                int r = cn_envelope_open(gold.data, gold.len, CN_MAGIC_SNAPSHOT, key, &h, &body);
                cr_assert(r == -EBADMSG || r == -EPROTONOSUPPORT, "flip at %zu: %d", i, r);
                gold.data[i] ^= 0x40;
        }
        for (size_t len = 0; len < gold.len; len++)
                cr_assert_lt(cn_envelope_open(gold.data, len, CN_MAGIC_SNAPSHOT, key, &h, &body), 0);
        cn_buf_done(&gold);
        cn_buf_done(&body);
}

/* Each object carries its own version: snapshots are written as 2 (named
 * by their SHA-256) and 1 still opens; 3, 0, and 2 of another kind do not. */
Test(envelope, each_kind_has_its_own_version, .init = init) {
        uint8_t key[CN_KEY_BYTES] = { 1 };
        CnEnvelopeHeader h = {}, got;
        CnBuf obj = CN_BUF_INIT(4096), body = CN_BUF_INIT(4096);

        cr_assert_eq(cn_envelope_seal(&obj, CN_MAGIC_SNAPSHOT, &h, key, "x", 1), 0);
        cr_assert_eq(cn_le32_get(obj.data + CN_MAGIC_BYTES), CN_SNAPSHOT_VERSION);
        cr_assert_eq(CN_SNAPSHOT_VERSION, 2);
        cr_assert_eq(cn_envelope_open(obj.data, obj.len, CN_MAGIC_SNAPSHOT, key, &got, &body), 0);
        cr_assert_eq(got.version, 2);
        cn_buf_reset(&obj);
        cr_assert_eq(cn_envelope_seal(&obj, CN_MAGIC_INDEX, &h, key, "x", 1), 0);
        cr_assert_eq(cn_le32_get(obj.data + CN_MAGIC_BYTES), 1);
        cn_le32_put(obj.data + CN_MAGIC_BYTES, 2);
        cr_assert_eq(cn_envelope_peek(obj.data, obj.len, CN_MAGIC_INDEX, &got), -EPROTONOSUPPORT);
        memcpy(obj.data, CN_MAGIC_SNAPSHOT, CN_MAGIC_BYTES);
        for (uint32_t v = 0; v <= 4; v++) {
                cn_le32_put(obj.data + CN_MAGIC_BYTES, v);
                cr_assert_eq(cn_envelope_peek(obj.data, obj.len, CN_MAGIC_SNAPSHOT, &got),
                             v == 1 || v == 2 ? 0 : -EPROTONOSUPPORT, "version %u", v);
        }
        cn_buf_done(&obj);
        cn_buf_done(&body);
}

/* Damage record bodies (FORMAT.md "Damage records"): pinned by a vector;
 * sorted and unique on writing; every truncation, an empty list, an
 * unsorted or repeated pair, and trailing bytes are refused. */
Test(damage, body_matches_golden_vector_and_parsing_is_strict, .init = init) {
        CnDamageSet d = {}, back = {};
        CnBuf enc = CN_BUF_INIT(4096), gold;
        uint8_t p[3][CN_ID_BYTES], b[3][CN_ID_BYTES];

        for (int i = 0; i < 3; i++) {
                memset(p[i], 0x10 * (3 - i), CN_ID_BYTES);
                memset(b[i], 0xa0 + i, CN_ID_BYTES);
        }
        cr_assert_eq(cn_damage_encode(&d, &enc), -EINVAL, "an empty record is never written");
        for (int i = 0; i < 3; i++)
                cr_assert_eq(cn_damage_set_add(&d, p[i], b[i]), 0);
        cr_assert_eq(cn_damage_set_add(&d, p[1], b[1]), 0);
        cr_assert_eq(cn_damage_encode(&d, &enc), 0);
        cr_assert_eq(enc.len, 4 + 3 * 64, "sorted and unique");
        maybe_write_vector("damage-body-v1.hex", &enc);
        read_vector("damage-body-v1.hex", &gold);
        cr_assert_eq(gold.len, enc.len);
        cr_assert_eq(memcmp(gold.data, enc.data, enc.len), 0);
        cr_assert_eq(cn_damage_decode(enc.data, enc.len, &back), 0);
        cn_damage_set_sort(&back);
        for (int i = 0; i < 3; i++)
                cr_assert(cn_damage_set_contains(&back, p[i], b[i]));
        cr_assert_not(cn_damage_set_contains(&back, p[0], b[1]));
        for (size_t len = 0; len < enc.len; len++) {
                CnDamageSet t = {};
                cr_assert_eq(cn_damage_decode(enc.data, len, &t), -EBADMSG, "length %zu accepted", len);
                cn_damage_set_done(&t);
        }
        /* Swap the first two pairs: no longer increasing. */
        uint8_t tmp[64];
        memcpy(tmp, enc.data + 4, 64);
        memcpy(enc.data + 4, enc.data + 68, 64);
        memcpy(enc.data + 68, tmp, 64);
        cn_damage_set_done(&back);
        cr_assert_eq(cn_damage_decode(enc.data, enc.len, &back), -EBADMSG);
        memcpy(enc.data + 4, enc.data + 68, 64);
        cr_assert_eq(cn_damage_decode(enc.data, enc.len, &back), -EBADMSG, "a repeated pair");
        cr_assert_eq(cn_buf_append(&enc, "", 1), 0);
        cr_assert_eq(cn_damage_decode(enc.data, enc.len, &back), -EBADMSG, "trailing bytes");
        cn_damage_set_done(&d);
        cn_damage_set_done(&back);
        cn_buf_done(&enc);
        cn_buf_done(&gold);
}

Test(snapshot, round_trip_and_truncations, .init = init) {
        char *paths[] = { "/etc", "/home" }, *tags[] = { "nightly" };
        CnSnapshotError err = { .path = "/etc/shadow", .error = EACCES };
        CnSnapshot s = {
                .time = { 1795960000, 5 },
                .hostname = "host",
                .username = "root",
                .paths = paths,
                .n_paths = 2,
                .tags = tags,
                .n_tags = 1,
                .flags = CN_SNAPSHOT_PARTIAL,
                .files = 3,
                .errors = &err,
                .n_errors = 1,
        };
        CnBuf enc = CN_BUF_INIT(4096);
        cr_assert_eq(cn_snapshot_encode(&s, &enc), 0);
        CnSnapshot d = {};
        cr_assert_eq(cn_snapshot_decode(enc.data, enc.len, &d), 0);
        cr_assert_str_eq(d.paths[1], "/home");
        cr_assert_str_eq(d.tags[0], "nightly");
        cr_assert_str_eq(d.errors[0].path, "/etc/shadow");
        cr_assert_eq(d.errors[0].error, EACCES);
        cr_assert_eq(d.flags, CN_SNAPSHOT_PARTIAL);
        cn_snapshot_done(&d);
        for (size_t len = 0; len < enc.len; len++) {
                CnSnapshot t = {};
                cr_assert_eq(cn_snapshot_decode(enc.data, len, &t), -EBADMSG, "length %zu accepted", len);
                cn_snapshot_done(&t);
        }
        cn_buf_done(&enc);
}

Test(pattern, basename_anchored_and_suffix_patterns) {
        CnPatterns p = {};
        cr_assert_eq(cn_patterns_add(&p, "*.tmp"), 0);
        cr_assert_eq(cn_patterns_add(&p, "/var/cache"), 0);
        cr_assert_eq(cn_patterns_add(&p, "build/out"), 0);
        cr_assert_eq(cn_patterns_add(&p, "/srv/**/secret"), 0);
        cr_assert(cn_patterns_match(&p, "/home/a/x.tmp"));
        cr_assert_not(cn_patterns_match(&p, "/home/a/x.tmpl"));
        cr_assert(cn_patterns_match(&p, "/var/cache"));
        cr_assert_not(cn_patterns_match(&p, "/srv/var/cache"));
        cr_assert(cn_patterns_match(&p, "/src/build/out"));
        cr_assert_not(cn_patterns_match(&p, "/src/xbuild/out"));
        cr_assert(cn_patterns_match(&p, "/srv/secret"));
        cr_assert(cn_patterns_match(&p, "/srv/a/b/secret"));
        cr_assert_not(cn_patterns_match(&p, "/srv/a/b/secrets"));
        cn_patterns_done(&p);
}

Test(pattern, literal_paths_are_not_globs) {
        CnPatterns p = {};
        cr_assert_eq(cn_patterns_add_literal(&p, "/srv/repo[1]/*?\\x"), 0);
        cr_assert(cn_patterns_match(&p, "/srv/repo[1]/*?\\x"));
        cr_assert_not(cn_patterns_match(&p, "/srv/repo1/ab\\x"));
        cn_patterns_done(&p);
}

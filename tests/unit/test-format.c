/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The encodings: golden vectors (v1 trees still decode, v2 trees and tree
 * lists as written now), round trips, bounded parsing (every truncation and
 * every single-byte corruption is rejected cleanly), and large directories
 * cut into leaves by the streaming writer and read back whatever their shape. */
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
#include "hold.h"
#include "location.h"
#include "request.h"
#include "retention.h"
#include "format.h"
#include "hex.h"
#include "macro.h"
#include "snapshot.h"
#include "tree.h"

#include "alloc-limit.h"

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

        v[0] = (CnNode) { .type = CN_NODE_DIR, .mode = 01777, .uid = 0, .gid = 0, .nlink = 2,
                          .fsflags = 0x00010080 /* D A */ };
        v[0].name = dup_bytes("dir", 3), v[0].name_len = 3;
        v[0].mtime = (CnTime) { -2147483648LL - 5, 999999999 };
        memset(v[0].subtree, 0xab, CN_ID_BYTES);

        v[1] = (CnNode) { .type = CN_NODE_FILE, .mode = 04755, .uid = 12345, .gid = 54321, .size = 1 << 20,
                          .sparse = true, .nlink = 3, .link_group = 1, .fsflags = 0x00000070 /* i a d */ };
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

/* Every field but the inode flags, which v1 did not have. */
static void assert_same_node(const CnNode *w, const CnNode *v) {
        cr_assert_eq(w->name_len, v->name_len);
        cr_assert_eq(memcmp(w->name, v->name, v->name_len), 0);
        cr_assert_eq(w->type, v->type);
        cr_assert_eq(w->mode, v->mode);
        cr_assert_eq(w->uid, v->uid);
        cr_assert_eq(w->gid, v->gid);
        cr_assert_eq(w->mtime.sec, v->mtime.sec);
        cr_assert_eq(w->mtime.nsec, v->mtime.nsec);
        cr_assert_eq(w->rdev, v->rdev);
        cr_assert_eq(w->size, v->size);
        cr_assert_eq(w->nlink, v->nlink);
        cr_assert_eq(w->link_group, v->link_group);
        cr_assert_eq(w->n_xattrs, v->n_xattrs);
        for (size_t j = 0; j < v->n_xattrs; j++) {
                cr_assert_str_eq(w->xattrs[j].name, v->xattrs[j].name);
                cr_assert_eq(w->xattrs[j].value_len, v->xattrs[j].value_len);
                cr_assert_eq(memcmp(w->xattrs[j].value, v->xattrs[j].value, v->xattrs[j].value_len), 0);
        }
        cr_assert_eq(w->sparse, v->sparse);
        cr_assert_eq(w->n_extents, v->n_extents);
        cr_assert_eq(w->n_chunks, v->n_chunks);
        if (v->n_chunks)
                cr_assert_eq(memcmp(w->chunks, v->chunks, v->n_chunks * CN_ID_BYTES), 0);
        cr_assert_eq(!!w->user, !!v->user);
        cr_assert_eq(!!w->group, !!v->group);
        cr_assert_eq(w->target_len, v->target_len);
        if (v->type == CN_NODE_DIR)
                cr_assert_eq(memcmp(w->subtree, v->subtree, CN_ID_BYTES), 0);
}

/* Written by cairn 0.1 (before inode flags): every later cairn decodes it. */
Test(tree, v1_golden_vector_still_decodes, .init = init) {
        CnNode *v, *w;
        size_t n, m;
        CnBuf gold;
        sample_nodes(&v, &n);
        read_vector("tree-v1.hex", &gold);
        cr_assert_eq(gold.data[8], 1, "tree-v1.hex is a version 1 tree");
        cr_assert_eq(cn_tree_decode(gold.data, gold.len, &w, &m), 0);
        cr_assert_eq(m, n);
        for (size_t i = 0; i < n; i++) {
                assert_same_node(&w[i], &v[i]);
                cr_assert_eq(w[i].fsflags, 0);
                cr_assert_not(w[i].fsflags_known, "a v1 entry says nothing of inode flags");
        }
        cn_nodes_free(v, n);
        cn_nodes_free(w, m);
        cn_buf_done(&gold);
}

Test(tree, encoding_matches_golden_vector, .init = init) {
        CnNode *v;
        size_t n;
        CnBuf enc = CN_BUF_INIT(1u << 20), gold;
        sample_nodes(&v, &n);
        cr_assert_eq(cn_tree_encode(v, n, &enc), 0);
        maybe_write_vector("tree-v2.hex", &enc);
        read_vector("tree-v2.hex", &gold);
        cr_assert_eq(gold.data[8], 2, "tree-v2.hex is a version 2 tree");
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
                assert_same_node(&w[i], &v[i]);
                cr_assert_eq(w[i].fsflags, v[i].fsflags);
                cr_assert(w[i].fsflags_known);
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

static void sample_nodes_v3(CnNode **ret, size_t *ret_n);

/* The sample tree, v2 and (with subjects) v3. */
static void sample_tree(int version, CnBuf *enc) {
        CnNode *v;
        size_t n;
        if (version == 3)
                sample_nodes_v3(&v, &n);
        else
                sample_nodes(&v, &n);
        cr_assert_eq(cn_tree_encode(v, n, enc), 0);
        cr_assert_eq(enc->data[8], version);
        cn_nodes_free(v, n);
}

Test(tree, every_truncation_is_rejected, .init = init) {
        CnNode *w;
        size_t m;
        for (int version = 2; version <= 3; version++) {
                CnBuf enc = CN_BUF_INIT(1u << 20);
                sample_tree(version, &enc);
                for (size_t len = 0; len < enc.len; len++) {
                        uint8_t *copy = malloc(len ? len : 1);  /* exact size: ASan sees any overrun */
                        memcpy(copy, enc.data, len);
                        cr_assert_eq(cn_tree_decode(copy, len, &w, &m), -EBADMSG, "v%d: length %zu accepted",
                                     version, len);
                        free(copy);
                }
                cn_buf_done(&enc);
        }
}

Test(tree, every_corrupted_byte_is_rejected_or_harmless, .init = init) {
        CnNode *w;
        size_t m;
        for (int version = 2; version <= 3; version++) {
                CnBuf enc = CN_BUF_INIT(1u << 20);
                sample_tree(version, &enc);
                for (size_t i = 0; i < enc.len; i++)
                        for (int bit = 0; bit < 8; bit += 3) {
                                enc.data[i] ^= (uint8_t) (1u << bit);
                                int r = cn_tree_decode(enc.data, enc.len, &w, &m);
                                cr_assert(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT, "v%d byte %zu: %d",
                                          version, i, r);
                                for (size_t j = 0; r == 0 && j < m; j++)
                                        cr_assert(cn_node_subjects_valid(&w[j]), "v%d byte %zu: bad subjects",
                                                  version, i);
                                if (r == 0)
                                        cn_nodes_free(w, m);
                                enc.data[i] ^= (uint8_t) (1u << bit);
                        }
                cn_buf_done(&enc);
        }
}

Test(tree, unknown_version_is_refused_by_name, .init = init) {
        CnBuf enc = CN_BUF_INIT(1024);
        CnNode *w;
        size_t m;
        cr_assert_eq(cn_tree_encode(NULL, 0, &enc), 0);
        enc.data[8] = 4;
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &w, &m), -EPROTONOSUPPORT);
        enc.data[8] = 0;
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &w, &m), -EPROTONOSUPPORT);
        cn_buf_done(&enc);
}

/* One FIFO named "f" as a tree of version `version` whose entry has
 * `extra` more (or, negative, fewer) bytes than v2's fields. */
static void one_entry_tree(CnBuf *enc, uint32_t version, int extra) {
        CnNode v = { .type = CN_NODE_FIFO, .name = "f", .name_len = 1, .fsflags = 0 };
        cr_assert_eq(cn_tree_encode(&v, 1, enc), 0);
        enc->data[8] = (uint8_t) version;
        size_t len = cn_le32_get(enc->data + 16);
        if (extra > 0)
                for (int i = 0; i < extra; i++)
                        cr_assert_eq(cn_buf_put_u8(enc, 0), 0);
        else
                enc->len -= (size_t) -extra;
        cn_le32_put(enc->data + 16, (uint32_t) (len + (size_t) (ssize_t) extra));
}

Test(tree, each_version_has_exactly_its_fields, .init = init) {
        static const struct {
                uint32_t version;
                int extra;
                int want;
        } cases[] = { { 2, 0, 0 },        { 1, -4, 0 },       { 1, 0, -EBADMSG }, { 2, -4, -EBADMSG },
                      { 2, 4, -EBADMSG }, { 3, 4, 0 } /* subject_count 0 */, { 3, 0, -EBADMSG },
                      { 3, 8, -EBADMSG } };
        for (size_t t = 0; t < CN_ELEMENTSOF(cases); t++) {
                CnBuf enc = CN_BUF_INIT(4096);
                CnNode *w;
                size_t m;
                one_entry_tree(&enc, cases[t].version, cases[t].extra);
                int r = cn_tree_decode(enc.data, enc.len, &w, &m);
                cr_assert_eq(r, cases[t].want, "case %zu: %d", t, r);
                if (r == 0)
                        cn_nodes_free(w, m);
                cn_buf_done(&enc);
        }
}

/* Issue 14: the smallest entry of each version is CN_TREE_MIN_NODE_BYTES
 * (+4 in v2), and a count that more entries than that could fill claims
 * is refused before the node array is allocated: 16 Mi entries in 64 MiB
 * asked for a calloc of several GiB, which fails here under a 512 MiB cap
 * (-ENOMEM instead of -EBADMSG). */
Test(tree, count_is_bounded_by_the_bytes_behind_it, .init = init) {
        CnBuf enc = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnNode *nodes;
        size_t n;

        one_entry_tree(&enc, 2, 0);
        cr_assert_eq(enc.len, 16 + 4 + CN_TREE_MIN_NODE_BYTES + 4, "a minimal v2 entry");
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &nodes, &n), 0);
        cn_nodes_free(nodes, n);
        cn_buf_reset(&enc);
        one_entry_tree(&enc, 1, -4);
        cr_assert_eq(enc.len, 16 + 4 + CN_TREE_MIN_NODE_BYTES, "a minimal v1 entry");
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &nodes, &n), 0);
        cn_nodes_free(nodes, n);
        /* The same entry, with a count of 2: refused, the entry short. */
        cn_le32_put(enc.data + 12, 2);
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &nodes, &n), -EBADMSG);

        /* 16 Mi entries claimed, 4 bytes each behind them (zero lengths). */
        uint8_t *zeros;
        cn_buf_reset(&enc);
        cr_assert_eq(cn_buf_append(&enc, CN_MAGIC_TREE, CN_MAGIC_BYTES), 0);
        cr_assert_eq(cn_buf_put_u32(&enc, 2), 0);
        cr_assert_eq(cn_buf_put_u32(&enc, CN_MAX_TREE_ENTRIES), 0);
        cr_assert_eq(cn_buf_grow(&enc, (size_t) CN_MAX_TREE_ENTRIES * 4, &zeros), 0);
        memset(zeros, 0, (size_t) CN_MAX_TREE_ENTRIES * 4);
        cn_test_limit_address_space(512u << 20);
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &nodes, &n), -EBADMSG);
        cn_buf_done(&enc);
}

Test(tree, reserved_fsflags_bits_are_ignored, .init = init) {
        CnNode v = { .type = CN_NODE_FILE, .name = "f", .name_len = 1, .fsflags = CN_FSFLAGS_KEEP };
        CnBuf enc = CN_BUF_INIT(4096);
        CnNode *w;
        size_t m;
        cr_assert_eq(cn_tree_encode(&v, 1, &enc), 0);
        cr_assert_eq(cn_le32_get(enc.data + enc.len - 4), CN_FSFLAGS_KEEP, "fsflags is the entry's last field");
        cn_le32_put(enc.data + enc.len - 4, 0xffffffffu);
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &w, &m), 0);
        cr_assert_eq(w[0].fsflags, CN_FSFLAGS_KEEP);
        cn_nodes_free(w, m);
        cn_buf_done(&enc);
}

/* The sample directory with data subjects on two of its entries (v3). */
static void sample_nodes_v3(CnNode **ret, size_t *ret_n) {
        sample_nodes(ret, ret_n);
        CnNode *v = *ret;
        for (size_t i = 0; i < *ret_n; i++) {
                if (v[i].type == CN_NODE_FILE) {
                        cr_assert_eq(cn_node_add_subject(&v[i], "bob\xff", 4), 1);
                        cr_assert_eq(cn_node_add_subject(&v[i], "alice", 5), 1);
                        cr_assert_eq(cn_node_add_subject(&v[i], "alice", 5), 0, "a subject once");
                }
                if (v[i].type == CN_NODE_DIR)
                        cr_assert_eq(cn_node_add_subject(&v[i], "carol", 5), 1);
        }
}

static void assert_same_subjects(const CnNode *w, const CnNode *v) {
        cr_assert_eq(w->n_subjects, v->n_subjects);
        for (size_t j = 0; j < v->n_subjects; j++)
                cr_assert_str_eq(w->subjects[j], v->subjects[j]);
}

/* Item 1: a tree with an entry that has subjects is v3, pinned by a vector;
 * every entry of it has subject_count (0 for those without). */
Test(tree, v3_encoding_matches_golden_vector_and_round_trips, .init = init) {
        CnNode *v, *w;
        size_t n, m;
        CnBuf enc = CN_BUF_INIT(1u << 20), gold;
        sample_nodes_v3(&v, &n);
        cr_assert_eq(cn_tree_encode(v, n, &enc), 0);
        maybe_write_vector("tree-v3.hex", &enc);
        read_vector("tree-v3.hex", &gold);
        cr_assert_eq(gold.data[8], 3, "tree-v3.hex is a version 3 tree");
        cr_assert_eq(enc.len, gold.len);
        cr_assert_eq(memcmp(enc.data, gold.data, enc.len), 0, "tree encoding changed: update FORMAT.md and the vector");
        cr_assert_eq(cn_tree_decode(gold.data, gold.len, &w, &m), 0);
        cr_assert_eq(m, n);
        for (size_t i = 0; i < n; i++) {
                assert_same_node(&w[i], &v[i]);
                assert_same_subjects(&w[i], &v[i]);
                cr_assert(w[i].fsflags_known);
        }
        for (size_t i = 0; i < n; i++)
                if (v[i].type == CN_NODE_FILE) {
                        cr_assert_str_eq(w[i].subjects[0], "alice", "subjects in the order of names");
                        cr_assert(cn_node_has_subject(&w[i], "bob\xff", 4));
                        cr_assert_not(cn_node_has_subject(&w[i], "bob", 3));
                        cr_assert_not(cn_node_has_subject(&w[i], "carol", 5));
                }
        /* The same entries without subjects are the v2 tree, byte for byte. */
        for (size_t i = 0; i < n; i++)
                cn_node_clear_subjects(&v[i]);
        CnBuf v2 = CN_BUF_INIT(1u << 20), gold2;
        cr_assert_eq(cn_tree_encode(v, n, &v2), 0);
        read_vector("tree-v2.hex", &gold2);
        cr_assert_eq(v2.len, gold2.len);
        cr_assert_eq(memcmp(v2.data, gold2.data, v2.len), 0, "no subjects: version 2, ids unchanged");
        cn_nodes_free(v, n);
        cn_nodes_free(w, m);
        cn_buf_done(&enc);
        cn_buf_done(&gold);
        cn_buf_done(&v2);
        cn_buf_done(&gold2);
}

/* One FIFO "f" in a v3 tree whose subjects are the given byte strings,
 * written as they are (the encoder would refuse the bad ones). */
static void raw_v3_tree(CnBuf *enc, const char *const *subj, const size_t *lens, uint32_t count) {
        CnNode v = { .type = CN_NODE_FIFO, .name = "f", .name_len = 1 };
        cr_assert_eq(cn_tree_encode(&v, 1, enc), 0);
        enc->data[8] = 3;
        size_t at = enc->len;
        cr_assert_eq(cn_buf_put_u32(enc, count), 0);
        for (uint32_t i = 0; i < count; i++)
                cr_assert_eq(cn_buf_put_bytes32(enc, subj[i], lens[i]), 0);
        cn_le32_put(enc->data + 16, (uint32_t) (cn_le32_get(enc->data + 16) + enc->len - at));
}

/* Caps: 1 to 256 bytes, no NUL or '/', strictly increasing, at most 64. */
Test(tree, v3_subject_caps_and_order, .init = init) {
        static char big[CN_MAX_SUBJECT_BYTES + 1];
        memset(big, 'x', sizeof big);
        static const struct {
                const char *s[2];
                size_t len[2];
                uint32_t count;
                int want;
        } cases[] = {
                { { "a", "b" }, { 1, 1 }, 2, 0 },
                { { big }, { CN_MAX_SUBJECT_BYTES }, 1, 0 },
                { { big }, { CN_MAX_SUBJECT_BYTES + 1 }, 1, -EBADMSG },
                { { "" }, { 0 }, 1, -EBADMSG },
                { { "a/b" }, { 3 }, 1, -EBADMSG },
                { { "a\0b" }, { 3 }, 1, -EBADMSG },
                { { "b", "a" }, { 1, 1 }, 2, -EBADMSG },
                { { "a", "a" }, { 1, 1 }, 2, -EBADMSG },
                { { "ab", "a" }, { 2, 1 }, 2, -EBADMSG },       /* a prefix sorts first */
                { { "a", "ab" }, { 1, 2 }, 2, 0 },
                { { "a" }, { 1 }, 2, -EBADMSG },                /* a count past the bytes */
        };
        for (size_t t = 0; t < CN_ELEMENTSOF(cases); t++) {
                CnBuf enc = CN_BUF_INIT(1u << 20);
                CnNode *w;
                size_t m;
                raw_v3_tree(&enc, cases[t].s, cases[t].len, cases[t].count);
                int r = cn_tree_decode(enc.data, enc.len, &w, &m);
                cr_assert_eq(r, cases[t].want, "case %zu: %d", t, r);
                if (r == 0)
                        cn_nodes_free(w, m);
                cn_buf_done(&enc);
        }
        /* 64 subjects decode, 65 do not; the encoder refuses what readers would. */
        char names[CN_MAX_SUBJECTS + 1][8];
        const char *sp[CN_MAX_SUBJECTS + 1];
        size_t lens[CN_MAX_SUBJECTS + 1];
        for (size_t i = 0; i <= CN_MAX_SUBJECTS; i++) {
                lens[i] = (size_t) snprintf(names[i], sizeof names[i], "s%03zu", i);
                sp[i] = names[i];
        }
        for (uint32_t count = CN_MAX_SUBJECTS; count <= CN_MAX_SUBJECTS + 1; count++) {
                CnBuf enc = CN_BUF_INIT(1u << 20);
                CnNode *w;
                size_t m;
                raw_v3_tree(&enc, sp, lens, count);
                int r = cn_tree_decode(enc.data, enc.len, &w, &m);
                cr_assert_eq(r, count <= CN_MAX_SUBJECTS ? 0 : -EBADMSG, "%u subjects: %d", count, r);
                if (r == 0) {
                        cr_assert_eq(w[0].n_subjects, CN_MAX_SUBJECTS);
                        cn_nodes_free(w, m);
                }
                cn_buf_done(&enc);
        }
        CnNode v = { .type = CN_NODE_FIFO, .name = "f", .name_len = 1 };
        for (size_t i = 0; i < CN_MAX_SUBJECTS; i++)
                cr_assert_eq(cn_node_add_subject(&v, names[CN_MAX_SUBJECTS - i], 4), 1);
        cr_assert_eq(cn_node_add_subject(&v, names[0], 4), -E2BIG, "a 65th subject");
        cr_assert(cn_node_subjects_valid(&v), "kept sorted whatever the order added");
        CnBuf enc = CN_BUF_INIT(1u << 20);
        cr_assert_eq(cn_tree_encode(&v, 1, &enc), 0);
        char *tmp = v.subjects[0];
        v.subjects[0] = v.subjects[1];
        v.subjects[1] = tmp;
        cn_buf_reset(&enc);
        cr_assert_eq(cn_tree_encode(&v, 1, &enc), -EINVAL, "out of order");
        v.name = NULL;
        cn_node_done(&v);
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

/* Each object carries its own version (FORMAT.md envelope table): sealed
 * at the newest by default (snapshots 3, index 2, hold 1), at the one the
 * header asks for otherwise; peek takes 1 up to the newest of its kind. */
Test(envelope, each_kind_has_its_own_version, .init = init) {
        uint8_t key[CN_KEY_BYTES] = { 1 };
        CnEnvelopeHeader h = {}, got;
        CnBuf obj = CN_BUF_INIT(4096), body = CN_BUF_INIT(4096);

        cr_assert_eq(cn_envelope_seal(&obj, CN_MAGIC_SNAPSHOT, &h, key, "x", 1), 0);
        cr_assert_eq(cn_le32_get(obj.data + CN_MAGIC_BYTES), CN_SNAPSHOT_VERSION);
        cr_assert_eq(CN_SNAPSHOT_VERSION, 3);
        cr_assert_eq(cn_envelope_open(obj.data, obj.len, CN_MAGIC_SNAPSHOT, key, &got, &body), 0);
        cr_assert_eq(got.version, 3);
        cn_buf_reset(&obj);
        h.version = 2;
        cr_assert_eq(cn_envelope_seal(&obj, CN_MAGIC_SNAPSHOT, &h, key, "x", 1), 0);
        cr_assert_eq(cn_le32_get(obj.data + CN_MAGIC_BYTES), 2);
        h.version = 0;
        cn_buf_reset(&obj);
        cr_assert_eq(cn_envelope_seal(&obj, CN_MAGIC_HOLD, &h, key, "x", 1), 0);
        cr_assert_eq(cn_le32_get(obj.data + CN_MAGIC_BYTES), 1);
        cn_le32_put(obj.data + CN_MAGIC_BYTES, 2);
        cr_assert_eq(cn_envelope_peek(obj.data, obj.len, CN_MAGIC_HOLD, &got), -EPROTONOSUPPORT);
        memcpy(obj.data, CN_MAGIC_SNAPSHOT, CN_MAGIC_BYTES);
        for (uint32_t v = 0; v <= 4; v++) {
                cn_le32_put(obj.data + CN_MAGIC_BYTES, v);
                cr_assert_eq(cn_envelope_peek(obj.data, obj.len, CN_MAGIC_SNAPSHOT, &got),
                             v >= 1 && v <= 3 ? 0 : -EPROTONOSUPPORT, "version %u", v);
        }
        static const struct {
                const char *magic;
                uint32_t newest;
        } kinds[] = { { CN_MAGIC_CONTROLLER, 2 }, { CN_MAGIC_INDEX, 2 }, { CN_MAGIC_LEDGER, 2 },
                      { CN_MAGIC_DAMAGE, 2 },     { CN_MAGIC_PLAN, 2 },  { CN_MAGIC_SESSION, 1 },
                      { CN_MAGIC_KEYSTORE, 1 },   { CN_MAGIC_ERASURE, 1 } };
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
                cr_assert_eq(cn_envelope_version(kinds[i].magic), kinds[i].newest, "%s", kinds[i].magic);
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

/* ---- tree lists and large directories ---- */

Test(treelist, golden_vector_and_bounded_parsing, .init = init) {
        uint8_t ids[3][CN_ID_BYTES];
        uint8_t(*got)[CN_ID_BYTES];
        size_t n;
        CnBuf enc = CN_BUF_INIT(4096), gold;
        for (int i = 0; i < 3; i++)
                memset(ids[i], 0x11 * (i + 1), CN_ID_BYTES);
        cr_assert_eq(cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) ids, 3, &enc), 0);
        maybe_write_vector("treelist-v1.hex", &enc);
        read_vector("treelist-v1.hex", &gold);
        cr_assert_eq(enc.len, gold.len);
        cr_assert_eq(memcmp(enc.data, gold.data, enc.len), 0, "tree list encoding changed: update FORMAT.md");
        cr_assert(cn_tree_is_list(gold.data, gold.len));
        cr_assert_eq(cn_tree_list_decode(gold.data, gold.len, &got, &n), 0);
        cr_assert_eq(n, 3);
        cr_assert_eq(memcmp(got, ids, sizeof ids), 0);
        free(got);
        for (size_t len = 0; len < gold.len; len++)
                cr_assert_eq(cn_tree_list_decode(gold.data, len, &got, &n), -EBADMSG, "length %zu accepted", len);
        /* One leaf is never a list (it is stored as a plain tree). */
        cn_le32_put(gold.data + 12, 1);
        cr_assert_eq(cn_tree_list_decode(gold.data, gold.len - 2 * CN_ID_BYTES, &got, &n), -EBADMSG);
        cn_le32_put(gold.data + 12, 3);
        gold.data[8] = 2;
        cr_assert_eq(cn_tree_list_decode(gold.data, gold.len, &got, &n), -EPROTONOSUPPORT);
        /* A plain tree reader refuses a list: readers go through the directory reader. */
        CnNode *w;
        size_t m;
        cr_assert_eq(cn_tree_decode(enc.data, enc.len, &w, &m), -EBADMSG);
        cr_assert_eq(cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) ids, 1, &enc), -E2BIG);
        cn_buf_done(&enc);
        cn_buf_done(&gold);
}

/* A content-addressed blob store in memory, for the writer and reader. */
typedef struct MemStore {
        struct {
                uint8_t id[CN_ID_BYTES];
                uint8_t *data;
                size_t len;
        } *v;
        size_t n;
        size_t gets;
} MemStore;

static const uint8_t mem_key[CN_KEY_BYTES] = { 7 };

static int mem_put(const uint8_t *data, size_t len, uint8_t ret_id[CN_ID_BYTES], void *u) {
        MemStore *s = u;
        cn_id_hmac(ret_id, data, len, mem_key);
        for (size_t i = 0; i < s->n; i++)
                if (memcmp(s->v[i].id, ret_id, CN_ID_BYTES) == 0)
                        return 0;
        s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
        memcpy(s->v[s->n].id, ret_id, CN_ID_BYTES);
        s->v[s->n].data = malloc(len);
        memcpy(s->v[s->n].data, data, len);
        s->v[s->n++].len = len;
        return 0;
}

static int mem_get(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *u) {
        MemStore *s = u;
        s->gets++;
        for (size_t i = 0; i < s->n; i++)
                if (memcmp(s->v[i].id, id, CN_ID_BYTES) == 0) {
                        cn_buf_reset(out);
                        return cn_buf_append(out, s->v[i].data, s->v[i].len);
                }
        return -ENOENT;
}

static const uint8_t *mem_blob(MemStore *s, const uint8_t id[CN_ID_BYTES], size_t *ret_len) {
        for (size_t i = 0; i < s->n; i++)
                if (memcmp(s->v[i].id, id, CN_ID_BYTES) == 0) {
                        *ret_len = s->v[i].len;
                        return s->v[i].data;
                }
        return NULL;
}

static void mem_done(MemStore *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i].data);
        free(s->v);
        *s = (MemStore) {};
}

/* The cut test as backup does it, with a test key. */
static bool mem_cut(const char *name, size_t len, void *u) {
        uint8_t buf[16 + CN_MAX_NAME_BYTES], id[CN_ID_BYTES];
        memcpy(buf, CN_TREE_CUT_DOMAIN, 16);
        memcpy(buf + 16, name, len);
        cn_id_hmac(id, buf, 16 + len, mem_key);
        return (id[0] & 0x0f) == 0;
}

static bool never_cut(const char *name, size_t len, void *u) {
        return false;
}

/* Entry i of a synthetic directory: a file with an xattr of xbytes. */
static void make_entry(CnNode *n, size_t i, size_t xbytes, uint8_t *value) {
        char name[64];
        int len = snprintf(name, sizeof name, "entry-%09zu", i);
        *n = (CnNode) { .type = CN_NODE_FILE, .mode = 0644, .size = i };
        n->name = dup_bytes(name, (size_t) len);
        n->name_len = (size_t) len;
        if (xbytes) {
                n->n_xattrs = 1;
                n->xattrs = calloc(1, sizeof *n->xattrs);
                n->xattrs[0].name = dup_bytes("user.pad", 8);
                n->xattrs[0].value = value;     /* borrowed: cleared before cn_node_done */
                n->xattrs[0].value_len = xbytes;
        }
}

static void entry_done(CnNode *n) {
        if (n->n_xattrs)
                n->xattrs[0].value = NULL;
        cn_node_done(n);
}

/* Write entries [0, count) but skip (the index of one to leave out, or
 * SIZE_MAX); the directory's id in ret_id. */
static void write_dir_tagged(MemStore *s, CnTreeCutFn cut, size_t count, size_t xbytes, size_t skip,
                             size_t tag_at, uint8_t ret_id[CN_ID_BYTES]) {
        CnTreeWriter *w;
        uint8_t *value = calloc(1, xbytes ? xbytes : 1);
        cr_assert_eq(cn_tree_writer_new(mem_put, cut, s, &w), 0);
        for (size_t i = 0; i < count; i++) {
                CnNode n;
                if (i == skip)
                        continue;
                make_entry(&n, i, xbytes, value);
                if (i == tag_at)
                        cr_assert_eq(cn_node_add_subject(&n, "alice", 5), 1);
                cr_assert_eq(cn_tree_writer_add(w, &n), 0, "entry %zu", i);
                entry_done(&n);
        }
        cr_assert_eq(cn_tree_writer_finish(w, ret_id), 0);
        cn_tree_writer_free(w);
        free(value);
}

/* The same, entry tag_at (SIZE_MAX: none) with the subject "alice". */
static void write_dir(MemStore *s, CnTreeCutFn cut, size_t count, size_t xbytes, size_t skip,
                      uint8_t ret_id[CN_ID_BYTES]) {
        write_dir_tagged(s, cut, count, xbytes, skip, SIZE_MAX, ret_id);
}

/* The leaf ids of a directory (itself, when plain). */
static size_t leaves_of(MemStore *s, const uint8_t id[CN_ID_BYTES], uint8_t (**ret)[CN_ID_BYTES]) {
        size_t len, n;
        const uint8_t *p = mem_blob(s, id, &len);
        cr_assert_not_null(p);
        if (!cn_tree_is_list(p, len)) {
                *ret = malloc(CN_ID_BYTES);
                memcpy(*ret, id, CN_ID_BYTES);
                return 1;
        }
        cr_assert_eq(cn_tree_list_decode(p, len, ret, &n), 0);
        return n;
}

/* Read the directory back with the reader: every entry, in order. */
static void read_dir(MemStore *s, const uint8_t id[CN_ID_BYTES], size_t count, size_t skip) {
        CnDirReader *d;
        CnBuf scratch = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnNode *nodes;
        size_t n, at = 0;
        int r;
        cr_assert_eq(cn_dir_reader_open(mem_get, s, id, &scratch, &d), 0);
        while ((r = cn_dir_reader_next(d, &scratch, &nodes, &n)) > 0) {
                for (size_t i = 0; i < n; i++, at++) {
                        if (at == skip)
                                at++;
                        char name[64];
                        snprintf(name, sizeof name, "entry-%09zu", at);
                        cr_assert_str_eq(nodes[i].name, name);
                        cr_assert_eq(nodes[i].size, at);
                }
                cn_nodes_free(nodes, n);
        }
        cr_assert_eq(r, 0);
        cr_assert_eq(at, count, "%zu of %zu entries", at, count);
        cn_dir_reader_free(d);
        cn_buf_done(&scratch);
}

Test(treewriter, small_directory_is_one_plain_tree_as_encode_makes_it, .init = init) {
        MemStore s = {};
        CnNode *v;
        size_t n, len = 0;
        uint8_t id[CN_ID_BYTES];
        CnBuf enc = CN_BUF_INIT(1u << 20);
        CnTreeWriter *w;
        sample_nodes(&v, &n);
        cr_assert_eq(cn_tree_writer_new(mem_put, mem_cut, &s, &w), 0);
        for (size_t i = 0; i < n; i++)
                cr_assert_eq(cn_tree_writer_add(w, &v[i]), 0);
        cr_assert_eq(cn_tree_writer_finish(w, id), 0);
        cr_assert_eq(cn_tree_encode(v, n, &enc), 0);
        const uint8_t *p = mem_blob(&s, id, &len);
        cr_assert_eq(s.n, 1);
        cr_assert_eq(len, enc.len);
        cr_assert_eq(memcmp(p, enc.data, len), 0);
        /* Empty, and reused for the next directory. */
        cr_assert_eq(cn_tree_writer_finish(w, id), 0);
        cn_buf_reset(&enc);
        cr_assert_eq(cn_tree_encode(NULL, 0, &enc), 0);
        p = mem_blob(&s, id, &len);
        cr_assert(p && len == enc.len && memcmp(p, enc.data, len) == 0);
        /* Names must increase. */
        cr_assert_eq(cn_tree_writer_add(w, &v[1]), 0);
        cr_assert_eq(cn_tree_writer_add(w, &v[0]), -EINVAL);
        cr_assert_eq(cn_tree_writer_add(w, &v[1]), -EINVAL);
        cn_tree_writer_free(w);
        cn_nodes_free(v, n);
        cn_buf_done(&enc);
        mem_done(&s);
}

/* 12 MiB of entries: leaves cut by the keyed name hash once over 1 MiB,
 * each a v2 plain tree under 8 MiB (plus one entry), read back in order. */
Test(treewriter, large_directory_is_cut_into_leaves_and_reads_back, .init = init) {
        MemStore s = {};
        uint8_t id[CN_ID_BYTES], (*leaves)[CN_ID_BYTES];
        const size_t count = 3000, xbytes = 4000;
        write_dir(&s, mem_cut, count, xbytes, SIZE_MAX, id);
        size_t n = leaves_of(&s, id, &leaves);
        cr_assert_geq(n, 3, "12 MiB in %zu leaves", n);
        for (size_t i = 0; i < n; i++) {
                size_t len;
                const uint8_t *p = mem_blob(&s, leaves[i], &len);
                cr_assert_not_null(p);
                cr_assert(!cn_tree_is_list(p, len));
                cr_assert_eq(p[8], 2);
                cr_assert_leq(len, CN_TREE_LEAF_MAX + 4200);
                if (i + 1 < n)
                        cr_assert_geq(len, CN_TREE_LEAF_MIN);
        }
        read_dir(&s, id, count, SIZE_MAX);
        free(leaves);
        mem_done(&s);
}

/* Leaves are content-defined: a directory with one more entry shares every
 * leaf but the one or two around the insertion, not all after it. */
Test(treewriter, inserting_one_entry_changes_one_leaf_not_all_after_it, .init = init) {
        MemStore s = {};
        uint8_t a[CN_ID_BYTES], b[CN_ID_BYTES], (*la)[CN_ID_BYTES], (*lb)[CN_ID_BYTES];
        const size_t count = 6000, xbytes = 4000;
        write_dir(&s, mem_cut, count, xbytes, 1000, a);
        write_dir(&s, mem_cut, count, xbytes, SIZE_MAX, b);
        size_t na = leaves_of(&s, a, &la), nb = leaves_of(&s, b, &lb), shared = 0;
        cr_assert_geq(na, 6);
        for (size_t i = 0; i < nb; i++)
                for (size_t j = 0; j < na; j++)
                        if (memcmp(lb[i], la[j], CN_ID_BYTES) == 0) {
                                shared++;
                                break;
                        }
        cr_assert_geq(shared + 2, nb, "only %zu of %zu leaves shared", shared, nb);
        cr_assert_eq(memcmp(la[na - 1], lb[nb - 1], CN_ID_BYTES), 0, "the last leaf changed");
        read_dir(&s, a, count, 1000);
        free(la);
        free(lb);
        mem_done(&s);
}

/* Item 1: an entry with subjects makes its own leaf v3 (the entries before
 * it in that leaf get subject_count 0); every other leaf stays v2 with the
 * id it has without subjects, and the directory reads back with them. */
Test(treewriter, subjects_make_only_their_leaf_v3, .init = init) {
        MemStore s = {};
        uint8_t a[CN_ID_BYTES], b[CN_ID_BYTES], (*la)[CN_ID_BYTES], (*lb)[CN_ID_BYTES];
        const size_t count = 3000, xbytes = 4000, tagged = 1500;
        write_dir(&s, mem_cut, count, xbytes, SIZE_MAX, a);
        write_dir_tagged(&s, mem_cut, count, xbytes, SIZE_MAX, tagged, b);
        size_t na = leaves_of(&s, a, &la), nb = leaves_of(&s, b, &lb), shared = 0, v3 = 0;
        cr_assert_geq(nb, 3);
        for (size_t i = 0; i < nb; i++) {
                size_t len;
                const uint8_t *p = mem_blob(&s, lb[i], &len);
                v3 += p[8] == 3;
                cr_assert(p[8] == 2 || p[8] == 3);
                for (size_t j = 0; j < na; j++)
                        if (memcmp(lb[i], la[j], CN_ID_BYTES) == 0) {
                                shared++;
                                break;
                        }
        }
        cr_assert_eq(v3, 1, "%zu v3 leaves", v3);
        cr_assert_geq(shared + 2, nb, "only %zu of %zu leaves shared", shared, nb);
        read_dir(&s, b, count, SIZE_MAX);
        CnNode *nodes;
        size_t n, tags = 0;
        CnBuf scratch = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        cr_assert_eq(cn_dir_load_with(mem_get, &s, b, &scratch, &nodes, &n, NULL), 0);
        for (size_t i = 0; i < n; i++) {
                tags += nodes[i].n_subjects;
                if (i == tagged)
                        cr_assert(cn_node_has_subject(&nodes[i], "alice", 5));
        }
        cr_assert_eq(tags, 1);
        cn_nodes_free(nodes, n);
        cn_buf_done(&scratch);
        free(la);
        free(lb);
        mem_done(&s);
}

/* Without a keyed cut, leaves end at 8 MiB (or 65536 entries, which an
 * entry of at least 135 bytes never reaches first). */
Test(treewriter, leaves_end_at_8_mib_without_a_cut, .init = init) {
        MemStore s = {};
        uint8_t id[CN_ID_BYTES], (*leaves)[CN_ID_BYTES];
        write_dir(&s, never_cut, 5000, 4000, SIZE_MAX, id);
        size_t n = leaves_of(&s, id, &leaves);
        cr_assert_eq(n, 3, "20 MB in %zu leaves", n);
        size_t len = 0;
        const uint8_t *p = mem_blob(&s, leaves[0], &len);
        cr_assert(len >= CN_TREE_LEAF_MAX && len < CN_TREE_LEAF_MAX + 4200);
        free(leaves);
        read_dir(&s, id, 5000, SIZE_MAX);
        write_dir(&s, never_cut, 70000, 0, SIZE_MAX, id);
        n = leaves_of(&s, id, &leaves);
        cr_assert_eq(n, 2);
        for (size_t i = 0; i < n; i++) {
                p = mem_blob(&s, leaves[i], &len);
                cr_assert_leq(cn_le32_get(p + 12), CN_TREE_LEAF_MAX_ENTRIES);
                cr_assert_lt(len, CN_TREE_LEAF_MAX + 200);
        }
        free(leaves);
        read_dir(&s, id, 70000, SIZE_MAX);
        mem_done(&s);
}

/* An entry alone over the 256 MiB a tree blob may hold is refused with
 * -EFBIG; the writer goes on with the rest. */
Test(treewriter, entry_over_the_blob_cap_is_refused_alone, .init = init) {
        MemStore s = {};
        uint8_t id[CN_ID_BYTES];
        CnTreeWriter *w;
        static uint8_t value[CN_MAX_XATTR_VALUE_BYTES];
        const size_t nx = CN_MAX_TREE_BYTES / sizeof value + 1;
        CnNode a, big = { .type = CN_NODE_FILE, .name = "entry-000000002", .name_len = 15 }, c;
        big.xattrs = calloc(nx, sizeof *big.xattrs);
        for (size_t i = 0; i < nx; i++) {
                char name[32];
                snprintf(name, sizeof name, "user.%zu", i);
                big.xattrs[i] = (CnXattr) { .name = strdup(name), .value = value, .value_len = sizeof value };
        }
        big.n_xattrs = nx;
        make_entry(&a, 1, 0, NULL);
        make_entry(&c, 3, 0, NULL);
        cr_assert_eq(cn_tree_writer_new(mem_put, mem_cut, &s, &w), 0);
        cr_assert_eq(cn_tree_writer_add(w, &a), 0);
        int r = cn_tree_writer_add(w, &big);
        cr_assert_eq(r, -EFBIG, "%d", r);
        cr_assert_eq(cn_tree_writer_add(w, &c), 0);
        cr_assert_eq(cn_tree_writer_finish(w, id), 0);
        cn_tree_writer_free(w);
        for (size_t i = 0; i < nx; i++)
                free(big.xattrs[i].name);
        free(big.xattrs);
        cn_node_done(&a);
        cn_node_done(&c);
        size_t len = 0;
        const uint8_t *p = mem_blob(&s, id, &len);
        CnNode *got;
        size_t m;
        cr_assert_eq(cn_tree_decode(p, len, &got, &m), 0);
        cr_assert_eq(m, 2);
        cn_nodes_free(got, m);
        mem_done(&s);
}

/* Put a hand-made list of these blobs (plain trees of the given names). */
static void put_list(MemStore *s, const char *const *leaves, size_t n, uint32_t leaf_version, uint8_t ret_id[CN_ID_BYTES]) {
        uint8_t ids[8][CN_ID_BYTES];
        CnBuf enc = CN_BUF_INIT(1u << 20);
        for (size_t i = 0; i < n; i++) {
                CnNode v[2] = {};
                size_t k = 0;
                for (const char *p = leaves[i]; *p; p++, k++)
                        v[k] = (CnNode) { .type = CN_NODE_FIFO, .name = (char *) p, .name_len = 1 };
                cn_buf_reset(&enc);
                cr_assert_eq(cn_tree_encode(v, k, &enc), 0);
                enc.data[8] = (uint8_t) leaf_version;
                if (leaf_version == 1)
                        for (size_t j = 0, off = 16; j < k; j++) {
                                /* drop fsflags: a v1 entry */
                                size_t len = cn_le32_get(enc.data + off);
                                cn_le32_put(enc.data + off, (uint32_t) (len - 4));
                                memmove(enc.data + off + len, enc.data + off + len + 4, enc.len - off - len - 4);
                                enc.len -= 4;
                                off += len;
                        }
                cr_assert_eq(mem_put(enc.data, enc.len, ids[i], s), 0);
        }
        cn_buf_reset(&enc);
        if (n >= 2)
                cr_assert_eq(cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) ids, n, &enc), 0);
        else {
                /* A list of one leaf, which writers never make. */
                cr_assert_eq(cn_buf_append(&enc, CN_MAGIC_TREE_LIST, 8), 0);
                cr_assert_eq(cn_buf_put_u32(&enc, 1), 0);
                cr_assert_eq(cn_buf_put_u32(&enc, 1), 0);
                cr_assert_eq(cn_buf_append(&enc, ids[0], CN_ID_BYTES), 0);
        }
        cr_assert_eq(mem_put(enc.data, enc.len, ret_id, s), 0);
        cn_buf_done(&enc);
}

static int read_all(MemStore *s, const uint8_t id[CN_ID_BYTES], size_t *ret_n) {
        CnDirReader *d;
        CnBuf scratch = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnNode *nodes;
        size_t n;
        int r = cn_dir_reader_open(mem_get, s, id, &scratch, &d);
        *ret_n = 0;
        if (r < 0) {
                cn_buf_done(&scratch);
                return r;
        }
        while ((r = cn_dir_reader_next(d, &scratch, &nodes, &n)) > 0) {
                *ret_n += n;
                cn_nodes_free(nodes, n);
        }
        cn_dir_reader_free(d);
        cn_buf_done(&scratch);
        return r;
}

Test(dirreader, lists_must_name_increasing_nonempty_v2_leaves, .init = init) {
        static const struct {
                const char *leaves[3];
                size_t n;
                uint32_t version;
                int want;
        } cases[] = {
                { { "ab", "cd", "e" }, 3, 2, 0 },
                { { "ab", "bc" }, 2, 2, -EBADMSG },     /* b twice, across leaves */
                { { "cd", "ab" }, 2, 2, -EBADMSG },     /* leaves out of order */
                { { "ab", "", "c" }, 3, 2, -EBADMSG },  /* an empty leaf */
                { { "ab", "cd" }, 2, 1, -EBADMSG },     /* a v1 leaf */
                { { "ab" }, 1, 2, -EBADMSG },           /* a list of one */
        };
        for (size_t t = 0; t < CN_ELEMENTSOF(cases); t++) {
                MemStore s = {};
                uint8_t id[CN_ID_BYTES];
                size_t n;
                put_list(&s, cases[t].leaves, cases[t].n, cases[t].version, id);
                int r = read_all(&s, id, &n);
                cr_assert_eq(r, cases[t].want, "case %zu: %d", t, r);
                if (r == 0)
                        cr_assert_eq(n, 5);
                mem_done(&s);
        }
}

Test(dirreader, a_list_of_lists_and_a_missing_leaf_are_errors, .init = init) {
        MemStore s = {};
        uint8_t inner[CN_ID_BYTES], ids[2][CN_ID_BYTES], outer[CN_ID_BYTES];
        CnBuf enc = CN_BUF_INIT(4096);
        size_t n;
        const char *leaves[] = { "ab", "cd" };
        put_list(&s, leaves, 2, 2, inner);
        memcpy(ids[0], inner, CN_ID_BYTES);
        memcpy(ids[1], inner, CN_ID_BYTES);
        ids[1][0] ^= 1;
        cr_assert_eq(cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) ids, 2, &enc), 0);
        cr_assert_eq(mem_put(enc.data, enc.len, outer, &s), 0);
        cr_assert_eq(read_all(&s, outer, &n), -EBADMSG, "a list inside a list");
        /* Make ids[0] a plain leaf: then ids[1] is missing. */
        CnNode v = { .type = CN_NODE_FIFO, .name = "a", .name_len = 1 };
        cn_buf_reset(&enc);
        cr_assert_eq(cn_tree_encode(&v, 1, &enc), 0);
        cr_assert_eq(mem_put(enc.data, enc.len, ids[0], &s), 0);
        cn_buf_reset(&enc);
        cr_assert_eq(cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) ids, 2, &enc), 0);
        cr_assert_eq(mem_put(enc.data, enc.len, outer, &s), 0);
        CnDirReader *d;
        CnBuf scratch = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnNode *nodes;
        cr_assert_eq(cn_dir_reader_open(mem_get, &s, outer, &scratch, &d), 0);
        cr_assert_eq(cn_dir_reader_next(d, &scratch, &nodes, &n), 1);
        cn_nodes_free(nodes, n);
        cr_assert_eq(cn_dir_reader_next(d, &scratch, &nodes, &n), -ENOENT);
        cr_assert_eq(memcmp(cn_dir_reader_failed(d), ids[1], CN_ID_BYTES), 0, "the missing leaf is named");
        cn_dir_reader_free(d);
        cn_buf_done(&scratch);
        cn_buf_done(&enc);
        mem_done(&s);
}

/* Hold and release bodies (FORMAT.md "Holds"): pinned by vectors, and each
 * decodes back to what was encoded. */
Test(hold, bodies_match_golden_vectors, .init = init) {
        CnHold h = { .scope = CN_HOLD_PATH, .value = "/srv/mail/**", .reason = "litigation 2026-17",
                     .reference = "case 4711", .creator = "root@appliance", .created = 1796601600,
                     .has_review = true, .review = 1830297600 }, back = {};
        CnHoldRelease rel = { .reason = "case closed", .creator = "ops@appliance", .created = 1830384000 },
                      rback = {};
        CnBuf enc = CN_BUF_INIT(4096), renc = CN_BUF_INIT(4096), gold, rgold;

        memset(rel.hold, 0x5a, CN_ID_BYTES);
        cr_assert_eq(cn_hold_encode(&h, &enc), 0);
        maybe_write_vector("hold-body-v1.hex", &enc);
        read_vector("hold-body-v1.hex", &gold);
        cr_assert_eq(gold.len, enc.len);
        cr_assert_eq(memcmp(gold.data, enc.data, enc.len), 0);
        cr_assert_eq(cn_hold_decode(gold.data, gold.len, &back), 0);
        cr_assert_eq(back.scope, CN_HOLD_PATH);
        cr_assert_str_eq(back.value, h.value);
        cr_assert_str_eq(back.reason, h.reason);
        cr_assert_str_eq(back.reference, h.reference);
        cr_assert_str_eq(back.creator, h.creator);
        cr_assert_eq(back.created, h.created);
        cr_assert(back.has_review);
        cr_assert_eq(back.review, h.review);

        cr_assert_eq(cn_hold_release_encode(&rel, &renc), 0);
        maybe_write_vector("hold-release-body-v1.hex", &renc);
        read_vector("hold-release-body-v1.hex", &rgold);
        cr_assert_eq(rgold.len, renc.len);
        cr_assert_eq(memcmp(rgold.data, renc.data, renc.len), 0);
        cr_assert_eq(cn_hold_release_decode(rgold.data, rgold.len, &rback), 0);
        cr_assert_eq(memcmp(rback.hold, rel.hold, CN_ID_BYTES), 0);
        cr_assert_str_eq(rback.reason, rel.reason);
        cr_assert_str_eq(rback.creator, rel.creator);
        cr_assert_eq(rback.created, rel.created);
        cn_hold_done(&back);
        cn_hold_release_done(&rback);
        cn_buf_done(&enc);
        cn_buf_done(&renc);
        cn_buf_done(&gold);
        cn_buf_done(&rgold);
}

/* Location and end bodies (FORMAT.md "Locations"): pinned by vectors, each
 * decodes back to what was encoded. */
Test(location, bodies_match_golden_vectors, .init = init) {
        CnLocation l = { .name = "aws-eu", .provider = "AWS", .region = "eu-central-1",
                         .note = "DPA 2026-17", .creator = "root@appliance", .created = 1796601600 }, back = {};
        CnLocationEnd e = { .creator = "ops@appliance", .created = 1830384000 }, eback = {};
        CnBuf enc = CN_BUF_INIT(4096), eenc = CN_BUF_INIT(4096), gold, egold;

        memset(e.target, 0x5a, CN_ID_BYTES);
        cr_assert_eq(cn_location_encode(&l, &enc), 0);
        maybe_write_vector("location-body-v1.hex", &enc);
        read_vector("location-body-v1.hex", &gold);
        cr_assert_eq(gold.len, enc.len);
        cr_assert_eq(memcmp(gold.data, enc.data, enc.len), 0);
        cr_assert_eq(cn_location_decode(gold.data, gold.len, &back), 0);
        cr_assert_str_eq(back.name, l.name);
        cr_assert_str_eq(back.provider, l.provider);
        cr_assert_str_eq(back.region, l.region);
        cr_assert_str_eq(back.note, l.note);
        cr_assert_str_eq(back.creator, l.creator);
        cr_assert_eq(back.created, l.created);

        cr_assert_eq(cn_location_end_encode(&e, &eenc), 0);
        maybe_write_vector("location-end-body-v1.hex", &eenc);
        read_vector("location-end-body-v1.hex", &egold);
        cr_assert_eq(egold.len, eenc.len);
        cr_assert_eq(memcmp(egold.data, eenc.data, eenc.len), 0);
        cr_assert_eq(cn_location_end_decode(egold.data, egold.len, &eback), 0);
        cr_assert_eq(memcmp(eback.target, e.target, CN_ID_BYTES), 0);
        cr_assert_str_eq(eback.creator, e.creator);
        cr_assert_eq(eback.created, e.created);
        cn_location_done(&back);
        cn_location_end_done(&eback);
        cn_buf_done(&enc);
        cn_buf_done(&eenc);
        cn_buf_done(&gold);
        cn_buf_done(&egold);
}

/* Retention policy bodies (FORMAT.md "Retention policies"): pinned by a
 * vector, and it decodes back to what was encoded. */
Test(retention, body_matches_golden_vector, .init = init) {
        uint8_t sup[1][CN_ID_BYTES];
        CnRetention p = { .created = 1796601600, .creator = "root@appliance", .supersedes = sup, .n_supersedes = 1 },
                    back = {};
        CnBuf enc = CN_BUF_INIT(4096), gold;

        memset(sup[0], 0x5a, CN_ID_BYTES);
        p.policy.keep[CN_FORGET_LAST] = 3;
        p.policy.keep[CN_FORGET_DAILY] = 7;
        p.policy.keep[CN_FORGET_MONTHLY] = CN_FORGET_UNLIMITED;
        p.policy.within = (CnDuration) { .days = 30 };
        p.policy.within_bucket[CN_FORGET_WEEKLY] = (CnDuration) { .years = 1, .hours = 12 };
        cr_assert_eq(cn_retention_encode(&p, &enc), 0);
        maybe_write_vector("retention-body-v1.hex", &enc);
        read_vector("retention-body-v1.hex", &gold);
        cr_assert_eq(gold.len, enc.len);
        cr_assert_eq(memcmp(gold.data, enc.data, enc.len), 0);
        cr_assert_eq(cn_retention_decode(gold.data, gold.len, &back), 0);
        cr_assert_eq(memcmp(back.policy.keep, p.policy.keep, sizeof p.policy.keep), 0);
        cr_assert_eq(back.policy.within.days, 30);
        cr_assert_eq(back.policy.within_bucket[CN_FORGET_WEEKLY].years, 1);
        cr_assert_eq(back.policy.within_bucket[CN_FORGET_WEEKLY].hours, 12);
        cr_assert_eq(back.created, p.created);
        cr_assert_str_eq(back.creator, p.creator);
        cr_assert_eq(back.n_supersedes, 1);
        cr_assert_eq(memcmp(back.supersedes, sup, CN_ID_BYTES), 0);
        cn_retention_done(&back);
        cn_buf_done(&enc);
        cn_buf_done(&gold);
}

/* Request and closing bodies (FORMAT.md "Requests"): pinned by vectors,
 * and each decodes back to what was encoded. */
Test(request, bodies_match_golden_vectors, .init = init) {
        CnRequest q = { .kind = CN_REQUEST_ERASURE, .received = 1796601600, .reference = "DSR-2026-17",
                        .scope = CN_REQUEST_SCOPE_SUBJECT, .note = "by post", .creator = "dpo@appliance",
                        .created = 1796688000 },
                  back = {};
        CnRequestClosing x = { .outcome = CN_REQUEST_ANSWERED, .links = CN_REQUEST_LINK_CERTIFICATE,
                               .note = "erased", .creator = "ops@appliance", .created = 1797206400 },
                         xback = {};
        CnBuf enc = CN_BUF_INIT(4096), xenc = CN_BUF_INIT(4096), gold, xgold;

        memset(q.scope_pseudonym, 0x3c, CN_ID_BYTES);
        memset(x.request, 0x5a, CN_ID_BYTES);
        memset(x.certificate, 0xc3, CN_ID_BYTES);
        cr_assert_eq(cn_request_encode(&q, &enc), 0);
        maybe_write_vector("request-body-v1.hex", &enc);
        read_vector("request-body-v1.hex", &gold);
        cr_assert_eq(gold.len, enc.len);
        cr_assert_eq(memcmp(gold.data, enc.data, enc.len), 0);
        cr_assert_eq(cn_request_decode(gold.data, gold.len, &back), 0);
        cr_assert_eq(back.kind, CN_REQUEST_ERASURE);
        cr_assert_eq(back.received, q.received);
        cr_assert_str_eq(back.reference, q.reference);
        cr_assert_eq(back.scope, CN_REQUEST_SCOPE_SUBJECT);
        cr_assert_eq(memcmp(back.scope_pseudonym, q.scope_pseudonym, CN_ID_BYTES), 0);
        cr_assert_str_eq(back.note, q.note);
        cr_assert_str_eq(back.creator, q.creator);
        cr_assert_eq(back.created, q.created);

        cr_assert_eq(cn_request_closing_encode(&x, &xenc), 0);
        maybe_write_vector("request-closing-body-v1.hex", &xenc);
        read_vector("request-closing-body-v1.hex", &xgold);
        cr_assert_eq(xgold.len, xenc.len);
        cr_assert_eq(memcmp(xgold.data, xenc.data, xenc.len), 0);
        cr_assert_eq(cn_request_closing_decode(xgold.data, xgold.len, &xback), 0);
        cr_assert_eq(memcmp(xback.request, x.request, CN_ID_BYTES), 0);
        cr_assert_eq(xback.outcome, CN_REQUEST_ANSWERED);
        cr_assert_eq(xback.links, CN_REQUEST_LINK_CERTIFICATE);
        cr_assert_eq(memcmp(xback.certificate, x.certificate, CN_ID_BYTES), 0);
        cr_assert_str_eq(xback.note, x.note);
        cr_assert_str_eq(xback.creator, x.creator);
        cr_assert_eq(xback.created, x.created);
        cn_request_done(&back);
        cn_request_closing_done(&xback);
        cn_buf_done(&enc);
        cn_buf_done(&xenc);
        cn_buf_done(&gold);
        cn_buf_done(&xgold);
}

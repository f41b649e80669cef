/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tree.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "macro.h"

#define MAX_EXTENTS (1u << 22)
#define MAX_FILE_CHUNKS (1u << 26)
#define LEAF_HEADER_BYTES (CN_MAGIC_BYTES + 8)  /* magic, version, count */

static int node_cmp(const void *x, const void *y) {
        const CnNode *a = x, *b = y;
        return cn_name_cmp(a->name, a->name_len, b->name, b->name_len);
}

void cn_nodes_sort(CnNode *nodes, size_t n) {
        if (n > 1)
                qsort(nodes, n, sizeof *nodes, node_cmp);
}

void cn_nodes_free(CnNode *nodes, size_t n) {
        for (size_t i = 0; i < n; i++)
                cn_node_done(&nodes[i]);
        free(nodes);
}

static int put_time(CnBuf *b, const CnTime *t) {
        int r = cn_buf_put_i64(b, t->sec);
        return r < 0 ? r : cn_buf_put_u32(b, t->nsec);
}

/* n as an entry of a tree of version (2 or 3). */
static int encode_node(CnBuf *b, const CnNode *n, uint32_t version) {
        int r;
        if ((r = cn_buf_put_u8(b, (uint8_t) n->type)) < 0 ||
            (r = cn_buf_put_bytes32(b, n->name, n->name_len)) < 0 ||
            (r = cn_buf_put_u32(b, n->mode)) < 0 || (r = cn_buf_put_u32(b, n->uid)) < 0 ||
            (r = cn_buf_put_u32(b, n->gid)) < 0 || (r = cn_buf_put_str(b, n->user)) < 0 ||
            (r = cn_buf_put_str(b, n->group)) < 0 || (r = put_time(b, &n->mtime)) < 0 ||
            (r = put_time(b, &n->atime)) < 0 || (r = put_time(b, &n->ctime)) < 0 ||
            (r = cn_buf_put_u64(b, n->size)) < 0 || (r = cn_buf_put_u64(b, n->inode)) < 0 ||
            (r = cn_buf_put_u64(b, n->dev)) < 0 || (r = cn_buf_put_u64(b, n->nlink)) < 0 ||
            (r = cn_buf_put_u64(b, n->rdev)) < 0 || (r = cn_buf_put_u64(b, n->link_group)) < 0 ||
            (r = cn_buf_put_bytes32(b, n->target, n->target_len)) < 0 ||
            (r = cn_buf_put_u32(b, (uint32_t) n->n_xattrs)) < 0)
                return r;
        for (size_t i = 0; i < n->n_xattrs; i++)
                if ((r = cn_buf_put_str(b, n->xattrs[i].name)) < 0 ||
                    (r = cn_buf_put_bytes32(b, n->xattrs[i].value, n->xattrs[i].value_len)) < 0)
                        return r;
        if ((r = cn_buf_put_u8(b, n->sparse)) < 0 || (r = cn_buf_put_u32(b, (uint32_t) n->n_extents)) < 0)
                return r;
        for (size_t i = 0; i < n->n_extents; i++)
                if ((r = cn_buf_put_u64(b, n->extents[i].offset)) < 0 ||
                    (r = cn_buf_put_u64(b, n->extents[i].length)) < 0)
                        return r;
        if ((r = cn_buf_put_u32(b, (uint32_t) n->n_chunks)) < 0 ||
            (r = cn_buf_append(b, n->chunks, n->n_chunks * CN_ID_BYTES)) < 0)
                return r;
        if (n->type == CN_NODE_DIR && (r = cn_buf_append(b, n->subtree, CN_ID_BYTES)) < 0)
                return r;
        /* v2: the inode flags, reserved bits 0. */
        if ((r = cn_buf_put_u32(b, n->fsflags & CN_FSFLAGS_KEEP)) < 0 || version < 3)
                return r;
        /* v3: the data subjects. */
        if ((r = cn_buf_put_u32(b, (uint32_t) n->n_subjects)) < 0)
                return r;
        for (size_t i = 0; i < n->n_subjects; i++)
                if ((r = cn_buf_put_str(b, n->subjects[i])) < 0)
                        return r;
        return 0;
}

static int put_header(CnBuf *out, const char *magic, uint32_t version, uint32_t count) {
        int r;
        if ((r = cn_buf_append(out, magic, CN_MAGIC_BYTES)) < 0 || (r = cn_buf_put_u32(out, version)) < 0)
                return r;
        return cn_buf_put_u32(out, count);
}

/* What the subjects of n add to its entry in a v3 tree. */
static uint64_t subjects_size(const CnNode *n) {
        uint64_t k = 4;
        for (size_t i = 0; i < n->n_subjects; i++)
                k += 4 + strlen(n->subjects[i]);
        return k;
}

/* The version a plain tree holding these entries is written as. */
static uint32_t tree_version(const CnNode *nodes, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (nodes[i].n_subjects)
                        return CN_TREE_VERSION;
        return CN_TREE_VERSION_NO_SUBJECTS;
}

/* The bytes encode_node() writes for n, computed without writing them. */
static uint64_t entry_size(const CnNode *n, uint32_t version) {
        uint64_t k = 1 + 4 + n->name_len + 3 * 4 + 4 + (n->user ? strlen(n->user) : 0) + 4 +
                     (n->group ? strlen(n->group) : 0) + 3 * 12 + 6 * 8 + 4 + n->target_len + 4;
        for (size_t i = 0; i < n->n_xattrs; i++)
                k += 4 + strlen(n->xattrs[i].name) + 4 + n->xattrs[i].value_len;
        k += 1 + 4 + (uint64_t) n->n_extents * 16 + 4 + (uint64_t) n->n_chunks * CN_ID_BYTES;
        if (n->type == CN_NODE_DIR)
                k += CN_ID_BYTES;
        return k + 4 + (version >= 3 ? subjects_size(n) : 0);
}

/* Append one "length entry" of a tree of version to out; on failure out
 * is as it was. -EINVAL for subjects a reader would refuse, or any in a
 * version 2 tree. */
static int put_entry(CnBuf *out, const CnNode *n, uint32_t version) {
        if (!cn_node_subjects_valid(n) || (n->n_subjects && version < 3))
                return -EINVAL;
        size_t at = out->len;
        int r = cn_buf_put_u32(out, 0);
        if (r >= 0)
                r = encode_node(out, n, version);
        if (r >= 0 && out->len - at - 4 > UINT32_MAX)
                r = -E2BIG;
        if (r < 0) {
                out->len = at;
                return r;
        }
        assert(out->len - at - 4 == entry_size(n, version));
        cn_le32_put(out->data + at, (uint32_t) (out->len - at - 4));
        return 0;
}

int cn_tree_encode(const CnNode *nodes, size_t n, CnBuf *out) {
        int r;
        uint32_t version = tree_version(nodes, n);
        if (n > CN_MAX_TREE_ENTRIES)
                return -E2BIG;
        if ((r = put_header(out, CN_MAGIC_TREE, version, (uint32_t) n)) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if ((r = put_entry(out, &nodes[i], version)) < 0)
                        return r;
        return 0;
}

static int get_time(CnReader *rd, CnTime *t) {
        if (cn_reader_i64(rd, &t->sec) < 0 || cn_reader_u32(rd, &t->nsec) < 0 || t->nsec >= 1000000000u)
                return -EBADMSG;
        return 0;
}

/* A copy of len bytes, NUL-terminated; NULL if len == 0 and !keep_empty. */
static int get_bytes(CnReader *rd, size_t max, char **ret, size_t *ret_len, bool keep_empty) {
        const uint8_t *p;
        size_t n;
        if (cn_reader_bytes32(rd, max, &p, &n) < 0)
                return -EBADMSG;
        *ret = NULL;
        if (ret_len)
                *ret_len = n;
        if (n == 0 && !keep_empty)
                return 0;
        if (memchr(p, 0, n))
                return -EBADMSG;
        *ret = malloc(n + 1);
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, p, n);
        (*ret)[n] = 0;
        return 0;
}

static bool name_valid(const char *s, size_t n) {
        if (n == 0 || memchr(s, '/', n))
                return false;
        return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

static int decode_node(CnReader *rd, uint32_t version, CnNode *n) {
        uint8_t type, sparse;
        uint32_t count;
        int r;

        if (cn_reader_u8(rd, &type) < 0 || type == 0 || type >= _CN_NODE_TYPE_MAX)
                return -EBADMSG;
        n->type = type;
        if ((r = get_bytes(rd, CN_MAX_NAME_BYTES, &n->name, &n->name_len, true)) < 0)
                return r;
        if (!name_valid(n->name, n->name_len))
                return -EBADMSG;
        if (cn_reader_u32(rd, &n->mode) < 0 || (n->mode & ~07777u) || cn_reader_u32(rd, &n->uid) < 0 ||
            cn_reader_u32(rd, &n->gid) < 0)
                return -EBADMSG;
        if ((r = get_bytes(rd, CN_MAX_LABEL_BYTES, &n->user, NULL, false)) < 0 ||
            (r = get_bytes(rd, CN_MAX_LABEL_BYTES, &n->group, NULL, false)) < 0)
                return r;
        if (get_time(rd, &n->mtime) < 0 || get_time(rd, &n->atime) < 0 || get_time(rd, &n->ctime) < 0 ||
            cn_reader_u64(rd, &n->size) < 0 || cn_reader_u64(rd, &n->inode) < 0 ||
            cn_reader_u64(rd, &n->dev) < 0 || cn_reader_u64(rd, &n->nlink) < 0 ||
            cn_reader_u64(rd, &n->rdev) < 0 || cn_reader_u64(rd, &n->link_group) < 0)
                return -EBADMSG;
        if ((r = get_bytes(rd, CN_MAX_TARGET_BYTES, &n->target, &n->target_len, false)) < 0)
                return r;
        if ((n->type == CN_NODE_SYMLINK) != (n->target != NULL))
                return -EBADMSG;
        /* An xattr takes at least 9 bytes: a name of one byte and a value length. */
        if (cn_reader_u32(rd, &count) < 0 || count > CN_MAX_XATTRS || (uint64_t) count * 9 > rd->left)
                return -EBADMSG;
        if (count) {
                n->xattrs = calloc(count, sizeof *n->xattrs);
                if (!n->xattrs)
                        return -ENOMEM;
        }
        for (uint32_t i = 0; i < count; i++) {
                CnXattr *x = &n->xattrs[i];
                n->n_xattrs++;
                if ((r = get_bytes(rd, CN_MAX_XATTR_NAME_BYTES, &x->name, NULL, false)) < 0)
                        return r;
                if (!x->name)
                        return -EBADMSG;
                const uint8_t *v;
                if (cn_reader_bytes32(rd, CN_MAX_XATTR_VALUE_BYTES, &v, &x->value_len) < 0)
                        return -EBADMSG;
                x->value = malloc(x->value_len ? x->value_len : 1);
                if (!x->value)
                        return -ENOMEM;
                memcpy(x->value, v, x->value_len);
        }
        if (cn_reader_u8(rd, &sparse) < 0 || sparse > 1)
                return -EBADMSG;
        n->sparse = sparse;
        if (cn_reader_u32(rd, &count) < 0 || count > MAX_EXTENTS || (uint64_t) count * 16 > rd->left ||
            (count && (!sparse || n->type != CN_NODE_FILE)))
                return -EBADMSG;
        if (count) {
                n->extents = malloc(count * sizeof *n->extents);
                if (!n->extents)
                        return -ENOMEM;
                n->n_extents = count;
                uint64_t end = 0;
                for (uint32_t i = 0; i < count; i++) {
                        CnExtent *e = &n->extents[i];
                        cn_reader_u64(rd, &e->offset);
                        cn_reader_u64(rd, &e->length);
                        if (e->offset < end || e->length == 0 || e->length > n->size ||
                            e->offset > n->size - e->length)
                                return -EBADMSG;
                        end = e->offset + e->length;
                }
        }
        if (cn_reader_u32(rd, &count) < 0 || count > MAX_FILE_CHUNKS ||
            (uint64_t) count * CN_ID_BYTES > rd->left || (count && n->type != CN_NODE_FILE))
                return -EBADMSG;
        if (count) {
                n->chunks = malloc((size_t) count * CN_ID_BYTES);
                if (!n->chunks)
                        return -ENOMEM;
                cn_reader_get(rd, n->chunks, (size_t) count * CN_ID_BYTES);
                n->n_chunks = count;
        }
        if (n->type == CN_NODE_DIR && cn_reader_get(rd, n->subtree, CN_ID_BYTES) < 0)
                return -EBADMSG;
        n->fsflags_known = version >= 2;
        if (n->fsflags_known) {
                if (cn_reader_u32(rd, &n->fsflags) < 0)
                        return -EBADMSG;
                n->fsflags &= CN_FSFLAGS_KEEP;          /* reserved bits are ignored */
        }
        if (version < 3)
                return 0;
        /* A subject takes at least 5 bytes: its length and one byte. */
        if (cn_reader_u32(rd, &count) < 0 || count > CN_MAX_SUBJECTS || (uint64_t) count * 5 > rd->left)
                return -EBADMSG;
        if (count && !(n->subjects = calloc(count, sizeof *n->subjects)))
                return -ENOMEM;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *p;
                size_t len;
                if (cn_reader_bytes32(rd, CN_MAX_SUBJECT_BYTES, &p, &len) < 0 ||
                    !cn_subject_valid((const char *) p, len) ||
                    (i > 0 && cn_name_cmp(n->subjects[i - 1], strlen(n->subjects[i - 1]), (const char *) p, len) >= 0))
                        return -EBADMSG;
                if (!(n->subjects[i] = strndup((const char *) p, len)))
                        return -ENOMEM;
                n->n_subjects++;
        }
        return 0;
}

/* The magic and version of a tree or tree list; -EBADMSG for another magic. */
static int get_header(CnReader *rd, const char *magic, uint32_t min, uint32_t max, uint32_t *ret_version) {
        const uint8_t *m;
        uint32_t version;
        if (cn_reader_peek(rd, CN_MAGIC_BYTES, &m) < 0 || memcmp(m, magic, CN_MAGIC_BYTES) != 0 ||
            cn_reader_u32(rd, &version) < 0)
                return -EBADMSG;
        if (version < min || version > max)
                return -EPROTONOSUPPORT;
        *ret_version = version;
        return 0;
}

bool cn_tree_is_list(const uint8_t *p, size_t n) {
        return n >= CN_MAGIC_BYTES && memcmp(p, CN_MAGIC_TREE_LIST, CN_MAGIC_BYTES) == 0;
}

static int tree_decode(const uint8_t *p, size_t len, CnNode **ret, size_t *ret_n, uint32_t *ret_version) {
        CnReader rd;
        uint32_t version, count;
        CnNode *nodes = NULL;
        size_t n = 0;
        int r;

        cn_reader_init(&rd, p, len);
        r = get_header(&rd, CN_MAGIC_TREE, CN_TREE_VERSION_MIN, CN_TREE_VERSION, &version);
        if (r < 0)
                return r;
        /* The array is sized by the count: a count more entries than the
         * bytes behind it can hold is a lie, refused before allocating. */
        if (cn_reader_u32(&rd, &count) < 0 || count > CN_MAX_TREE_ENTRIES ||
            (uint64_t) count * (4 + CN_TREE_MIN_NODE_BYTES) > rd.left)
                return -EBADMSG;
        nodes = calloc(count ? count : 1, sizeof *nodes);
        if (!nodes)
                return -ENOMEM;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *ep;
                uint32_t elen;
                CnReader er;
                if (cn_reader_u32(&rd, &elen) < 0 || cn_reader_peek(&rd, elen, &ep) < 0) {
                        r = -EBADMSG;
                        goto fail;
                }
                cn_reader_init(&er, ep, elen);
                n++;
                r = decode_node(&er, version, &nodes[i]);
                if (r >= 0 && !cn_reader_empty(&er))
                        r = -EBADMSG;   /* the fields of its version fill an entry exactly */
                if (r < 0)
                        goto fail;
                if (i > 0 && node_cmp(&nodes[i - 1], &nodes[i]) >= 0) {
                        r = -EBADMSG;
                        goto fail;
                }
        }
        if (!cn_reader_empty(&rd)) {
                r = -EBADMSG;
                goto fail;
        }
        *ret = nodes;
        *ret_n = n;
        *ret_version = version;
        return 0;
fail:
        cn_nodes_free(nodes, n);
        return r;
}

int cn_tree_decode(const uint8_t *p, size_t len, CnNode **ret, size_t *ret_n) {
        uint32_t version;
        return tree_decode(p, len, ret, ret_n, &version);
}

int cn_tree_list_encode(const uint8_t (*ids)[CN_ID_BYTES], size_t n, CnBuf *out) {
        int r;
        if (n < 2 || n > CN_MAX_TREE_LEAVES)
                return -E2BIG;
        if ((r = put_header(out, CN_MAGIC_TREE_LIST, CN_TREE_LIST_VERSION, (uint32_t) n)) < 0)
                return r;
        return cn_buf_append(out, ids, n * CN_ID_BYTES);
}

int cn_tree_list_decode(const uint8_t *p, size_t len, uint8_t (**ret)[CN_ID_BYTES], size_t *ret_n) {
        CnReader rd;
        uint32_t version, count;
        int r;

        cn_reader_init(&rd, p, len);
        r = get_header(&rd, CN_MAGIC_TREE_LIST, CN_TREE_LIST_VERSION, CN_TREE_LIST_VERSION, &version);
        if (r < 0)
                return r;
        if (cn_reader_u32(&rd, &count) < 0 || count < 2 || count > CN_MAX_TREE_LEAVES ||
            (uint64_t) count * CN_ID_BYTES != rd.left)
                return -EBADMSG;
        uint8_t(*ids)[CN_ID_BYTES] = malloc((size_t) count * CN_ID_BYTES);
        if (!ids)
                return -ENOMEM;
        cn_reader_get(&rd, ids, (size_t) count * CN_ID_BYTES);
        *ret = ids;
        *ret_n = count;
        return 0;
}

/* ---- the streaming writer ---- */

struct CnTreeWriter {
        CnTreePutFn put;
        CnTreeCutFn cut;
        void *u;
        CnBuf leaf;                     /* header and the entries of the leaf being filled */
        uint32_t count;                 /* entries in leaf */
        uint32_t version;               /* of leaf: 2 until an entry with subjects comes */
        uint8_t (*ids)[CN_ID_BYTES];    /* leaves stored so far */
        size_t n_ids, cap_ids;
        uint64_t total;                 /* entries of the directory */
        CnBuf last;                     /* the previous name */
        bool have_last;
};

int cn_tree_writer_new(CnTreePutFn put, CnTreeCutFn cut, void *userdata, CnTreeWriter **ret) {
        CnTreeWriter *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->put = put;
        w->cut = cut;
        w->u = userdata;
        cn_buf_init(&w->leaf, CN_MAX_TREE_BYTES);
        cn_buf_init(&w->last, CN_MAX_NAME_BYTES);
        *ret = w;
        return 0;
}

CnTreeWriter *cn_tree_writer_free(CnTreeWriter *w) {
        if (!w)
                return NULL;
        cn_buf_done(&w->leaf);
        cn_buf_done(&w->last);
        free(w->ids);
        free(w);
        return NULL;
}

static int leaf_begin(CnTreeWriter *w) {
        cn_buf_reset(&w->leaf);
        w->count = 0;
        w->version = CN_TREE_VERSION_NO_SUBJECTS;
        return put_header(&w->leaf, CN_MAGIC_TREE, w->version, 0);
}

/* The first entry with subjects comes to a v2 leaf: make it v3, each entry
 * so far given its subject_count 0 (4 bytes). Copied once a leaf. */
static int leaf_upgrade(CnTreeWriter *w) {
        CnBuf v3 = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnReader rd;
        int r;

        cn_reader_init(&rd, w->leaf.data + LEAF_HEADER_BYTES, w->leaf.len - LEAF_HEADER_BYTES);
        r = put_header(&v3, CN_MAGIC_TREE, CN_TREE_VERSION, 0);
        for (uint32_t i = 0; r >= 0 && i < w->count; i++) {
                const uint8_t *e;
                uint32_t len;
                /* The writer's own bytes: each entry fits, well within a u32. */
                if (cn_reader_u32(&rd, &len) < 0 || cn_reader_peek(&rd, len, &e) < 0)
                        r = -EINVAL;
                if (r >= 0 && (r = cn_buf_put_u32(&v3, len + 4)) >= 0 && (r = cn_buf_append(&v3, e, len)) >= 0)
                        r = cn_buf_put_u32(&v3, 0);
        }
        if (r < 0) {
                cn_buf_done(&v3);
                return r;
        }
        cn_buf_done(&w->leaf);
        w->leaf = v3;
        w->version = CN_TREE_VERSION;
        return 0;
}

/* Store the leaf being filled (with its count) and start an empty one. */
static int leaf_store(CnTreeWriter *w) {
        int r;
        if ((r = CN_GROW(w->ids, w->cap_ids, w->n_ids)) < 0)
                return r;
        if (w->leaf.len == 0 && (r = leaf_begin(w)) < 0)
                return r;
        cn_le32_put(w->leaf.data + CN_MAGIC_BYTES + 4, w->count);
        r = w->put(w->leaf.data, w->leaf.len, w->ids[w->n_ids], w->u);
        if (r < 0)
                return r;
        w->n_ids++;
        cn_buf_reset(&w->leaf);
        w->count = 0;
        return 0;
}

int cn_tree_writer_add(CnTreeWriter *w, const CnNode *n) {
        int r;
        if (w->have_last && cn_name_cmp((const char *) w->last.data, w->last.len, n->name, n->name_len) >= 0)
                return -EINVAL;
        /* Room for the cuts this entry may cause and the last leaf: at most
         * three more ids, so the list stays within its cap. */
        if (w->total >= CN_MAX_DIR_ENTRIES || w->n_ids + 3 > CN_MAX_TREE_LEAVES)
                return -E2BIG;
        if (!cn_node_subjects_valid(n))
                return -EINVAL;
        /* An entry too large for a leaf of its own is refused; one too
         * large for what the leaf holds ends the leaf before it. An entry
         * with subjects makes its leaf v3: 4 more bytes for every entry. */
        bool subjects = n->n_subjects > 0;
        uint64_t size2 = 4 + entry_size(n, CN_TREE_VERSION_NO_SUBJECTS), size3 = 4 + entry_size(n, CN_TREE_VERSION);
        if ((subjects ? size3 : size2) > CN_MAX_TREE_BYTES - LEAF_HEADER_BYTES)
                return -EFBIG;
        if (w->count > 0) {
                uint64_t grow = w->version >= 3 ? size3 : subjects ? (uint64_t) w->count * 4 + size3 : size2;
                if (w->leaf.len + grow > CN_MAX_TREE_BYTES && (r = leaf_store(w)) < 0)
                        return r;
        }
        if (w->leaf.len == 0 && (r = leaf_begin(w)) < 0)
                return r;
        if (subjects && w->version < 3 && (r = leaf_upgrade(w)) < 0)
                return r;
        r = put_entry(&w->leaf, n, w->version);
        if (r < 0)
                return r;
        w->count++;
        w->total++;
        cn_buf_reset(&w->last);
        if ((r = cn_buf_append(&w->last, n->name, n->name_len)) < 0)
                return r;
        w->have_last = true;
        if (w->leaf.len >= CN_TREE_LEAF_MAX || w->count >= CN_TREE_LEAF_MAX_ENTRIES ||
            (w->leaf.len >= CN_TREE_LEAF_MIN && w->cut(n->name, n->name_len, w->u)))
                return leaf_store(w);
        return 0;
}

int cn_tree_writer_finish(CnTreeWriter *w, uint8_t ret_id[CN_ID_BYTES]) {
        int r = 0;
        if (w->count > 0 || w->n_ids == 0)
                r = leaf_store(w);
        if (r >= 0 && w->n_ids == 1)
                memcpy(ret_id, w->ids[0], CN_ID_BYTES);
        else if (r >= 0) {
                cn_buf_reset(&w->leaf);
                r = cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) w->ids, w->n_ids, &w->leaf);
                if (r >= 0)
                        r = w->put(w->leaf.data, w->leaf.len, ret_id, w->u);
        }
        cn_buf_reset(&w->leaf);
        w->count = 0;
        w->n_ids = 0;
        w->total = 0;
        w->have_last = false;
        return r;
}

/* ---- reading a directory, whatever its shape ---- */

struct CnDirReader {
        CnTreeGetFn get;
        void *u;
        uint8_t (*ids)[CN_ID_BYTES];    /* a list's leaves; NULL for a plain tree */
        size_t n_ids, next;
        CnNode *plain;                  /* a plain tree, decoded at open, until next() hands it out */
        size_t n_plain;
        bool done;
        CnBuf last;                     /* the last name of the previous leaf */
        uint8_t failed[CN_ID_BYTES];
};

int cn_dir_reader_open(CnTreeGetFn get, void *userdata, const uint8_t id[CN_ID_BYTES], CnBuf *scratch,
                       CnDirReader **ret) {
        CnDirReader *d = calloc(1, sizeof *d);
        int r;
        if (!d)
                return -ENOMEM;
        d->get = get;
        d->u = userdata;
        cn_buf_init(&d->last, CN_MAX_NAME_BYTES);
        memcpy(d->failed, id, CN_ID_BYTES);
        r = get(id, scratch, userdata);
        if (r >= 0 && cn_tree_is_list(scratch->data, scratch->len))
                r = cn_tree_list_decode(scratch->data, scratch->len, &d->ids, &d->n_ids);
        else if (r >= 0)
                r = cn_tree_decode(scratch->data, scratch->len, &d->plain, &d->n_plain);
        if (r < 0) {
                cn_dir_reader_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

const uint8_t *cn_dir_reader_failed(const CnDirReader *d) {
        return d->failed;
}

int cn_dir_reader_next(CnDirReader *d, CnBuf *scratch, CnNode **ret, size_t *ret_n) {
        CnNode *nodes;
        size_t n;
        uint32_t version;
        int r;

        if (d->done)
                return 0;
        if (!d->ids) {
                d->done = true;
                *ret = TAKE_PTR(d->plain);
                *ret_n = d->n_plain;
                d->n_plain = 0;
                return 1;
        }
        if (d->next == d->n_ids) {
                d->done = true;
                return 0;
        }
        memcpy(d->failed, d->ids[d->next], CN_ID_BYTES);
        r = d->get(d->ids[d->next], scratch, d->u);
        if (r < 0)
                return r;
        /* A leaf is a v2 or v3 plain tree (never a list: one level only)
         * of at least one entry, every name after the previous leaf's. */
        r = tree_decode(scratch->data, scratch->len, &nodes, &n, &version);
        if (r < 0)
                return r;
        if (version < 2 || n == 0 ||
            (d->next > 0 &&
             cn_name_cmp((const char *) d->last.data, d->last.len, nodes[0].name, nodes[0].name_len) >= 0)) {
                cn_nodes_free(nodes, n);
                return -EBADMSG;
        }
        cn_buf_reset(&d->last);
        r = cn_buf_append(&d->last, nodes[n - 1].name, nodes[n - 1].name_len);
        if (r < 0) {
                cn_nodes_free(nodes, n);
                return r;
        }
        d->next++;
        *ret = nodes;
        *ret_n = n;
        return 1;
}

CnDirReader *cn_dir_reader_free(CnDirReader *d) {
        if (!d)
                return NULL;
        cn_nodes_free(d->plain, d->n_plain);
        free(d->ids);
        cn_buf_done(&d->last);
        free(d);
        return NULL;
}

int cn_tree_get_from_store(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *store) {
        return cn_store_get(store, id, out);
}

int cn_tree_put_to_store(const uint8_t *data, size_t n, uint8_t ret_id[CN_ID_BYTES], void *store) {
        cn_store_chunk_id(store, data, n, ret_id);
        return cn_store_put(store, CN_BLOB_TREE, ret_id, data, n, NULL);
}

/* HMAC-SHA-256 under the controller's chunk-id key of the domain string
 * and the name, low bits of its first byte. Keyed, so nobody without the
 * key can aim names at the cuts. */
bool cn_tree_cut_by_store(const char *name, size_t len, void *store) {
        uint8_t msg[sizeof CN_TREE_CUT_DOMAIN - 1 + CN_MAX_NAME_BYTES];
        uint8_t id[CN_ID_BYTES];
        if (len > CN_MAX_NAME_BYTES)
                return false;           /* cannot happen: names are capped so */
        memcpy(msg, CN_TREE_CUT_DOMAIN, sizeof CN_TREE_CUT_DOMAIN - 1);
        memcpy(msg + sizeof CN_TREE_CUT_DOMAIN - 1, name, len);
        cn_store_chunk_id(store, msg, sizeof CN_TREE_CUT_DOMAIN - 1 + len, id);
        return (id[0] & ((1u << CN_TREE_CUT_BITS) - 1)) == 0;
}

/* One directory of cn_tree_reach(): its chunks, and its subdirectories onto todo. */
static int reach_dir(const uint8_t id[CN_ID_BYTES], const CnReachOps *ops, void *u, CnBuf *scratch,
                     uint8_t (**todo)[CN_ID_BYTES], size_t *n_todo, size_t *cap_todo, uint8_t failed[CN_ID_BYTES]) {
        _cleanup_(cn_dir_reader_freep) CnDirReader *d = NULL;
        CnNode *nodes;
        size_t n;
        int r;

        r = cn_dir_reader_open(ops->get, u, id, scratch, &d);
        while (r >= 0 && (r = cn_dir_reader_next(d, scratch, &nodes, &n)) > 0) {
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        const CnNode *e = &nodes[i];
                        if (ops->entry)
                                r = ops->entry(e, u);
                        for (size_t j = 0; r >= 0 && e->type == CN_NODE_FILE && j < e->n_chunks; j++)
                                r = ops->chunk(e->chunks[j], u);
                        if (r >= 0 && e->type == CN_NODE_DIR && (r = CN_GROW(*todo, *cap_todo, *n_todo)) >= 0)
                                memcpy((*todo)[(*n_todo)++], e->subtree, CN_ID_BYTES);
                }
                cn_nodes_free(nodes, n);
        }
        if (r < 0 && failed)
                memcpy(failed, d ? cn_dir_reader_failed(d) : id, CN_ID_BYTES);
        return r < 0 ? r : 0;
}

int cn_tree_reach(const uint8_t root[CN_ID_BYTES], const CnReachOps *ops, void *u, CnBuf *scratch,
                  uint8_t failed[CN_ID_BYTES]) {
        uint8_t(*todo)[CN_ID_BYTES] = NULL;
        size_t n_todo = 0, cap_todo = 0;
        int r = CN_GROW(todo, cap_todo, 0);

        if (r >= 0)
                memcpy(todo[n_todo++], root, CN_ID_BYTES);
        while (r >= 0 && n_todo) {
                uint8_t id[CN_ID_BYTES];
                memcpy(id, todo[--n_todo], CN_ID_BYTES);
                r = ops->enter(id, u);
                if (r > 0)
                        r = reach_dir(id, ops, u, scratch, &todo, &n_todo, &cap_todo, failed);
        }
        free(todo);
        return r < 0 ? r : 0;
}

int cn_dir_load(CnStore *store, const uint8_t id[CN_ID_BYTES], CnBuf *scratch, CnNode **ret, size_t *ret_n,
                uint8_t bad_id[CN_ID_BYTES]) {
        return cn_dir_load_with(cn_tree_get_from_store, store, id, scratch, ret, ret_n, bad_id);
}

int cn_dir_load_with(CnTreeGetFn get, void *userdata, const uint8_t id[CN_ID_BYTES], CnBuf *scratch,
                     CnNode **ret, size_t *ret_n, uint8_t bad_id[CN_ID_BYTES]) {
        _cleanup_(cn_dir_reader_freep) CnDirReader *d = NULL;
        CnNode *all = NULL, *leaf;
        size_t n = 0, cap = 0, k;
        int r;

        r = cn_dir_reader_open(get, userdata, id, scratch, &d);
        if (r < 0) {
                if (bad_id)
                        memcpy(bad_id, id, CN_ID_BYTES);
                return r;
        }
        while (r >= 0 && (r = cn_dir_reader_next(d, scratch, &leaf, &k)) > 0) {
                if (!all) {
                        all = leaf;
                        n = cap = k;
                        continue;
                }
                if (k > CN_MAX_DIR_ENTRIES - n) {
                        cn_nodes_free(leaf, k);
                        r = -EBADMSG;
                        break;
                }
                if (n + k > cap) {
                        size_t c = CN_MIN(CN_MAX((size_t) (n + k), cap * 2), (size_t) CN_MAX_DIR_ENTRIES);
                        CnNode *p = realloc(all, c * sizeof *p);
                        if (!p) {
                                cn_nodes_free(leaf, k);
                                r = -ENOMEM;
                                break;
                        }
                        all = p;
                        cap = c;
                }
                memcpy(all + n, leaf, k * sizeof *leaf);
                n += k;
                free(leaf);     /* the nodes moved into all */
        }
        if (r < 0) {
                if (bad_id)
                        memcpy(bad_id, cn_dir_reader_failed(d), CN_ID_BYTES);
                cn_nodes_free(all, n);
                return r;
        }
        if (!all && !(all = calloc(1, sizeof *all)))
                return -ENOMEM;
        *ret = all;
        *ret_n = n;
        return 0;
}

int cn_path_push(CnBuf *p, const char *name, size_t len, size_t *ret_mark) {
        int r;
        *ret_mark = p->len;
        if ((r = cn_buf_put_u8(p, '/')) < 0 || (r = cn_buf_append(p, name, len)) < 0 || (r = cn_buf_put_u8(p, 0)) < 0)
                return r;
        p->len--;
        return 0;
}

void cn_path_pop(CnBuf *p, size_t mark) {
        p->len = mark;
        p->data[mark] = 0;
}

int cn_dir_stack_push(CnDirStack *s, const uint8_t id[CN_ID_BYTES], CnNode *nodes, size_t n) {
        if (CN_GROW(s->v, s->cap, s->depth) < 0) {
                cn_nodes_free(nodes, n);
                return -ENOMEM;
        }
        s->v[s->depth] = (CnDirLevel) { .nodes = nodes, .n = n };
        memcpy(s->v[s->depth++].id, id, CN_ID_BYTES);
        return 0;
}

void cn_dir_stack_pop(CnDirStack *s) {
        CnDirLevel *l = &s->v[--s->depth];
        cn_nodes_free(l->nodes, l->n);
        *l = (CnDirLevel) {};
}

void cn_dir_stack_done(CnDirStack *s) {
        while (s->depth > 0)
                cn_dir_stack_pop(s);
        free(s->v);
        *s = (CnDirStack) {};
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "macro.h"

#define MAX_TREE_ENTRIES (16u << 20)
#define MAX_EXTENTS (1u << 22)
#define MAX_FILE_CHUNKS (1u << 26)

int cn_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len) {
        int c = memcmp(a, b, CN_MIN(a_len, b_len));
        if (c)
                return c;
        return a_len < b_len ? -1 : a_len > b_len;
}

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

static int put_str(CnBuf *b, const char *s) {
        return cn_buf_put_bytes32(b, s, s ? strlen(s) : 0);
}

static int encode_node(CnBuf *b, const CnNode *n) {
        int r;
        if ((r = cn_buf_put_u8(b, (uint8_t) n->type)) < 0 ||
            (r = cn_buf_put_bytes32(b, n->name, n->name_len)) < 0 ||
            (r = cn_buf_put_u32(b, n->mode)) < 0 || (r = cn_buf_put_u32(b, n->uid)) < 0 ||
            (r = cn_buf_put_u32(b, n->gid)) < 0 || (r = put_str(b, n->user)) < 0 ||
            (r = put_str(b, n->group)) < 0 || (r = put_time(b, &n->mtime)) < 0 ||
            (r = put_time(b, &n->atime)) < 0 || (r = put_time(b, &n->ctime)) < 0 ||
            (r = cn_buf_put_u64(b, n->size)) < 0 || (r = cn_buf_put_u64(b, n->inode)) < 0 ||
            (r = cn_buf_put_u64(b, n->dev)) < 0 || (r = cn_buf_put_u64(b, n->nlink)) < 0 ||
            (r = cn_buf_put_u64(b, n->rdev)) < 0 || (r = cn_buf_put_u64(b, n->link_group)) < 0 ||
            (r = cn_buf_put_bytes32(b, n->target, n->target_len)) < 0 ||
            (r = cn_buf_put_u32(b, (uint32_t) n->n_xattrs)) < 0)
                return r;
        for (size_t i = 0; i < n->n_xattrs; i++)
                if ((r = put_str(b, n->xattrs[i].name)) < 0 ||
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
        if (n->type == CN_NODE_DIR)
                return cn_buf_append(b, n->subtree, CN_ID_BYTES);
        return 0;
}

int cn_tree_encode(const CnNode *nodes, size_t n, CnBuf *out) {
        int r;
        if (n > MAX_TREE_ENTRIES)
                return -E2BIG;
        if ((r = cn_buf_append(out, CN_MAGIC_TREE, CN_MAGIC_BYTES)) < 0 ||
            (r = cn_buf_put_u32(out, CN_FORMAT_VERSION)) < 0 || (r = cn_buf_put_u32(out, (uint32_t) n)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                size_t at = out->len;
                if ((r = cn_buf_put_u32(out, 0)) < 0 || (r = encode_node(out, &nodes[i])) < 0)
                        return r;
                size_t len = out->len - at - 4;
                if (len > UINT32_MAX)
                        return -E2BIG;
                cn_le32_put(out->data + at, (uint32_t) len);
        }
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

static int decode_node(CnReader *rd, CnNode *n) {
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
        if (cn_reader_u32(rd, &count) < 0 || count > CN_MAX_XATTRS || (uint64_t) count * 8 > rd->left)
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
        return 0;
}

int cn_tree_decode(const uint8_t *p, size_t len, CnNode **ret, size_t *ret_n) {
        CnReader rd;
        const uint8_t *m;
        uint32_t version, count;
        CnNode *nodes = NULL;
        size_t n = 0;
        int r;

        cn_reader_init(&rd, p, len);
        if (cn_reader_peek(&rd, CN_MAGIC_BYTES, &m) < 0 || memcmp(m, CN_MAGIC_TREE, CN_MAGIC_BYTES) != 0 ||
            cn_reader_u32(&rd, &version) < 0)
                return -EBADMSG;
        if (version != CN_FORMAT_VERSION)
                return -EPROTONOSUPPORT;
        /* Every entry takes at least 4 bytes: a count beyond that is a lie. */
        if (cn_reader_u32(&rd, &count) < 0 || count > MAX_TREE_ENTRIES || (uint64_t) count * 4 > rd.left)
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
                r = decode_node(&er, &nodes[i]);
                if (r >= 0 && !cn_reader_empty(&er))
                        r = -EBADMSG;   /* fields of a later version: not for a v1 reader */
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
        return 0;
fail:
        cn_nodes_free(nodes, n);
        return r;
}

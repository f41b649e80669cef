/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cn_node_done(CnNode *n) {
        if (!n)
                return;
        free(n->name);
        free(n->user);
        free(n->group);
        free(n->target);
        for (size_t i = 0; i < n->n_xattrs; i++) {
                free(n->xattrs[i].name);
                free(n->xattrs[i].value);
        }
        free(n->xattrs);
        free(n->extents);
        free(n->chunks);
        *n = (CnNode) {};
}

static int dup_bytes(char **dst, const char *src, size_t n) {
        *dst = NULL;
        if (!src)
                return 0;
        *dst = malloc(n + 1);
        if (!*dst)
                return -ENOMEM;
        memcpy(*dst, src, n);
        (*dst)[n] = 0;
        return 0;
}

int cn_node_copy(CnNode *dst, const CnNode *src) {
        *dst = *src;
        dst->name = dst->user = dst->group = dst->target = NULL;
        dst->xattrs = NULL;
        dst->n_xattrs = 0;
        dst->extents = NULL;
        dst->chunks = NULL;
        if (dup_bytes(&dst->name, src->name, src->name_len) < 0 ||
            dup_bytes(&dst->user, src->user, src->user ? strlen(src->user) : 0) < 0 ||
            dup_bytes(&dst->group, src->group, src->group ? strlen(src->group) : 0) < 0 ||
            dup_bytes(&dst->target, src->target, src->target_len) < 0)
                goto oom;
        if (src->n_xattrs) {
                dst->xattrs = calloc(src->n_xattrs, sizeof *dst->xattrs);
                if (!dst->xattrs)
                        goto oom;
                for (size_t i = 0; i < src->n_xattrs; i++) {
                        dst->n_xattrs++;
                        dst->xattrs[i].value_len = src->xattrs[i].value_len;
                        if (dup_bytes(&dst->xattrs[i].name, src->xattrs[i].name, strlen(src->xattrs[i].name)) < 0 ||
                            dup_bytes((char **) &dst->xattrs[i].value, (const char *) src->xattrs[i].value,
                                      src->xattrs[i].value_len) < 0)
                                goto oom;
                }
        }
        if (src->n_extents) {
                dst->extents = malloc(src->n_extents * sizeof *dst->extents);
                if (!dst->extents)
                        goto oom;
                memcpy(dst->extents, src->extents, src->n_extents * sizeof *dst->extents);
        }
        if (src->n_chunks) {
                dst->chunks = malloc(src->n_chunks * sizeof *dst->chunks);
                if (!dst->chunks)
                        goto oom;
                memcpy(dst->chunks, src->chunks, src->n_chunks * sizeof *dst->chunks);
        }
        return 0;
oom:
        cn_node_done(dst);
        return -ENOMEM;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "macro.h"

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
        cn_node_clear_subjects(n);
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
        dst->subjects = NULL;
        dst->n_subjects = 0;
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
        if (src->n_subjects) {
                dst->subjects = calloc(src->n_subjects, sizeof *dst->subjects);
                if (!dst->subjects)
                        goto oom;
                for (size_t i = 0; i < src->n_subjects; i++) {
                        dst->n_subjects++;
                        if (dup_bytes(&dst->subjects[i], src->subjects[i], strlen(src->subjects[i])) < 0)
                                goto oom;
                }
        }
        return 0;
oom:
        cn_node_done(dst);
        return -ENOMEM;
}

int cn_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len) {
        int c = memcmp(a, b, CN_MIN(a_len, b_len));
        if (c)
                return c;
        return a_len < b_len ? -1 : a_len > b_len;
}

bool cn_subject_valid(const char *s, size_t len) {
        return len >= 1 && len <= CN_MAX_SUBJECT_BYTES && !memchr(s, 0, len) && !memchr(s, '/', len);
}

/* Where subject s is in n's sorted set, or where it would go: *ret_at, and whether it is there. */
static bool subject_find(const CnNode *n, const char *s, size_t len, size_t *ret_at) {
        size_t lo = 0, hi = n->n_subjects;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = cn_name_cmp(n->subjects[mid], strlen(n->subjects[mid]), s, len);
                if (c == 0) {
                        *ret_at = mid;
                        return true;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_at = lo;
        return false;
}

bool cn_node_has_subject(const CnNode *n, const char *s, size_t len) {
        size_t at;
        return subject_find(n, s, len, &at);
}

bool cn_node_subjects_valid(const CnNode *n) {
        if (n->n_subjects > CN_MAX_SUBJECTS)
                return false;
        for (size_t i = 0; i < n->n_subjects; i++) {
                size_t len = strnlen(n->subjects[i], CN_MAX_SUBJECT_BYTES + 1);
                if (!cn_subject_valid(n->subjects[i], len))
                        return false;
                if (i > 0 && cn_name_cmp(n->subjects[i - 1], strlen(n->subjects[i - 1]), n->subjects[i], len) >= 0)
                        return false;
        }
        return true;
}

int cn_node_add_subject(CnNode *n, const char *s, size_t len) {
        size_t at;
        if (subject_find(n, s, len, &at))
                return 0;
        if (n->n_subjects >= CN_MAX_SUBJECTS)
                return -E2BIG;
        char **v = reallocarray(n->subjects, n->n_subjects + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        n->subjects = v;
        char *copy = strndup(s, len);
        if (!copy)
                return -ENOMEM;
        memmove(v + at + 1, v + at, (n->n_subjects - at) * sizeof *v);
        v[at] = copy;
        n->n_subjects++;
        return 1;
}

void cn_node_clear_subjects(CnNode *n) {
        for (size_t i = 0; i < n->n_subjects; i++)
                free(n->subjects[i]);
        free(n->subjects);
        n->subjects = NULL;
        n->n_subjects = 0;
}

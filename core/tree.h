/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tree blobs: one directory's entries (docs/FORMAT.md "Tree").
 *
 *   tree  = magic "CAIRNTRE" version:u32 count:u32 entry*
 *   entry = length:u32 field* (a reader skips fields it does not know at the end)
 *
 * Entries are sorted by name bytes, each name once. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "node.h"

/* nodes must be sorted by name (cn_nodes_sort) with no duplicates. */
int cn_tree_encode(const CnNode *nodes, size_t n, CnBuf *out);
/* -EBADMSG for anything malformed, out of order or over a cap;
 * -EPROTONOSUPPORT for an unknown version. Free with cn_nodes_free(). */
int cn_tree_decode(const uint8_t *p, size_t n, CnNode **ret, size_t *ret_n);
void cn_nodes_free(CnNode *nodes, size_t n);
void cn_nodes_sort(CnNode *nodes, size_t n);
/* memcmp order of names, shorter first on a common prefix. */
int cn_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

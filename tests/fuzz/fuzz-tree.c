/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Plain trees (cn_tree_decode): what decodes encodes again (as v2, or v3
 * when an entry has data subjects) and
 * decodes to as many entries, and that encoding is a fixed point. (The
 * input itself need not be: readers ignore reserved inode flag bits.) */
#include "fuzz.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnNode *nodes = NULL, *again = NULL;
        size_t n = 0, n2 = 0;
        CnBuf b = CN_BUF_INIT(CN_MAX_TREE_BYTES);

        if (cn_tree_decode(data, size, &nodes, &n) < 0)
                return 0;
        FUZZ_ASSERT(n <= CN_MAX_TREE_ENTRIES);
        FUZZ_ASSERT(cn_tree_encode(nodes, n, &b) == 0);
        FUZZ_ASSERT(cn_tree_decode(b.data, b.len, &again, &n2) == 0);
        FUZZ_ASSERT(n2 == n);
        for (size_t i = 0; i < n; i++)
                FUZZ_ASSERT(cn_name_cmp(nodes[i].name, nodes[i].name_len, again[i].name, again[i].name_len) == 0);
        CnBuf b2 = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        FUZZ_ASSERT(cn_tree_encode(again, n2, &b2) == 0);
        FUZZ_ASSERT(b2.len == b.len && memcmp(b2.data, b.data, b.len) == 0);
        cn_buf_done(&b2);
        cn_nodes_free(nodes, n);
        cn_nodes_free(again, n2);
        cn_buf_done(&b);
        return 0;
}

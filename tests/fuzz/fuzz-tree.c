/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Plain trees (cn_tree_decode): what decodes encodes again (as v2) and
 * decodes to as many entries. */
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
        /* A v2 tree is written as it was read. */
        if (size >= 12 && data[8] == 2 && data[9] == 0 && data[10] == 0 && data[11] == 0)
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        cn_nodes_free(nodes, n);
        cn_nodes_free(again, n2);
        cn_buf_done(&b);
        return 0;
}

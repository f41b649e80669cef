/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tree lists (cn_tree_list_decode): what decodes encodes to the same bytes. */
#include "fuzz.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t(*ids)[CN_ID_BYTES] = NULL;
        size_t n = 0;
        CnBuf b = CN_BUF_INIT(CN_MAX_TREE_BYTES);

        cn_tree_is_list(data, size);
        if (cn_tree_list_decode(data, size, &ids, &n) < 0)
                return 0;
        FUZZ_ASSERT(n >= 2 && n <= CN_MAX_TREE_LEAVES);
        FUZZ_ASSERT(cn_tree_is_list(data, size));
        FUZZ_ASSERT(cn_tree_list_encode((const uint8_t(*)[CN_ID_BYTES]) ids, n, &b) == 0);
        FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        free(ids);
        cn_buf_done(&b);
        return 0;
}

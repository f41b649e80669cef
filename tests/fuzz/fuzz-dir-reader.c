/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The directory reader over a fake get (cn_dir_reader_open/next): the
 * input is a set of blobs, { length:u32 bytes }*; the directory is the
 * first, and get(id) answers with blob number id[0] modulo their count
 * (so a tree list's ids pick its leaves), or -ENOENT for id[0] == 0xff.
 * Every leaf read must be sorted, and names increase across leaves. */
#include <errno.h>

#include "fuzz.h"
#include "tree.h"

#define MAX_BLOBS 64

typedef struct Blobs {
        const uint8_t *p[MAX_BLOBS];
        size_t len[MAX_BLOBS];
        size_t n;
} Blobs;

static int fake_get(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *userdata) {
        const Blobs *b = userdata;
        if (id[0] == 0xff)
                return -ENOENT;
        size_t i = id[0] % b->n;
        cn_buf_reset(out);
        return cn_buf_append(out, b->p[i], b->len[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Blobs b = {};
        CnReader rd;
        uint8_t root[CN_ID_BYTES] = {};
        CnBuf scratch = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnDirReader *d = NULL;
        char *last = NULL;
        size_t last_len = 0;

        cn_reader_init(&rd, data, size);
        while (b.n < MAX_BLOBS && !cn_reader_empty(&rd)) {
                if (cn_reader_bytes32(&rd, rd.left, &b.p[b.n], &b.len[b.n]) < 0)
                        break;
                b.n++;
        }
        if (b.n == 0)
                return 0;
        if (cn_dir_reader_open(fake_get, &b, root, &scratch, &d) < 0) {
                cn_buf_done(&scratch);
                return 0;
        }
        for (;;) {
                CnNode *nodes = NULL;
                size_t n = 0;
                int r = cn_dir_reader_next(d, &scratch, &nodes, &n);
                if (r <= 0) {
                        if (r < 0)
                                FUZZ_ASSERT(cn_dir_reader_failed(d) != NULL);
                        break;
                }
                for (size_t i = 0; i < n; i++) {
                        if (last)
                                FUZZ_ASSERT(cn_name_cmp(last, last_len, nodes[i].name, nodes[i].name_len) < 0);
                        free(last);
                        last = malloc(nodes[i].name_len + 1);
                        FUZZ_ASSERT(last);
                        memcpy(last, nodes[i].name, nodes[i].name_len);
                        last_len = nodes[i].name_len;
                }
                cn_nodes_free(nodes, n);
        }
        free(last);
        cn_dir_reader_free(d);
        cn_buf_done(&scratch);
        return 0;
}

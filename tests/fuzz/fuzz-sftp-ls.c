/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SFTP long listings (cn_sftp_list_line_parse): the input cut into lines
 * as the backend cuts a listing, each parsed at a fixed "now". */
#include "fuzz.h"
#include "sftp-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *le = nl ? nl : end;
                size_t n = (size_t) (le - p);
                CnSftpListEntry e;
                if (cn_sftp_list_line_parse(p, n, 1700000000, &e) == 0) {
                        FUZZ_ASSERT(e.name > p && e.name + e.name_len == p + n && e.name_len > 0);
                        FUZZ_ASSERT(e.mtime >= -1);
                }
                p = nl ? nl + 1 : end;
        }
        return 0;
}

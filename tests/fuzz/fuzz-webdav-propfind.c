/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebDAV PROPFIND answers (cn_webdav_propfind_parse): each response's
 * decoded path is a string of its own; a callback error ends the parse. */
#include <errno.h>

#include "fuzz.h"
#include "webdav-proto.h"

static int on_entry(const CnWebdavEntry *e, void *userdata) {
        size_t *count = userdata;
        FUZZ_ASSERT(e->path);
        FUZZ_ASSERT(e->mtime >= -1);
        (void) strlen(e->path);
        /* stop at the 100th, as a failing walk would */
        return ++*count >= 100 ? -ECANCELED : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t count = 0;
        int r = cn_webdav_propfind_parse(data, size, "dir/", on_entry, &count);
        FUZZ_ASSERT(r == 0 || r == -EPROTO || r == -ENOMEM || r == -ECANCELED);
        return 0;
}

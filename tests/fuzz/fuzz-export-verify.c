/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export archives given to 'export verify' (cn_export_verify): any bytes,
 * as a tar or zip holding anything, end in a verdict (valid, or problems
 * told one by one), never a crash; a verdict of valid tells no problem,
 * and one of problems tells at least one. The seeds are exports of a
 * small repository (signed by another key than the one verified with). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "export.h"
#include "fileio.h"
#include "fuzz.h"

static void told(const char *entry, const char *why, void *u) {
        FUZZ_ASSERT(why && *why);
        (*(size_t *) u)++;
        (void) entry;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t pk[CN_SIGN_PUBLIC_BYTES] = {0xd7, 0x5a, 0x98, 0x01};
        static int inited;
        CnExportVerifyResult res;
        size_t n = 0;

        if (!inited) {
                FUZZ_ASSERT(cn_crypto_init() == 0);
                inited = 1;
        }
        int fd = memfd_create("export", MFD_CLOEXEC);
        FUZZ_ASSERT(fd >= 0);
        FUZZ_ASSERT(cn_write_all(fd, data, size) == 0 && lseek(fd, 0, SEEK_SET) == 0);
        int r = cn_export_verify(fd, pk, -1, told, &n, &res);
        close(fd);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM || r == -EIO);
        FUZZ_ASSERT(r != 0 || (n == 0 && res.problems == 0));
        FUZZ_ASSERT(r != -EBADMSG || (n > 0 && n == res.problems));
        return 0;
}

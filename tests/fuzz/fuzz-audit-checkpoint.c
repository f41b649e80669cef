/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Audit checkpoint files (cn_audit_checkpoint_verify): any input is
 * refused with a reason or verifies, never read past its end; one that
 * verifies names a key that verifies it again. */
#include <errno.h>

#include "audit.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnAuditCheckpoint cp = {};
        const char *why = NULL;
        int r = cn_audit_checkpoint_verify(data, size, NULL, &cp, &why);
        if (r == 0)
                FUZZ_ASSERT(cn_audit_checkpoint_verify(data, size, cp.public_key, NULL, NULL) == 0);
        else
                FUZZ_ASSERT(r == -ENOMEM || why);
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issues one erasure certificate in a repository, as an erasure will (for
 * tests/cli/certificate.sh, until 'cairn erase' exists):
 *
 *   make-certificate REPO OUT [REFERENCE]
 *
 * opens REPO with $CAIRN_PASSWORD, signs a certificate of a complete
 * subject erasure for its first controller with the processor's key,
 * stores it as certificates/<id>, writes the file to OUT and prints the id. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certificate.h"
#include "fileio.h"

static int die(const char *what, int r) {
        fprintf(stderr, "make-certificate: %s: %s\n", what, strerror(-r));
        return 1;
}

int main(int argc, char **argv) {
        CnBackend *b = NULL;
        CnRepo *repo = NULL;
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id[CN_ID_HEX + 1];
        const char *pw = getenv("CAIRN_PASSWORD");
        int r;

        if (argc < 3 || argc > 4 || !pw) {
                fprintf(stderr, "usage: CAIRN_PASSWORD=... make-certificate REPO OUT [REFERENCE]\n");
                return 2;
        }
        if ((r = cn_crypto_init()) < 0 || (r = cn_backend_open(argv[1], false, &b)) < 0)
                return die(argv[1], r);
        if ((r = cn_repo_open(b, pw, strlen(pw), &repo)) < 0)
                return die("open", r);
        static const CnCertificateKeeper kept[] = {{{0x5e}, {0x9a}}};
        static const CnCertificateRetained retained[] = {{.chunks = 1, .bytes = 4096, .kept_by = kept, .n_kept_by = 1}};
        static const char *const residual[] = {"none known"};
        CnCertificateLocation where = {argv[1], CN_CERTIFICATE_LOCATION_REPOSITORY, CN_CERTIFICATE_LOCATION_DONE};
        int64_t now = time(NULL);
        CnCertificate c = {
                .scope = CN_CERTIFICATE_SCOPE_SUBJECT,
                .value_pseudonym = {0x42},
                .reference = argc > 3 ? argv[3] : "ticket 4711",
                .reason = "Art. 17 GDPR request",
                .requested_at = now - 60,
                .status = CN_CERTIFICATE_COMPLETE,
                .started_at = now - 30,
                .completed_at = now,
                .cryptographically_complete = true,
                .cryptographically_complete_at = now - 1,
                .epoch_from = 0,
                .epoch_to = 1,
                .counts = {.snapshots_rewritten = 2,
                           .entries_erased = 3,
                           .bytes_erased = 12288,
                           .chunks_destroyed = 3,
                           .keys_destroyed = 3,
                           .packs_rewritten = 1},
                .retained = retained,
                .n_retained = 1,
                .locations = &where,
                .n_locations = 1,
                .residual = residual,
                .n_residual = 1,
        };
        memcpy(c.controller, cn_repo_controller(repo, 0)->id, CN_UUID_BYTES);
        if ((r = cn_certificate_issue(repo, &c, &file, id)) < 0)
                return die("issue", r);
        if ((r = cn_write_file_atomic_at(AT_FDCWD, argv[2], file.data, file.len, 0644, 0)) < 0)
                return die(argv[2], r);
        printf("%s\n", id);
        cn_buf_done(&file);
        cn_repo_unref(repo);
        cn_backend_close(b);
        return 0;
}

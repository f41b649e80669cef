/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A controller's small content-named objects (docs/FORMAT.md "Envelope"):
 * a body sealed by cn_controller_seal() under its magic (the controller
 * metadata key, epoch 0, for the kinds here), stored once with an
 * exclusive put as <folder>/<ctrl>/<hex SHA-256 of the stored bytes>, and
 * never changed. Retention policies and requests are kept so. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "repo.h"
#include "store.h"

/* Cap of one such object (FORMAT.md "Limits"). */
#define CN_MAX_SEALED_OBJECT_BYTES (1u << 20)

/* Seal body as c's object of magic and store it under folder; its id (the
 * SHA-256 of the stored bytes) into ret_id. Storing the same bytes again
 * (the same name) is a success. */
int cn_sealed_put(CnRepo *repo, const CnController *c, const char *folder, const char magic[CN_MAGIC_BYTES],
                  const void *body, size_t n, uint8_t ret_id[CN_ID_BYTES]);

/* Read and open object name (<folder>/<ctrl>/<id> of c): its stored bytes
 * into obj and its body into body (both replaced; NULL obj: not kept),
 * which of magics it has into *ret_kind. -ENOENT gone; -EBADMSG another
 * magic, another controller, processor or epoch, authentication, or not
 * named by its SHA-256; -E2BIG over CN_MAX_SEALED_OBJECT_BYTES;
 * -EPROTONOSUPPORT an unknown version; errors of the backend. */
int cn_sealed_open(CnRepo *repo, const CnController *c, const char *name, const char *const *magics, size_t n_magics,
                   CnBuf *obj, CnBuf *body, size_t *ret_kind);

/* Each object under <folder>/<ctrl>/ of c that opens, to fn with its name,
 * id, kind (index into magics), body (borrowed for the call) and userdata.
 * An object that does not open, or whose body fn refuses (-EBADMSG), goes
 * to damaged (with its error and damaged_userdata) and is counted in
 * *ret_damaged (may be NULL); damaged NULL: the listing fails with that
 * error. An object removed meanwhile is
 * skipped. Errors of the machine or the connection
 * (cn_store_error_is_environment()), of fn too, end the listing. */
typedef int (*CnSealedFn)(const char *name, const uint8_t id[CN_ID_BYTES], size_t kind, const uint8_t *body, size_t n,
                          void *userdata);
int cn_sealed_list(CnRepo *repo, const CnController *c, const char *folder, const char *const *magics, size_t n_magics,
                   CnSealedFn fn, void *userdata, CnStoreDamagedFn damaged, void *damaged_userdata,
                   size_t *ret_damaged);

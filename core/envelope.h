/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sealed metadata objects (docs/FORMAT.md "Envelope").
 *
 *   envelope = magic[8] version:u32 processor[16] controller[16] epoch:u32
 *              nonce[24] ciphertext
 *
 * The ciphertext is XChaCha20-Poly1305 of the body under the caller's key,
 * with every byte before the nonce as associated data: an object cannot be
 * moved to another kind, controller, processor or epoch without failing. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "format.h"

#define CN_ENVELOPE_HEADER_BYTES (CN_MAGIC_BYTES + 4 + 2 * CN_UUID_BYTES + 4)

typedef struct CnEnvelopeHeader {
        uint32_t version;
        uint8_t processor[CN_UUID_BYTES];
        uint8_t controller[CN_UUID_BYTES];
        uint32_t epoch;
} CnEnvelopeHeader;

/* The newest version of objects of this magic (format.h): what
 * cn_envelope_seal() writes unless told another; cn_envelope_peek()
 * accepts 1 up to it (which of those a controller accepts:
 * cn_controller_object_version_ok()). */
uint32_t cn_envelope_version(const char magic[CN_MAGIC_BYTES]);
/* The id of a content-named object (v2 snapshots, damage records): the
 * SHA-256 of all of its stored bytes. Its name is this id in hex. */
void cn_envelope_name_id(const uint8_t *p, size_t n, uint8_t ret[CN_ID_BYTES]);
/* The name of a content-named object of bytes p: "<folder>/<controller
 * hex>/<hex of its id>", into ret_name; its id into ret_id. */
#define CN_ENVELOPE_NAME_MAX (32 + CN_UUID_HEX + CN_ID_HEX)
void cn_envelope_content_name(const char *folder, const char *controller_hex, const uint8_t *p, size_t n,
                              uint8_t ret_id[CN_ID_BYTES], char ret_name[CN_ENVELOPE_NAME_MAX]);
/* 0 if the last component of name is the hex id of the object of bytes p,
 * -EBADMSG if not (another object copied over this name). */
int cn_envelope_check_content_name(const char *name, const uint8_t *p, size_t n);

/* Append the sealed envelope of body to out, at h->version (0: at
 * cn_envelope_version(magic)). */
int cn_envelope_seal(CnBuf *out, const char magic[CN_MAGIC_BYTES], const CnEnvelopeHeader *h,
                     const uint8_t key[CN_KEY_BYTES], const void *body, size_t n);
/* Parse the plaintext header: -EBADMSG for another magic or truncation,
 * -EPROTONOSUPPORT for a version this reader does not know (0, or above
 * cn_envelope_version(magic)). */
int cn_envelope_peek(const uint8_t *p, size_t n, const char magic[CN_MAGIC_BYTES], CnEnvelopeHeader *ret);
/* Authenticate and decrypt into out (replaced). -EBADMSG on any mismatch. */
int cn_envelope_open(const uint8_t *p, size_t n, const char magic[CN_MAGIC_BYTES], const uint8_t key[CN_KEY_BYTES],
                     CnEnvelopeHeader *ret_header, CnBuf *out);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The key store (docs/FORMAT.md "Key store"): per controller of a version 2
 * repository, one small object holding the epoch keys that open everything
 * of the controller, kept at key store locations outside the repository,
 * where deletion is real. An erasure replaces the epoch key and destroys the
 * old one at every location, so no copy of the repository, of any age,
 * opens what was erased.
 *
 *   keystore body = repo_uuid[16] generation:u64
 *                   location_count:u32 location:bytes32*
 *                   key_count:u32 { epoch:u32 epoch_key[32] }*
 *
 * sealed in an envelope ("CAIRNKST", controller = the controller) under
 * KDF(master, 3, "cnmaster"), named "<repo hex>/<ctrl hex>" at each
 * location. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "buf.h"
#include "format.h"

typedef struct CnKeyStore {
        uint8_t repo_id[CN_UUID_BYTES];
        uint8_t controller[CN_UUID_BYTES];
        uint64_t generation;
        char *locations[CN_KEYSTORE_MAX_LOCATIONS];     /* malloc'd URLs */
        size_t n_locations;
        uint32_t epochs[CN_KEYSTORE_MAX_KEYS];          /* strictly increasing */
        uint8_t *keys;                                  /* secret: CN_KEY_BYTES per epoch */
        size_t n_keys;
} CnKeyStore;

/* An empty key store of controller ctrl of repository repo_id (keys
 * allocated, none set). */
int cn_keystore_init(CnKeyStore *ks, const uint8_t repo_id[CN_UUID_BYTES], const uint8_t ctrl[CN_UUID_BYTES]);
void cn_keystore_done(CnKeyStore *ks);
/* A copy of src into dst (dst uninitialised). */
int cn_keystore_copy(CnKeyStore *dst, const CnKeyStore *src);

/* The key of epoch, or NULL when the key store holds none. */
const uint8_t *cn_keystore_key(const CnKeyStore *ks, uint32_t epoch);
/* Add epoch with key (in order); -EEXIST held already, -E2BIG full. */
int cn_keystore_add_key(CnKeyStore *ks, uint32_t epoch, const uint8_t key[CN_KEY_BYTES]);
/* Remove every key but that of epoch (its key is wiped from memory). */
void cn_keystore_keep_only(CnKeyStore *ks, uint32_t epoch);
/* Add a location URL unless it is listed; -E2BIG full, -EINVAL not a valid one. */
int cn_keystore_add_location(CnKeyStore *ks, const char *url);

/* The body, pure (fuzzed): every rule of FORMAT.md checked; -EBADMSG if
 * one is broken. ks must be cn_keystore_init()ed; it is replaced. */
int cn_keystore_body_decode(const uint8_t *p, size_t n, CnKeyStore *ks);
int cn_keystore_body_encode(const CnKeyStore *ks, CnBuf *out);

/* The name of controller ctrl's object of repository repo_id at a location. */
#define CN_KEYSTORE_NAME_MAX (CN_UUID_HEX * 2 + 2)
void cn_keystore_name(const uint8_t repo_id[CN_UUID_BYTES], const uint8_t ctrl[CN_UUID_BYTES],
                      char ret[CN_KEYSTORE_NAME_MAX]);

/* Read and open the object at location b into ks (cn_keystore_init()ed
 * with the repository and controller it must belong to): -ENOENT absent,
 * -EBADMSG does not open or breaks a rule (another repository's or
 * controller's, damaged), other errors of the backend. key is the
 * key-store key (KDF(master, 3, "cnmaster")); processor the repository's. */
int cn_keystore_read(CnBackend *b, const uint8_t key[CN_KEY_BYTES], const uint8_t processor[CN_UUID_BYTES],
                     CnKeyStore *ks);
/* Seal ks and put it at location b (replacing what is there). */
int cn_keystore_write(CnBackend *b, const uint8_t key[CN_KEY_BYTES], const uint8_t processor[CN_UUID_BYTES],
                      const CnKeyStore *ks);

/* The key store location cairn uses unless told another: $CAIRN_KEY_STORE,
 * else /var/lib/cairn/keystore for root, else
 * $XDG_STATE_HOME/cairn/keystore (default ~/.local/state). malloc'd. */
char *cn_keystore_default_location(void);

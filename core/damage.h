/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Damage records (docs/FORMAT.md "Damage records"): copies of chunks known
 * to be unreadable, as (pack id, blob id) pairs.
 *
 *   damage body = count:u32 { pack_id[32] blob_id[32] }*   (strictly increasing)
 *
 * Stored as damage/<ctrl>/<sha256 of the object>, sealed under the
 * controller's metadata key. Readers and writers treat a recorded location
 * as absent (store.c); this file holds the set and its encoding, no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"

#define CN_DAMAGE_ENTRY_BYTES (2 * CN_ID_BYTES)

typedef struct CnDamage {
        uint8_t pack[CN_ID_BYTES];
        uint8_t blob[CN_ID_BYTES];
} CnDamage;

/* A set of locations: add in any order, then cn_damage_set_sort() before
 * contains(). */
typedef struct CnDamageSet {
        CnDamage *v;
        size_t n, cap;
        bool sorted;
} CnDamageSet;

void cn_damage_set_done(CnDamageSet *d);
int cn_damage_set_add(CnDamageSet *d, const uint8_t pack[CN_ID_BYTES], const uint8_t blob[CN_ID_BYTES]);
/* Sort and drop duplicates. */
void cn_damage_set_sort(CnDamageSet *d);
bool cn_damage_set_contains(const CnDamageSet *d, const uint8_t pack[CN_ID_BYTES], const uint8_t blob[CN_ID_BYTES]);

/* Body of a record of every location in d (sorted first); -EINVAL if empty. */
int cn_damage_encode(CnDamageSet *d, CnBuf *out);
/* Add the locations of a body to d; -EBADMSG if it is not one (empty,
 * truncated, trailing bytes, not strictly increasing). */
int cn_damage_decode(const uint8_t *p, size_t n, CnDamageSet *d);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A hash table from a pair of 64-bit keys to a caller's pointer: the hard
 * link tables of backup (keyed by device and inode) and restore (keyed by
 * link group). Open addressing with linear probing, at most half full, so
 * a lookup or an insert costs O(1) probes on average however many entries
 * it holds. Not thread-safe: callers lock around it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct CnLinkTable CnLinkTable;

/* free_value (may be NULL) is called on each value by cn_linktable_free(). */
int cn_linktable_new(void (*free_value)(void *value), CnLinkTable **ret);
CnLinkTable *cn_linktable_free(CnLinkTable *t);
static inline void cn_linktable_freep(CnLinkTable **t) {
        if (*t)
                cn_linktable_free(*t);
}

/* The value of key (a, b), or NULL. Borrowed: the table keeps it. */
void *cn_linktable_get(CnLinkTable *t, uint64_t a, uint64_t b);
/* Add key (a, b) with value (not NULL), which the table then owns.
 * -EEXIST if the key is there (the value is then not taken), -ENOMEM. */
int cn_linktable_put(CnLinkTable *t, uint64_t a, uint64_t b, void *value);

size_t cn_linktable_count(const CnLinkTable *t);
/* Slots looked at by every get and put so far: the tests' guard against a
 * table that degrades to a linear scan. */
uint64_t cn_linktable_probes(const CnLinkTable *t);

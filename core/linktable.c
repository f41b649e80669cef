/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "linktable.h"

#include <errno.h>
#include <stdlib.h>
#include <xxhash.h>

#include "macro.h"

#define INITIAL_SLOTS 1024u

typedef struct Slot {
        uint64_t a, b;
        void *value;                    /* NULL: empty */
} Slot;

struct CnLinkTable {
        Slot *slots;
        size_t n_slots;                 /* a power of two, at least twice n */
        size_t n;
        uint64_t probes;
        void (*free_value)(void *value);
};

int cn_linktable_new(void (*free_value)(void *value), CnLinkTable **ret) {
        CnLinkTable *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->slots = calloc(INITIAL_SLOTS, sizeof *t->slots);
        if (!t->slots) {
                free(t);
                return -ENOMEM;
        }
        t->n_slots = INITIAL_SLOTS;
        t->free_value = free_value;
        *ret = t;
        return 0;
}

CnLinkTable *cn_linktable_free(CnLinkTable *t) {
        if (!t)
                return NULL;
        if (t->free_value)
                for (size_t i = 0; i < t->n_slots; i++)
                        if (t->slots[i].value)
                                t->free_value(t->slots[i].value);
        free(t->slots);
        free(t);
        return NULL;
}

/* Inode numbers and link groups are dense small integers: hash them, or
 * they would fill runs of neighbouring slots. */
static size_t slot_of(const CnLinkTable *t, uint64_t a, uint64_t b) {
        const uint64_t key[2] = { a, b };
        return (size_t) XXH3_64bits(key, sizeof key) & (t->n_slots - 1);
}

/* The slot holding (a, b), or the empty one where it would go. */
static Slot *find(CnLinkTable *t, uint64_t a, uint64_t b) {
        for (size_t s = slot_of(t, a, b);; s = (s + 1) & (t->n_slots - 1)) {
                Slot *x = &t->slots[s];
                t->probes++;
                if (!x->value || (x->a == a && x->b == b))
                        return x;
        }
}

static int grow(CnLinkTable *t) {
        size_t old_n = t->n_slots;
        Slot *old = t->slots, *s = calloc(old_n * 2, sizeof *s);  /* calloc checks the product */
        if (!s)
                return -ENOMEM;
        t->slots = s;
        t->n_slots = old_n * 2;
        for (size_t i = 0; i < old_n; i++)
                if (old[i].value)
                        *find(t, old[i].a, old[i].b) = old[i];
        free(old);
        return 0;
}

void *cn_linktable_get(CnLinkTable *t, uint64_t a, uint64_t b) {
        return find(t, a, b)->value;
}

int cn_linktable_put(CnLinkTable *t, uint64_t a, uint64_t b, void *value) {
        Slot *s = find(t, a, b);
        if (s->value)
                return -EEXIST;
        if ((t->n + 1) * 2 > t->n_slots) {
                int r = grow(t);
                if (r < 0)
                        return r;
                s = find(t, a, b);
        }
        *s = (Slot) { .a = a, .b = b, .value = value };
        t->n++;
        return 0;
}

size_t cn_linktable_count(const CnLinkTable *t) {
        return t->n;
}

uint64_t cn_linktable_probes(const CnLinkTable *t) {
        return t->probes;
}

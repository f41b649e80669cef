/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test data for the micro benchmarks: real files read into memory, and a
 * fast deterministic generator. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct Corpus {
        uint8_t *data;
        size_t len, cap;
        size_t n_files;
} Corpus;

/* Read regular files under dirs (not crossing file systems) until cap bytes. */
size_t corpus_load(Corpus *c, size_t cap, char **dirs, int n_dirs);
/* xorshift64*: the same sequence every run. */
uint64_t corpus_rng(void);
void corpus_rng_seed(uint64_t seed);

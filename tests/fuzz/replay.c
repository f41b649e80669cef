/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Replays a fuzz target's corpus without libFuzzer: for the plain (gcc)
 * build, where the corpora run as ordinary tests.
 *
 *   fuzz-TARGET FILE|DIR...
 *
 * Calls LLVMFuzzerTestOneInput() once with each file (each file of each
 * directory, in name order). Fails if no input was found, so an empty or
 * misplaced corpus cannot pass; a crash of the target is the test's failure. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_BYTES (16u << 20)

static int replay_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
                return -1;
        }
        uint8_t *buf = malloc(REPLAY_MAX_BYTES);
        size_t n = buf ? fread(buf, 1, REPLAY_MAX_BYTES, f) : 0;
        int bad = !buf || ferror(f) || !feof(f) || fgetc(f) != EOF;
        fclose(f);
        if (bad) {
                fprintf(stderr, "replay: cannot read %s whole (at most %u bytes)\n", path, REPLAY_MAX_BYTES);
                free(buf);
                return -1;
        }
        /* An exact-size copy, so that ASan sees a read past the input. */
        uint8_t *in = malloc(n ? n : 1);
        if (!in) {
                free(buf);
                return -1;
        }
        memcpy(in, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(in, n);
        free(in);
        return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
        size_t count = 0;
        int failed = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        failed |= replay_file(argv[i]) < 0;
                        count++;
                        continue;
                }
                struct dirent **names;
                int n = scandir(argv[i], &names, NULL, by_name);
                if (n < 0) {
                        fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                for (int j = 0; j < n; j++) {
                        char path[4096];
                        if (names[j]->d_name[0] != '.') {
                                snprintf(path, sizeof path, "%s/%s", argv[i], names[j]->d_name);
                                failed |= replay_file(path) < 0;
                                count++;
                        }
                        free(names[j]);
                }
                free(names);
        }
        printf("replayed %zu inputs\n", count);
        if (count == 0) {
                fprintf(stderr, "replay: no input found: give corpus files or directories\n");
                return 1;
        }
        return failed;
}

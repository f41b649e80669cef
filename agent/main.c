/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>

int main(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fputs("cairn: not built yet\n", stderr);
        return 1;
}

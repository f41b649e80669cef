/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli.h"

int verb_records(Cli *cli, int argc, char **argv) {
        (void) cli;
        (void) argc;
        (void) argv;
        return CLI_EXIT_ERROR;
}

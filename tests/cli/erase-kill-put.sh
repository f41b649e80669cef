#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# tests/cli/erase-kill.sh's second series: an erasure killed at each of its
# puts (the rename or link of a .tmp- file), then run again.
ERASE_KILL_SERIES=put
# shellcheck source-path=SCRIPTDIR source=erase-kill.sh
. "$(dirname -- "$0")/erase-kill.sh"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# tests/cli/erase-kill.sh's deletions from the 14th on: an erasure killed
# at each of them (the epoch change, mostly), then run again.
ERASE_KILL_SERIES=late
# shellcheck source-path=SCRIPTDIR source=erase-kill.sh
. "$(dirname -- "$0")/erase-kill.sh"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The password prompt turns echo off on the terminal; a SIGINT (Ctrl-C) or
# another terminating signal at the prompt gives the terminal back with
# echo on, and the process still dies of the signal. Runs cairn on a
# pseudo-terminal (python3's pty) and reads the terminal's modes from its
# master side.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 not installed"
expect_exit 0 cairn init
for sig in INT TERM HUP; do
        note "SIG$sig at the password prompt restores echo"
        python3 - "$CAIRN" "$REPO" "$sig" <<'PY' || fail "SIG$sig at the prompt"
import os, pty, select, signal, sys, termios, time
cairn, repo, sig = sys.argv[1], sys.argv[2], getattr(signal, "SIG" + sys.argv[3])
env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_PASSWORD")}
pid, fd = pty.fork()
if pid == 0:
    os.execve(cairn, [cairn, "-r", repo, "snapshots"], env)
buf, end = b"", time.time() + 30
while b"assword" not in buf and time.time() < end:
    if select.select([fd], [], [], 1)[0]:
        buf += os.read(fd, 1024)
if b"assword" not in buf:
    sys.exit("no password prompt: %r" % buf)
# The prompt is written before echo goes off: wait until it is off.
while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < end:
    time.sleep(0.05)
if termios.tcgetattr(fd)[3] & termios.ECHO:
    sys.exit("echo never went off at the prompt")
os.kill(pid, sig)
_, status = os.waitpid(pid, 0)
if not termios.tcgetattr(fd)[3] & termios.ECHO:
    sys.exit("the terminal was left without echo")
if not os.WIFSIGNALED(status) or os.WTERMSIG(status) != sig:
    sys.exit("cairn did not die of the signal: status %d" % status)
PY
done

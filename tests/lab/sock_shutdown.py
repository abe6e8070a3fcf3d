#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sock_shutdown.py PID HOST PORT: shutdown(2) every TCP connection of process
# PID whose remote end is HOST:PORT, the way mirror/mirror_sockets.c cuts a
# silent backup (pidfd_getfd(2) a duplicate of the process's socket, then
# shutdown it: shutdown acts on the socket, so the owner sees EOF/EPIPE at
# once). The lab's kernel has no CONFIG_INET_DIAG_DESTROY, so `ss -K` cannot.
#
# Unlike QMP `yank` (which puts QEMU's NBD client in its QUIT state for good),
# a connection failing under the client sends it into its reconnect states:
# the experiments in tests/lab/exp_resync_path.sh use this to cut a backup
# without losing the NBD node the mirror job writes to.
#
# Run it inside the host's network namespace (`deploy/lab exec NODE ...`):
# /proc/PID/net/tcp is read from PID's namespace. Prints how many it closed.
import ctypes
import os
import socket
import struct
import sys

SYS_PIDFD_GETFD = 438


def remote_inodes(pid, host, port):
    want = (socket.inet_aton(host), port)
    found = set()
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            rhex, rport = fields[2].split(":")
            raddr = struct.pack("<I", int(rhex, 16))
            if (raddr, int(rport, 16)) == want and fields[3] == "01":  # ESTABLISHED
                found.add(fields[9])
    return found


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: sock_shutdown.py PID HOST PORT")
    pid, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    inodes = remote_inodes(pid, host, port)
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    closed = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if not target.startswith("socket:[") or target[8:-1] not in inodes:
            continue
        dup = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
        if dup < 0:
            sys.exit(f"pidfd_getfd {pid}/{fd}: {os.strerror(ctypes.get_errno())}")
        s = socket.socket(fileno=dup)
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        closed += 1
    print(closed)


main()

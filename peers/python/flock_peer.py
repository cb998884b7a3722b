#!/usr/bin/env python3
"""A correct unix-socket election peer in Python, with switches that break it on purpose.

The election runs under an flock on ADDR.lock that the leader holds for as long as it leads,
so only the leader ever removes a stale socket, and only one listens. It speaks the
splitbrain peer protocol's events (ready, leader, follower, lost) on stdout. Switches:

  --give-up N   a follower stops looking for a leader after its N-th lost leader (it stays
                alive, connected to nothing): a peer lost for good while the group runs on.
  --nap S       once, a second into its life, a follower drops its connection and sleeps
                S seconds before it looks again: lost for S seconds, healed later.
"""
import argparse
import errno
import fcntl
import json
import os
import socket
import stat
import sys
import threading
import time

out_lock = threading.Lock()


def say(event, **fields):
    fields["event"] = event
    with out_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def lead(addr, lock_fd):
    # Under the lock: what is at the path is a stale socket of a dead leader, or nothing.
    try:
        if stat.S_ISSOCK(os.lstat(addr).st_mode):
            os.unlink(addr)
    except FileNotFoundError:
        pass
    # The epoch lives in the lock file, read and written under the lock: it grows from one
    # leader to the next.
    data = os.pread(lock_fd, 32, 0).decode() or "0"
    epoch = int(data.strip() or 0) + 1
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, str(epoch).encode(), 0)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(addr)
    srv.listen(128)
    say("leader", epoch=epoch)
    members = []
    while True:
        conn, _ = srv.accept()
        members.append(conn)  # held open: a follower sees EOF only when the leader dies


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--give-up", type=int, default=0)
    ap.add_argument("--nap", type=float, default=0)
    args = ap.parse_args()
    addr = os.environ["SPLITBRAIN_ADDR"]
    me = os.environ.get("SPLITBRAIN_PEER", "?")
    say("ready")
    t0 = time.monotonic()
    losses, napped = 0, False
    while True:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            c.connect(addr)
        except OSError as e:
            c.close()
            if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise
            fd = os.open(addr + ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                time.sleep(0.02)
                continue
            lead(addr, fd)
            return
        say("follower", leader="?")
        if args.nap and not napped:
            # One second into its life, the follower drops its leader and naps.
            c.settimeout(max(0.0, t0 + 1.0 - time.monotonic()))
            try:
                data = c.recv(1)
            except socket.timeout:
                data = b"x"
            except OSError:
                data = b""
            if data:
                napped = True
                c.close()
                say("lost", reason="napping")
                time.sleep(args.nap)
                continue
        else:
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass  # reset by a killed leader: lost all the same
        c.close()
        losses += 1
        say("lost", reason="leader connection: EOF")
        if args.give_up and losses >= args.give_up:
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

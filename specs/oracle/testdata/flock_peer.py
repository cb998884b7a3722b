#!/usr/bin/env python3
"""A black-box splitbrain peer in Python that elects correctly, with a configurable SIGTERM.

The holder of an flock on ADDR + ".lock" is the only process that removes a stale socket and
listens; every other process connects to ADDR and stays connected until the leader goes, then
elects again. It writes nothing on stdout (black-box: the kernel alone judges it).

    flock_peer.py [--on-term default|ignore|exit3]

  default  SIGTERM's default action: die of SIGTERM (a right answer)
  ignore   ignore SIGTERM: the harness has to SIGKILL it at the end
  exit3    exit with status 3 on SIGTERM: a crash in the shutdown path
"""
import errno
import fcntl
import os
import signal
import socket
import stat
import sys
import threading
import time


def main():
    mode = "default"
    if len(sys.argv) == 3 and sys.argv[1] == "--on-term":
        mode = sys.argv[2]
    if mode == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif mode == "exit3":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(3))
    elif mode != "default":
        sys.exit("flock_peer.py: --on-term must be default, ignore or exit3")

    addr = os.environ["SPLITBRAIN_ADDR"]
    lock = os.open(addr + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            follow(addr)
            continue
        lead(addr)  # returns only if listening failed; the lock is kept, so try again
        time.sleep(0.05)


def follow(addr):
    """Connect to the leader and stay until it goes; retry soon if nobody listens yet."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect(addr)
    except OSError:
        c.close()
        time.sleep(0.01)
        return
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()


def lead(addr):
    """Holding the lock: remove a stale socket (never anything else), listen, and serve."""
    try:
        st = os.lstat(addr)
        if stat.S_ISSOCK(st.st_mode):
            os.unlink(addr)  # safe: only the lock holder listens, so this socket is stale
        else:
            print("flock_peer.py: %s is not a socket; left untouched" % addr, file=sys.stderr)
            sys.exit(1)
    except FileNotFoundError:
        pass
    ln = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        ln.bind(addr)
        ln.listen(128)
    except OSError as e:
        print("flock_peer.py: listen %s: %s" % (addr, e), file=sys.stderr)
        ln.close()
        return
    conns = []
    while True:
        try:
            c, _ = ln.accept()
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            raise
        conns.append(c)  # kept open: a follower stays connected while this process lives
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def drain(c):
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A black-box TCP splitbrain peer with a split brain of about 1 ms.

Every peer binds the election port with SO_REUSEPORT and listens *before* it takes the
election lock (an flock beside the harness's secret file); a peer that then finds the lock
taken closes its listener about 1 ms later and follows. For that millisecond two processes
listen on the port and a new connection may reach either: a split brain too short for a
sampling observer (an observation every 20 ms sees it about one time in twenty), which the
syscall oracle sees at the listen itself. The rightful leader is never disturbed, so every
other invariant holds. It writes nothing on stdout.
"""
import fcntl
import os
import socket
import threading
import time


def main():
    host, port = os.environ["SPLITBRAIN_ADDR"].rsplit(":", 1)
    lock = os.open(os.environ["SPLITBRAIN_SECRET_FILE"] + ".lock",
                   os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((host, int(port)))
        s.listen(64)
        time.sleep(0.001)  # the bug: listening before the lock says who leads
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            s.close()
            follow(host, int(port))
            continue
        lead(s)


def lead(s):
    members = []
    while True:
        c, _ = s.accept()
        members.append(c)  # kept open: the member stays connected


def follow(host, port):
    """Stay connected to the leader until it goes; retry soon if nobody listens."""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        c.connect((host, port))
        while c.recv(4096):
            pass
    except OSError:
        time.sleep(0.01)
    finally:
        c.close()


if __name__ == "__main__":
    main()

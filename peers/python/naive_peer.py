#!/usr/bin/env python3
"""A black-box unix-socket election peer in Python, wrong on purpose: probe, then unlink.

It speaks no protocol: the harness judges it from the kernel alone. It connects to
SPLITBRAIN_ADDR; if that is refused (or there is no file), it removes whatever is at the path
and listens there itself. Two peers that are both refused both unlink and both listen: the
first one's socket is left orphaned, a leader no new peer can reach. This is the election
written again and again; splitbrain explore --syscalls finds the race without any change to
this file.

  --stagger S   before its first election, wait S seconds times its peer number (p3: 3*S),
                so that a group started at once elects without racing: the race then comes
                only from what the harness does (a leader killed, a peer held at a syscall).
"""
import argparse
import os
import re
import socket
import sys
import time


def elect(path):
    """Return ("leader", listener) or ("follower", connection)."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return "follower", s
        except (ConnectionRefusedError, FileNotFoundError):
            s.close()
        try:
            os.unlink(path)  # "stale": nobody answered (the bug: someone may be about to)
        except FileNotFoundError:
            pass
        ln = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            ln.bind(path)
            ln.listen(64)
            return "leader", ln
        except OSError:
            ln.close()  # another bound first: probe again


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stagger", type=float, default=0.0)
    args = ap.parse_args()
    path = os.environ.get("SPLITBRAIN_ADDR")
    if not path or os.environ.get("SPLITBRAIN_TRANSPORT", "unix") != "unix":
        print("naive_peer.py: needs SPLITBRAIN_ADDR, a unix socket path", file=sys.stderr)
        return 2
    m = re.fullmatch(r"p(\d+)", os.environ.get("SPLITBRAIN_PEER", ""))
    if args.stagger > 0 and m:
        time.sleep(args.stagger * int(m.group(1)))
    while True:
        role, s = elect(path)
        if role == "leader":
            members = []
            while True:
                c, _ = s.accept()
                members.append(c)  # kept open: a member's connection is its membership
        # A follower waits for its leader to go, then elects again.
        while s.recv(4096):
            pass
        s.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)

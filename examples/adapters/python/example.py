#!/usr/bin/env python3
"""example.py: a correct socket leader election in plain Python, made a white-box splitbrain
peer by splitbrain.py beside it. Standard library only.

    splitbrain run --impl 'python3 examples/adapters/python/example.py' --peers 5 --duration 15s
    splitbrain run --impl 'python3 examples/adapters/python/example.py --broken'   # caught: exit 1

The election, on a unix socket path:
  1. connect to the path; if a leader answers, follow it.
  2. Otherwise take the election lock: flock(2) on PATH.lock, a file beside the path that is
     never deleted (deleting it would let two processes hold "the" lock on two inodes). Only
     the lock holder may touch the path, and a leader holds the lock for as long as it leads,
     so nobody can be listening behind a refused connection while we hold it.
  3. Holding the lock: listen; if the path is taken, remove it only if it is a socket of our
     own uid that refuses connections (never a file, a directory or another user's socket),
     then listen again.
  A graceful close closes the listener, then removes the path if it still names our socket's
  inode, and releases the lock last (at exit): no moment with an orphaned listener.

--broken (or SPLITBRAIN_EXAMPLE_BROKEN=1) skips the lock: the classic probe-then-unlink race,
which splitbrain must catch.

Over tcp (127.0.0.1:PORT) binding the port is itself the lock: listen, else connect. The
group's secret (SPLITBRAIN_SECRET_FILE) is checked in the handshake.

Leader and followers speak JSON lines: hello {peer, secret}, welcome {peer, secret}, msg {from,
id, data} (relayed by the leader to every other member), ack {id}.
"""

import errno
import fcntl
import json
import os
import queue
import random
import socket
import stat
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the example in a checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import splitbrain  # noqa: E402  (beside this file)

peer = splitbrain.from_env()
broken = "--broken" in sys.argv[1:] or os.environ.get("SPLITBRAIN_EXAMPLE_BROKEN") == "1"
tcp = peer.transport == "tcp"
RETRY = 0.02


def jitter():
    return RETRY + random.random() * RETRY


def family():
    return socket.AF_INET if tcp else socket.AF_UNIX


def address():
    if not tcp:
        return peer.addr
    host, _, port = peer.addr.rpartition(":")
    return (host, int(port))


def try_listen():
    """Returns a listening socket on the address, or the OSError."""
    s = socket.socket(family(), socket.SOCK_STREAM)
    try:
        if tcp:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only, never a live listener
        s.bind(address())
        s.listen(128)
        return s
    except OSError as e:
        s.close()
        return e


def try_connect():
    """Returns a socket connected to the address, or the OSError."""
    s = socket.socket(family(), socket.SOCK_STREAM)
    try:
        s.connect(address())
        return s
    except OSError as e:
        s.close()
        return e


# ---- the election lock (unix): flock on PATH.lock ----

lock_fd = -1


def acquire():
    global lock_fd
    if broken or tcp:
        return True
    peer.failpoint("before-lock")
    if lock_fd < 0:
        lock_fd = os.open(peer.addr + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    peer.failpoint("after-lock")
    return True


def release():
    if lock_fd >= 0:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)


def stale_own_socket():
    """Whether the path is a unix socket of our uid: the only thing there the lock holder may
    remove (once it has refused a connection)."""
    try:
        st = os.lstat(peer.addr)
    except OSError:
        return False
    return stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid()


# ---- wire: JSON lines ----


def send(sock, frame):
    sock.sendall((json.dumps(frame) + "\n").encode())


def frames(sock):
    """Yields the frames read from sock until it closes."""
    try:
        for line in sock.makefile("r", encoding="utf-8"):
            try:
                yield json.loads(line)
            except ValueError:
                continue
    except OSError:
        return


# ---- leader ----


class Member:
    """A connected member, written to by its own thread so a paused member stalls no one."""

    def __init__(self, sock):
        self.sock, self.id, self.q = sock, None, queue.Queue()
        threading.Thread(target=self._write, daemon=True).start()

    def _write(self):
        while True:
            f = self.q.get()
            if f is None:
                return
            try:
                send(self.sock, f)
            except OSError:
                return


class Leader:
    def __init__(self, srv):
        self.srv, self.members, self.mu, self.done = srv, set(), threading.Lock(), threading.Event()
        self.inode = 0 if tcp else os.stat(peer.addr).st_ino
        peer.leader()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.srv.accept()
            except OSError as e:
                if not closing:
                    peer.lost("listener: %s" % e)
                self.done.set()
                return
            threading.Thread(target=self._serve, args=(Member(sock),), daemon=True).start()

    def _serve(self, m):
        for f in frames(m.sock):
            if m.id is None:
                if f.get("t") != "hello" or not f.get("peer") or (peer.secret and f.get("secret") != peer.secret):
                    break
                m.id = f["peer"]
                m.q.put({"t": "welcome", "peer": peer.id, "secret": peer.secret or None})
                with self.mu:
                    self.members.add(m)
                peer.connection(m.id)
                continue
            if f.get("t") != "msg":
                continue
            peer.message(f.get("from"), f.get("id"), f.get("data"))
            with self.mu:
                for other in self.members:
                    if other is not m:
                        other.q.put(f)
            m.q.put({"t": "ack", "id": f.get("id")})
        with self.mu:
            known = m in self.members
            self.members.discard(m)
        m.q.put(None)
        m.sock.close()
        if known:
            peer.disconnection(m.id)

    def broadcast(self, id, data):
        f = {"t": "msg", "from": peer.id, "id": id, "data": data}
        with self.mu:
            for m in self.members:
                m.q.put(f)
        peer.sent(id)

    def close(self):
        # The listener first, then the path if it still names our socket (the lock holder's
        # to remove), and the lock last, at exit: never an orphaned listener.
        try:
            self.srv.shutdown(socket.SHUT_RDWR)  # wakes the accept thread: its call holds the socket open
        except OSError:
            pass
        self.srv.close()
        if not tcp and self.done.wait(1.0):
            try:
                if os.lstat(peer.addr).st_ino == self.inode:
                    os.unlink(peer.addr)
            except OSError:
                pass


# ---- follower ----


class Follower:
    def __init__(self, sock):
        self.sock, self.done, self.mu, self.pending = sock, threading.Event(), threading.Lock(), set()
        self.welcomed = False
        try:
            send(sock, {"t": "hello", "peer": peer.id, "secret": peer.secret or None})
        except OSError:
            pass  # the leader is going away: the reader sees the connection end, and we elect again
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for f in frames(self.sock):
            if not self.welcomed:
                if f.get("t") != "welcome" or (peer.secret and f.get("secret") != peer.secret):
                    break
                self.welcomed = True
                peer.follower(f.get("peer"))
                continue
            if f.get("t") == "msg":
                peer.message(f.get("from"), f.get("id"), f.get("data"))
            elif f.get("t") == "ack":
                with self.mu:
                    ok = f.get("id") in self.pending
                    self.pending.discard(f.get("id"))
                if ok:
                    peer.sent(f.get("id"))
        self.sock.close()
        if self.welcomed and not closing:
            with self.mu:
                failed, self.pending = self.pending, set()
            for id in failed:
                peer.send_failed(id, "leader lost before it acknowledged")
            peer.lost("leader connection closed")
        self.done.set()

    def broadcast(self, id, data):
        if not self.welcomed:
            peer.send_failed(id, "no leader: an election is under way")
            return
        with self.mu:
            self.pending.add(id)
            try:
                send(self.sock, {"t": "msg", "from": peer.id, "id": id, "data": data})
            except OSError as e:
                self.pending.discard(id)
                peer.send_failed(id, e)

    def close(self):
        pass


# ---- the election ----

closing = False
role = None  # the current Leader or Follower
warned = None


def elect():
    """Returns a Leader or a Follower, once this peer is one."""
    global warned
    while True:
        c = try_connect()
        if isinstance(c, socket.socket):
            return Follower(c)
        if not acquire():
            time.sleep(jitter())  # someone else holds the lock: it is about to lead
            continue
        # We hold the lock (or, --broken, think we need none).
        peer.failpoint("before-listen")
        srv = try_listen()
        if isinstance(srv, socket.socket):
            return Leader(srv)
        if not tcp and srv.errno == errno.EADDRINUSE:
            probe = try_connect()
            if isinstance(probe, socket.socket):
                release()  # a leader is there after all (it was dying, or --broken)
                return Follower(probe)
            peer.failpoint("after-probe")
            if probe.errno == errno.ECONNREFUSED and stale_own_socket():
                peer.failpoint("before-unlink")
                try:
                    os.unlink(peer.addr)
                except OSError:
                    pass
                peer.failpoint("before-listen")
                srv = try_listen()
                if isinstance(srv, socket.socket):
                    return Leader(srv)
            elif warned != "planted":
                warned = "planted"
                peer.error("%s is taken by something that is not our stale socket: left alone" % peer.addr)
        elif warned != srv.errno:
            warned = srv.errno
            peer.error("listen %s: %s" % (peer.addr, srv))
        release()
        time.sleep(jitter())


def on_broadcast(id, data):
    r = role
    if r is None:
        peer.send_failed(id, "no leader: an election is under way")
    else:
        r.broadcast(id, data)


def on_close():
    global closing
    closing = True
    if role is not None:
        role.close()


def main():
    global role, warned
    peer.on_broadcast(on_broadcast).on_close(on_close).start()
    while not closing:
        r = elect()
        role, warned = r, None
        r.done.wait()
        role = None
        if isinstance(r, Leader):
            release()
        elif not r.welcomed:
            time.sleep(jitter())
    # Closing: peer.close() runs the shutdown path on its thread and exits the process.
    threading.Event().wait()


if __name__ == "__main__":
    main()

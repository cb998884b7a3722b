#!/usr/bin/env python3
"""A correct unix-socket election peer in Python, with switches that break it on purpose.

The election runs under an flock on ADDR.lock that the leader holds for as long as it leads,
so only the leader ever removes a stale socket, and only one listens. It speaks the
splitbrain peer protocol's events (ready, leader, follower, lost) on stdout. Switches:

  --give-up N   a follower stops looking for a leader after its N-th lost leader (it stays
                alive, connected to nothing): a peer lost for good while the group runs on.
  --nap S       once, a second into its life, a follower drops its connection and sleeps
                S seconds before it looks again: lost for S seconds, healed later.

  --goodbye-only  followers take over only when their leader says goodbye (a graceful
                stop); a leader that is SIGKILLed leaves them waiting for ever.
  --startup S   sleep S seconds before saying ready: an interpreter that starts slowly.
  --daemonize   fork, setsid and fork again; the peer's own process exits 0 at once and the
                grandchild runs the election, outside the peer's process group.
  --careless    no lock: on a refused connect it removes whatever is at the path (a
                planted file or directory too) and listens: the classic probe-then-unlink.
  --resign S    the run's first leader (epoch 1), once it has two followers, resigns a
                second later: it closes its listener, removes the path, releases the lock
                and drops half its followers, who elect a new leader; the other half it
                keeps connected for S seconds more, a group apart from the new leader's,
                then drops them too and rejoins as a follower.

Designs that differ from the usual and are correct all the same:

  --rename      the leader binds a temporary name beside the path, listens, and renames it
                over the path (atomically replacing a stale socket).
  (tcp)         with SPLITBRAIN_TRANSPORT=tcp the leader listens on 127.0.0.1:PORT and on
                [::1]:PORT, one process on both loopbacks; the lock file sits beside
                SPLITBRAIN_SECRET_FILE, in the harness's own folder.
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


def epoch_next(lock_fd):
    # The epoch lives in the lock file, read and written under the lock: it grows from one
    # leader to the next.
    # One fixed-width pwrite, no truncate: a leader killed mid-way leaves the old epoch or
    # the new one, never an empty file that would start the count again.
    data = os.pread(lock_fd, 20, 0).decode().strip() or "0"
    epoch = int(data) + 1
    os.pwrite(lock_fd, b"%020d" % epoch, 0)
    return epoch


def serve(servers, epoch, resign=None):
    """Leads until the process dies; with resign (seconds), returns once it has resigned
    and, that long after, dropped the followers it kept."""
    say("leader", epoch=epoch)
    members = []

    def accept(srv):
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return  # the listener was closed: resigned
            members.append(conn)  # held open: a follower sees EOF only when the leader dies

    if resign is None:
        for srv in servers[1:]:
            threading.Thread(target=accept, args=(srv,), daemon=True).start()
        accept(servers[0])
        return
    # Resigning: the accepts poll, since closing a listener another thread is blocked in
    # accept() on leaves the kernel's socket listening until that accept returns.
    done = threading.Event()

    def poll(srv):
        srv.settimeout(0.05)
        while not done.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            conn.settimeout(None)
            members.append(conn)

    threads = [threading.Thread(target=poll, args=(srv,), daemon=True) for srv in servers]
    for t in threads:
        t.start()
    while len(live(members)) < 2:
        time.sleep(0.05)
    time.sleep(1.0)
    done.set()
    for t in threads:
        t.join()
    return live(members)


def live(conns):
    """The connections whose follower has not hung up (a killed follower's stays in the
    list): half of these are kept, half dropped, so that a new leader is elected."""
    out = []
    for c in conns:
        try:
            if c.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                continue
        except BlockingIOError:
            pass
        except OSError:
            continue
        out.append(c)
    return out


def resign(servers, members, lock_fd, addr, linger):
    """Resigns as a careful leader would (listener closed, then the path, then the lock),
    but drops only half its followers; the rest stay on its accepted connections, served
    by a peer that no longer leads, while the others elect a new leader."""
    for srv in servers:
        srv.close()
    if addr is not None:
        try:
            os.unlink(addr)
        except FileNotFoundError:
            pass
    os.close(lock_fd)
    say("lost", reason="resigned")
    kept = members[: len(members) // 2]
    for conn in members[len(members) // 2:]:
        conn.close()
    time.sleep(linger)
    for conn in kept:
        conn.close()


def alive(addr):
    """Whether a listener still answers at addr: a leader killed a moment ago may have
    released its lock (the kernel closes the lower fd first) while its listener is not yet
    closed. Under the lock, a correct peer waits for it rather than replace it."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect(addr)
        return True
    except OSError:
        return False
    finally:
        c.close()


def lead_unix(addr, lock_fd, rename, linger=None):
    if alive(addr):
        return False
    epoch = epoch_next(lock_fd)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if rename:
        tmp = "%s.tmp.%d" % (addr, os.getpid())
        srv.bind(tmp)
        srv.listen(128)
        os.rename(tmp, addr)  # under the lock: replaces a stale socket, or takes a free path
    else:
        # Under the lock: what is at the path is a stale socket of a dead leader, or nothing.
        try:
            if stat.S_ISSOCK(os.lstat(addr).st_mode):
                os.unlink(addr)
        except FileNotFoundError:
            pass
        srv.bind(addr)
        srv.listen(128)
    if epoch != 1:
        linger = None  # only the run's first leader resigns
    members = serve([srv], epoch, linger)
    if linger is not None:
        resign([srv], members, lock_fd, addr, linger)
    return True


def lead_tcp(port, lock_fd, linger=None):
    # The kernel closes a killed process's fds in ascending order. [::1]'s socket is made
    # first (the lower fd), so a dying leader never shows [::1] alone; 127.0.0.1 is bound
    # first, so a new leader waits until the old one's 127.0.0.1 is gone.
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    for srv, host in ((s4, "127.0.0.1"), (s6, "::1")):
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            srv.bind((host, port))
        except OSError as e:
            s4.close()
            s6.close()
            if e.errno == errno.EADDRINUSE:
                return False  # a leader killed a moment ago still holds the port
            raise
    s4.listen(128)
    s6.listen(128)
    epoch = epoch_next(lock_fd)
    if epoch != 1:
        linger = None  # only the run's first leader resigns
    members = serve([s4, s6], epoch, linger)
    if linger is not None:
        resign([s4, s6], members, lock_fd, None, linger)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--give-up", type=int, default=0)
    ap.add_argument("--nap", type=float, default=0)
    ap.add_argument("--rename", action="store_true")
    ap.add_argument("--goodbye-only", action="store_true")
    ap.add_argument("--startup", type=float, default=0)
    ap.add_argument("--careless", action="store_true")
    ap.add_argument("--daemonize", action="store_true")
    ap.add_argument("--resign", type=float, default=None)
    args = ap.parse_args()
    if args.daemonize:
        if os.fork() > 0:
            os._exit(0)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        # A daemon closes its standard streams: from here on it is a black box.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    time.sleep(args.startup)
    addr = os.environ["SPLITBRAIN_ADDR"]
    tcp = os.environ.get("SPLITBRAIN_TRANSPORT") == "tcp"
    if tcp:
        port = int(addr.rsplit(":", 1)[1])
        lock_path = os.path.join(os.path.dirname(os.environ["SPLITBRAIN_SECRET_FILE"]), "election-%d.lock" % port)
    else:
        lock_path = addr + ".lock"
    say("ready")
    t0 = time.monotonic()
    losses, napped, orphan = 0, False, False
    while True:
        c = socket.socket(socket.AF_INET if tcp else socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            c.connect(("127.0.0.1", port) if tcp else addr)
        except OSError as e:
            c.close()
            if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise
            if orphan:
                time.sleep(0.05)  # waits for a goodbye that never comes
                continue
            if args.careless:
                try:
                    os.unlink(addr)
                except IsADirectoryError:
                    os.rmdir(addr)
                except FileNotFoundError:
                    pass
                srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    srv.bind(addr)
                except OSError:
                    srv.close()
                    continue
                srv.listen(128)
                serve([srv], 1)
                return
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                time.sleep(0.02)
                continue
            linger, args.resign = args.resign, None  # a process resigns once
            led = lead_tcp(port, fd, linger) if tcp else lead_unix(addr, fd, args.rename, linger)
            if led is False:
                os.close(fd)  # the old leader is still on its way out
                args.resign = linger
                time.sleep(0.01)
                continue
            if linger is not None:
                continue  # resigned (the lock is released): rejoin as a follower
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
        if args.goodbye_only:
            orphan = True  # no goodbye came: only connect from now on, never take over
        if args.give_up and losses >= args.give_up:
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

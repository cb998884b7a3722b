"""splitbrain: make a Python election a white-box splitbrain peer (docs/PROTOCOL.md, version 1).

One file, standard library only; Python 3.8 or later. Copy it beside your peer::

    import splitbrain
    peer = splitbrain.from_env()                # SPLITBRAIN_ADDR, _PEER, _TRANSPORT, ...
    peer.on_broadcast(lambda id, data: ...)     # then peer.sent(id) or peer.send_failed(id, err)
    peer.on_close(lambda: ...)                  # your shutdown path; `closed` is printed after it
    peer.start()                                # reads stdin, handles SIGTERM, prints `ready`
    ... your election ...  peer.leader() / peer.follower(leader_id) / peer.lost(reason)

Events go to stdout, one JSON object per line, from any thread; everything else a peer prints
belongs on stderr (a stray print() is a protocol error). Commands are read on a daemon thread,
which also runs the broadcast and close callbacks. Failpoints: call peer.failpoint(name) at the
steps of your election attempt; it does what SPLITBRAIN_FAILPOINTS says (pause until the
harness says `continue`, announce, sleep, crash) and returns at once when it says nothing.
"""

import json
import os
import re
import signal
import sys
import threading
import time

PROTOCOL = 1
"""The protocol version this module speaks."""

_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)")


def parse_duration(s):
    """Returns the Go duration s ("50ms", "1.5s") in seconds; ValueError if it is not one."""
    if s == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError("bad duration %r: use Go syntax, e.g. 50ms" % s)
    return total


def parse_failpoints(spec):
    """Returns SPLITBRAIN_FAILPOINTS ("NAME=ACTION,...", NAME may be *) as a dict of
    name -> (kind, seconds); ValueError names a bad item."""
    actions = {}
    for item in (x.strip() for x in (spec or "").split(",")):
        if not item:
            continue
        name, eq, act = item.partition("=")
        if not eq or not name:
            raise ValueError("failpoint %r: want NAME=ACTION, e.g. before-unlink=pause" % item)
        m = re.fullmatch(r"sleep\((.*)\)", act)
        if m:
            actions[name] = ("sleep", parse_duration(m.group(1)))
        elif act in ("off", "pause", "announce", "crash"):
            actions[name] = (act, 0.0)
        else:
            raise ValueError("failpoint %s: unknown action %r: use pause, announce, sleep(D), crash or off" % (name, act))
    return actions


class Peer:
    """One peer under the harness: its environment, and the protocol on stdout and stdin."""

    def __init__(self, env):
        self.addr = env["SPLITBRAIN_ADDR"]
        """The election address: an absolute socket path (unix) or 127.0.0.1:PORT (tcp)."""
        self.transport = env.get("SPLITBRAIN_TRANSPORT", "unix")
        self.id = env.get("SPLITBRAIN_PEER") or "py-%d" % os.getpid()
        """This peer's id (p3), reused when the harness restarts a dead peer."""
        self.protocol = int(env.get("SPLITBRAIN_PROTOCOL", PROTOCOL))
        if self.protocol != PROTOCOL:
            sys.stderr.write("splitbrain.py speaks protocol %d, the harness %d: update the adapter\n" % (PROTOCOL, self.protocol))
        self.secret = ""
        """The group's shared secret (tcp only), "" when there is none."""
        if env.get("SPLITBRAIN_SECRET_FILE"):
            with open(env["SPLITBRAIN_SECRET_FILE"]) as f:
                self.secret = f.read().strip()
        self.failpoints = parse_failpoints(env.get("SPLITBRAIN_FAILPOINTS"))
        self._out = threading.RLock()  # re-entrant: close() may run in a signal handler mid-event
        self._broadcast = lambda id, data: self.send_failed(id, "this peer does not broadcast")
        self._close = lambda: None
        self._cond = threading.Condition()
        self._resumes = 0
        self._closing = threading.Lock()

    # ---- events ----

    def event(self, event, /, **fields):
        """Prints one protocol event: event("leader", epoch=3). Safe from any thread."""
        fields = {k: v for k, v in fields.items() if v is not None}
        line = json.dumps(dict(event=event, **fields)) + "\n"
        with self._out:
            sys.stdout.write(line)
            sys.stdout.flush()

    def ready(self):
        self.event("ready")

    def leader(self, epoch=None):
        """This peer listens on the address and leads; epoch (optional) is its fencing token."""
        self.event("leader", epoch=epoch)

    def follower(self, leader=None, epoch=None):
        """This peer is connected to leader (a peer id, optional)."""
        self.event("follower", leader=leader, epoch=epoch)

    def connection(self, member):
        self.event("connection", member=member)

    def disconnection(self, member):
        self.event("disconnection", member=member)

    def lost(self, reason=None):
        self.event("lost", reason=None if reason is None else str(reason))

    def message(self, sender, id, data):
        """The broadcast id from peer sender reached this peer."""
        self.event("message", **{"from": sender, "id": id, "data": data})

    def sent(self, id):
        self.event("sent", id=id)

    def send_failed(self, id, error):
        self.event("send-failed", id=id, error=str(error))

    def error(self, err):
        self.event("error", error=str(err))

    # ---- callbacks ----

    def on_broadcast(self, fn):
        """Sets fn(id, data), called for each `broadcast` command; it must end with sent(id)
        or send_failed(id, error), now or later."""
        self._broadcast = fn
        return self

    def on_close(self, fn):
        """Sets the shutdown path, run on `close`, SIGTERM or SIGINT; then `closed` is printed
        and the process exits 0."""
        self._close = fn
        return self

    # ---- failpoints ----

    def failpoint(self, name):
        """Runs the action SPLITBRAIN_FAILPOINTS gives name (or *); blocks while paused."""
        kind, secs = self.failpoints.get(name) or self.failpoints.get("*") or ("off", 0.0)
        if kind == "sleep":
            time.sleep(secs)
        elif kind == "crash":
            os._exit(77)
        elif kind == "announce":
            self.event("failpoint", name=name, paused=False)
        elif kind == "pause":
            with self._cond:
                seen = self._resumes
                self.event("failpoint", name=name, paused=True)
                self._cond.wait_for(lambda: self._resumes != seen)

    # ---- commands ----

    def close(self):
        """Runs the shutdown path once, prints `closed` and exits 0 (whatever other threads do)."""
        if not self._closing.acquire(blocking=False):
            return
        try:
            self._close()
        except Exception as e:  # the peer still closes; the harness sees why it was untidy
            self.error(e)
        self.event("closed")
        os._exit(0)

    def start(self):
        """Reads commands from stdin on a daemon thread (a peer without stdin is fine), turns
        SIGTERM and SIGINT into close(), and prints `ready`."""
        threading.Thread(target=self._read_commands, name="splitbrain-stdin", daemon=True).start()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.close())
            signal.signal(signal.SIGINT, lambda *_: self.close())
        self.ready()
        return self

    def _read_commands(self):
        try:
            for line in sys.stdin:
                self._command(line)
        except (OSError, ValueError):
            pass  # no stdin: the harness judges this peer without commands

    def _command(self, line):
        if not line.strip():
            return
        try:
            c = json.loads(line)
        except ValueError:
            self.error("stdin: not a JSON command: %s" % json.dumps(line.rstrip("\n")[:200]))
            return
        cmd = c.get("cmd") if isinstance(c, dict) else None
        if cmd == "broadcast":
            self._broadcast(c.get("id"), c.get("data"))
        elif cmd == "continue":
            with self._cond:
                self._resumes += 1
                self._cond.notify_all()
        elif cmd == "close":
            self.close()
        else:
            self.error("stdin: unknown command %r" % (cmd,))


def from_env(env=None):
    """Returns the Peer of this process from os.environ. It exits with status 3 and a message
    on stderr when SPLITBRAIN_ADDR is missing (the process is not under the harness) or
    SPLITBRAIN_FAILPOINTS cannot be read."""
    env = os.environ if env is None else env
    if not env.get("SPLITBRAIN_ADDR"):
        sys.stderr.write("SPLITBRAIN_ADDR is not set: run this peer under `splitbrain run --impl ...`\n")
        sys.exit(3)
    try:
        return Peer(env)
    except (ValueError, OSError) as e:
        sys.stderr.write("splitbrain: %s\n" % e)
        sys.exit(3)

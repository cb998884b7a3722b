#!/usr/bin/env node
// A deliberately broken splitbrain peer in Node.js: the "busybody" probe-then-unlink
// election, as it is found in real projects. Node stdlib only (net, fs, readline).
//
//   listen(path)  -> EADDRINUSE -> connect(path) -> ECONNREFUSED -> unlink(path) -> listen(path)
//
// With no lock, two processes that find the same stale socket both unlink and both listen:
// the first leader is left on an orphaned socket that no new peer can reach. It also deletes
// a regular file planted at the path (connect to a non-socket is ECONNREFUSED too).
//
// It speaks the splitbrain peer protocol (docs/PROTOCOL.md) when it can: events on stdout,
// commands on stdin (broadcast, continue, close), failpoints after-probe, before-unlink and
// before-listen from SPLITBRAIN_FAILPOINTS. Without stdin it still runs: the harness then
// judges it from the kernel alone. Its peer-to-peer frames are those of the Go canaries
// (chaos/canary), so it can share a group with them.
'use strict';

const fs = require('fs');
const net = require('net');
const readline = require('readline');

const addr = process.env.SPLITBRAIN_ADDR;
const self = process.env.SPLITBRAIN_PEER || `node-${process.pid}`;
if (!addr || !addr.startsWith('/')) {
  process.stderr.write('SPLITBRAIN_ADDR must be an absolute unix socket path; run this under `splitbrain run --transport unix`\n');
  process.exit(3);
}

const RETRY_MS = 25;

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + '\n');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- failpoints (docs/PROTOCOL.md) ----

function parseDuration(s) {
  const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let m;
  if (s === '0') return 0;
  while (re.lastIndex < s.length && (m = re.exec(s))) ms += parseFloat(m[1]) * units[m[2]];
  if (re.lastIndex !== s.length || s.length === 0) throw new Error(`bad duration ${JSON.stringify(s)}: use Go syntax, e.g. 50ms`);
  return ms;
}

function parseFailpoints(spec) {
  const actions = new Map();
  for (const item of (spec || '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`failpoint ${JSON.stringify(item)}: want NAME=ACTION, e.g. before-unlink=pause`);
    const name = item.slice(0, eq);
    const act = item.slice(eq + 1);
    const sl = /^sleep\((.*)\)$/.exec(act);
    if (sl) actions.set(name, { kind: 'sleep', ms: parseDuration(sl[1]) });
    else if (['off', 'pause', 'announce', 'crash'].includes(act)) actions.set(name, { kind: act });
    else throw new Error(`failpoint ${name}: unknown action ${JSON.stringify(act)}: use pause, announce, sleep(D), crash or off`);
  }
  return actions;
}

let failpoints;
try {
  failpoints = parseFailpoints(process.env.SPLITBRAIN_FAILPOINTS);
} catch (e) {
  process.stderr.write(`SPLITBRAIN_FAILPOINTS: ${e.message}\n`);
  process.exit(3);
}
let paused = []; // resolvers of failpoints waiting for `continue`

async function hit(name) {
  const a = failpoints.get(name) || failpoints.get('*') || { kind: 'off' };
  switch (a.kind) {
    case 'sleep':
      await sleep(a.ms);
      break;
    case 'crash':
      process.exit(77);
      break;
    case 'announce':
      emit({ event: 'failpoint', name, paused: false });
      break;
    case 'pause': {
      const keepAlive = setInterval(() => {}, 1 << 30); // a pending promise alone would let node exit
      await new Promise((resolve) => {
        paused.push(resolve);
        emit({ event: 'failpoint', name, paused: true });
      });
      clearInterval(keepAlive);
      break;
    }
  }
}

// ---- wire: JSON lines, the frames of chaos/canary ----

function onLines(sock, fn) {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let f;
      try {
        f = JSON.parse(line);
      } catch {
        continue;
      }
      fn(f);
    }
  });
}

const send = (sock, frame) => sock.write(JSON.stringify(frame) + '\n');

// ---- election: the bug ----

function tryListen() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err) => resolve({ err }));
    server.listen(addr, () => resolve({ server }));
  });
}

function tryConnect() {
  return new Promise((resolve) => {
    const sock = net.connect(addr);
    sock.once('error', (err) => resolve({ err }));
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      resolve({ sock });
    });
  });
}

async function elect() {
  for (;;) {
    const l = await tryListen();
    if (l.server) return lead(l.server);
    if (l.err.code === 'EADDRINUSE') {
      const c = await tryConnect();
      if (c.sock) return follow(c.sock);
      await hit('after-probe');
      if (c.err.code === 'ECONNREFUSED') {
        // BUG: nobody answered, so the socket "must be stale" - but another process may
        // have made the same probe and be about to listen, or be listening already.
        await hit('before-unlink');
        try {
          fs.unlinkSync(addr);
        } catch {}
        await hit('before-listen');
        const l2 = await tryListen();
        if (l2.server) return lead(l2.server);
      }
    } else {
      emit({ event: 'error', error: `listen ${addr}: ${l.err.message}` });
    }
    await sleep(RETRY_MS);
  }
}

// ---- hub and client ----

let role = 'none';
let members = new Map(); // leader: socket -> peer id
let leaderSock = null; // follower
let pending = new Set(); // follower: broadcast ids not acknowledged yet

function lead(server) {
  role = 'leader';
  members = new Map();
  emit({ event: 'leader' });
  server.on('connection', (sock) => {
    let member = null;
    sock.on('error', () => {});
    onLines(sock, (f) => {
      if (member === null) {
        if (f.t !== 'hello' || !f.peer) return sock.destroy();
        member = f.peer;
        send(sock, { t: 'welcome', peer: self });
        members.set(sock, member);
        emit({ event: 'connection', member });
        return;
      }
      if (f.t !== 'msg') return;
      emit({ event: 'message', from: f.from, id: f.id, data: f.data });
      for (const [other] of members) if (other !== sock) send(other, f);
      send(sock, { t: 'ack', id: f.id });
    });
    sock.on('close', () => {
      if (member !== null && members.delete(sock)) emit({ event: 'disconnection', member });
    });
  });
  server.on('error', (err) => {
    emit({ event: 'lost', reason: `listener: ${err.message}` });
    role = 'none';
    for (const [sock] of members) sock.destroy();
    elect();
  });
}

function follow(sock) {
  let welcomed = false;
  sock.on('error', () => {});
  send(sock, { t: 'hello', peer: self });
  onLines(sock, (f) => {
    if (!welcomed) {
      if (f.t !== 'welcome') return sock.destroy();
      welcomed = true;
      role = 'follower';
      leaderSock = sock;
      emit({ event: 'follower', leader: f.peer });
      return;
    }
    if (f.t === 'msg') emit({ event: 'message', from: f.from, id: f.id, data: f.data });
    else if ((f.t === 'ack' || f.t === 'nack') && pending.delete(f.id)) {
      emit(f.t === 'ack' ? { event: 'sent', id: f.id } : { event: 'send-failed', id: f.id, error: f.error || 'nack' });
    }
  });
  sock.on('close', () => {
    if (welcomed) {
      role = 'none';
      leaderSock = null;
      for (const id of pending) emit({ event: 'send-failed', id, error: 'leader lost before it acknowledged' });
      pending = new Set();
      emit({ event: 'lost', reason: 'leader connection closed' });
    }
    setTimeout(elect, welcomed ? 0 : RETRY_MS);
  });
}

function broadcast(id, data) {
  const f = { t: 'msg', from: self, id, data };
  if (role === 'leader') {
    for (const [sock] of members) send(sock, f);
    emit({ event: 'sent', id });
  } else if (role === 'follower') {
    pending.add(id);
    send(leaderSock, f);
  } else {
    emit({ event: 'send-failed', id, error: 'no leader: an election is under way' });
  }
}

// ---- stdin commands ----

function close() {
  // Exit without server.close(): libuv would unlink the path on close, which is a second,
  // different bug (see the unlink-on-close canary). The socket file stays, as after a
  // crash, for the next probe to find stale.
  emit({ event: 'closed' });
  process.exit(0);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  let c;
  try {
    c = JSON.parse(line);
  } catch {
    return emit({ event: 'error', error: `stdin: not a JSON command object: ${JSON.stringify(line.slice(0, 200))}` });
  }
  switch (c.cmd) {
    case 'continue': {
      const waiting = paused;
      paused = [];
      waiting.forEach((resolve) => resolve());
      break;
    }
    case 'broadcast':
      broadcast(c.id, c.data);
      break;
    case 'close':
      close();
      break;
    default:
      emit({ event: 'error', error: `stdin: unknown command ${JSON.stringify(c.cmd)}` });
  }
});
process.stdin.on('error', () => {}); // no stdin at all is fine
process.on('SIGTERM', close);
process.on('SIGINT', close);

emit({ event: 'ready' });
elect();

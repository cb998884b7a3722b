#!/usr/bin/env node
// example.js: a correct socket leader election in plain Node.js, made a white-box splitbrain
// peer by ./splitbrain.js. Node stdlib only (net, fs, crypto).
//
//   splitbrain run --impl 'node examples/adapters/node/example.js' --peers 5 --duration 15s
//   splitbrain run --impl 'node examples/adapters/node/example.js --broken'   # caught: exit 1
//
// The election, on a unix socket path:
//   1. connect to the path; if a leader answers, follow it.
//   2. Otherwise take the election lock. Only the lock holder may touch the path, and a
//      leader holds the lock for as long as it leads, so nobody can be listening behind a
//      refused connection while we hold it: the socket there is stale.
//   3. Holding the lock: listen; if the path is taken, remove it only if it is a socket of
//      our own uid that refuses connections (never a file, a directory or another user's
//      socket), then listen again.
// Node has no flock(2), so the lock is a listening socket in Linux's abstract namespace,
// named after the path: binding it is atomic, and the kernel releases it when the holder
// dies, however it dies. (In Python, fcntl.flock on a lock file beside the path does the
// same: see ../python.)
//
// --broken (or SPLITBRAIN_EXAMPLE_BROKEN=1) skips the lock: the classic probe-then-unlink
// race, which splitbrain must catch.
//
// Over tcp (127.0.0.1:PORT) binding the port is itself the lock: listen, else connect. The
// group's secret (SPLITBRAIN_SECRET_FILE) is checked in the handshake.
//
// Leader and followers speak JSON lines: hello {peer, secret}, welcome {peer}, msg {from,
// id, data} (relayed by the leader to every other member), ack {id}.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const splitbrain = require('./splitbrain');

const peer = splitbrain.fromEnv();
const broken = process.argv.includes('--broken') || process.env.SPLITBRAIN_EXAMPLE_BROKEN === '1';
const tcp = peer.transport === 'tcp';
const RETRY_MS = 20;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = () => RETRY_MS + Math.floor(Math.random() * RETRY_MS);

// ---- the address ----

function listenOpts() {
  if (!tcp) return { path: peer.addr };
  const i = peer.addr.lastIndexOf(':');
  return { host: peer.addr.slice(0, i), port: Number(peer.addr.slice(i + 1)), exclusive: true };
}

function tryListen(opts) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err) => resolve({ err }));
    server.listen(opts, () => {
      server.removeAllListeners('error');
      resolve({ server });
    });
  });
}

function tryConnect() {
  return new Promise((resolve) => {
    const o = listenOpts();
    const sock = tcp ? net.connect({ host: o.host, port: o.port }) : net.connect(peer.addr);
    sock.once('error', (err) => resolve({ err }));
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      resolve({ sock });
    });
  });
}

// ---- the election lock (unix) ----

// lockName is the abstract socket name of the path's lock: a hash, so any path fits.
const lockName = '\0splitbrain-example-lock-' + crypto.createHash('sha256').update(peer.addr).digest('hex').slice(0, 32);
let lock = null; // the abstract listener while we hold the lock

async function acquire() {
  if (broken || tcp) return true;
  await peer.failpoint('before-lock');
  const r = await tryListen({ path: lockName });
  if (!r.server) return false;
  lock = r.server;
  await peer.failpoint('after-lock');
  return true;
}

function release() {
  if (lock) lock.close();
  lock = null;
}

// staleOwnSocket says whether the path is a unix socket of our uid: the only thing at the
// path the lock holder may remove (once it has refused a connection).
function staleOwnSocket() {
  try {
    const st = fs.lstatSync(peer.addr);
    return st.isSocket() && st.uid === process.getuid();
  } catch {
    return false;
  }
}

let closing = false;
let warned = '';

async function elect() {
  while (!closing) {
    const c = await tryConnect();
    if (c.sock) return follow(c.sock);
    if (!(await acquire())) {
      await sleep(jitter()); // someone else holds the lock: it is about to lead
      continue;
    }
    // We hold the lock (or, --broken, think we need none).
    await peer.failpoint('before-listen');
    const l = await tryListen(listenOpts());
    if (l.server) return lead(l.server);
    if (!tcp && l.err.code === 'EADDRINUSE') {
      const probe = await tryConnect();
      if (probe.sock) {
        release(); // a leader is there after all (it was dying, or --broken)
        return follow(probe.sock);
      }
      await peer.failpoint('after-probe');
      if (probe.err.code === 'ECONNREFUSED' && staleOwnSocket()) {
        await peer.failpoint('before-unlink');
        try {
          fs.unlinkSync(peer.addr);
        } catch {}
        await peer.failpoint('before-listen');
        const l2 = await tryListen(listenOpts());
        if (l2.server) return lead(l2.server);
      } else if (warned !== 'planted') {
        warned = 'planted';
        peer.error(`${peer.addr} is taken by something that is not our stale socket: left alone`);
      }
    } else if (warned !== l.err.code) {
      warned = l.err.code;
      peer.error(`listen ${peer.addr}: ${l.err.message}`);
    }
    release();
    await sleep(jitter());
  }
}

// ---- wire: JSON lines ----

function onFrames(sock, fn) {
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

// ---- leader and follower ----

let role = 'none';
let server = null;
let members = new Map(); // leader: socket -> member id
let leaderSock = null; // follower
let pending = new Set(); // follower: broadcast ids the leader has not acknowledged yet

function lead(srv) {
  role = 'leader';
  server = srv;
  members = new Map();
  warned = '';
  peer.leader();
  srv.on('connection', (sock) => {
    let member = null;
    sock.on('error', () => {});
    onFrames(sock, (f) => {
      if (member === null) {
        if (f.t !== 'hello' || !f.peer || (peer.secret && f.secret !== peer.secret)) return sock.destroy();
        member = f.peer;
        send(sock, { t: 'welcome', peer: peer.id, secret: peer.secret || undefined });
        members.set(sock, member);
        peer.connection(member);
        return;
      }
      if (f.t !== 'msg') return;
      peer.message(f.from, f.id, f.data);
      for (const [other] of members) if (other !== sock) send(other, f);
      send(sock, { t: 'ack', id: f.id });
    });
    sock.on('close', () => {
      if (member !== null && members.delete(sock)) peer.disconnection(member);
    });
  });
  srv.on('error', (err) => {
    peer.lost(`listener: ${err.message}`);
    role = 'none';
    server = null;
    for (const [sock] of members) sock.destroy();
    release();
    elect();
  });
}

function follow(sock) {
  let welcomed = false;
  sock.on('error', () => {});
  send(sock, { t: 'hello', peer: peer.id, secret: peer.secret || undefined });
  onFrames(sock, (f) => {
    if (!welcomed) {
      if (f.t !== 'welcome' || (peer.secret && f.secret !== peer.secret)) return sock.destroy();
      welcomed = true;
      role = 'follower';
      leaderSock = sock;
      warned = '';
      peer.follower(f.peer);
      return;
    }
    if (f.t === 'msg') peer.message(f.from, f.id, f.data);
    else if (f.t === 'ack' && pending.delete(f.id)) peer.sent(f.id);
  });
  sock.on('close', () => {
    if (welcomed) {
      role = 'none';
      leaderSock = null;
      for (const id of pending) peer.sendFailed(id, 'leader lost before it acknowledged');
      pending = new Set();
      peer.lost('leader connection closed');
    }
    if (!closing) setTimeout(elect, welcomed ? 0 : jitter());
  });
}

peer.onBroadcast((id, data) => {
  const f = { t: 'msg', from: peer.id, id, data };
  if (role === 'leader') {
    for (const [sock] of members) send(sock, f);
    peer.sent(id);
  } else if (role === 'follower') {
    pending.add(id);
    send(leaderSock, f);
  } else {
    peer.sendFailed(id, 'no leader: an election is under way');
  }
});

peer.onClose(() => {
  // Exit without closing the listener or removing the path: libuv removes the path before it
  // closes the socket, which would leave our listener orphaned for a moment (and remove a
  // successor's socket, were there one). The path stays, as after a crash, and the next lock
  // holder finds it stale; the lock is released when the process exits.
  closing = true;
});

peer.start();
elect();

// splitbrain.js: make a Node.js election a white-box splitbrain peer (docs/PROTOCOL.md,
// version 1). CommonJS, no dependencies; node 18 or later.
//
//   const splitbrain = require('./splitbrain');
//   const peer = splitbrain.fromEnv();          // SPLITBRAIN_ADDR, _PEER, _TRANSPORT, ...
//   peer.onBroadcast((id, data) => { ... });    // then peer.sent(id) or peer.sendFailed(id, err)
//   peer.onClose(async () => { ... });          // your shutdown path; `closed` is printed after it
//   peer.start();                               // reads stdin, handles SIGTERM, prints `ready`
//   ... your election ...  peer.leader(epoch) / peer.follower(leaderId) / peer.lost(reason)
//
// Events go to stdout, one JSON object per line; everything else a peer prints belongs on
// stderr (a stray console.log is a protocol error). Failpoints: `await peer.failpoint(name)`
// at the steps of your election attempt; it does what SPLITBRAIN_FAILPOINTS says (pause until
// the harness says `continue`, announce, sleep, crash) and costs nothing when off.
'use strict';

const fs = require('fs');
const readline = require('readline');

// PROTOCOL is the protocol version this module speaks.
const PROTOCOL = 1;

// parseDuration turns a Go duration ("50ms", "1.5s", "2m") into milliseconds.
function parseDuration(s) {
  const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let m;
  while (re.lastIndex < s.length && (m = re.exec(s))) ms += parseFloat(m[1]) * units[m[2]];
  if (s.length === 0 || re.lastIndex !== s.length) throw new Error(`bad duration ${JSON.stringify(s)}: use Go syntax, e.g. 50ms`);
  return ms;
}

// parseFailpoints reads SPLITBRAIN_FAILPOINTS ("NAME=ACTION,..."; NAME may be *) into a Map
// of name -> {kind, ms}.
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

// Peer is one peer under the harness: its environment, and the protocol on stdout and stdin.
class Peer {
  constructor(env) {
    // addr is the election address: an absolute socket path (unix) or 127.0.0.1:PORT (tcp).
    this.addr = env.SPLITBRAIN_ADDR;
    this.transport = env.SPLITBRAIN_TRANSPORT || 'unix';
    // id is this peer's id (p3), reused when the harness restarts a dead peer.
    this.id = env.SPLITBRAIN_PEER || `node-${process.pid}`;
    this.protocol = Number(env.SPLITBRAIN_PROTOCOL || PROTOCOL);
    if (this.protocol !== PROTOCOL) {
      process.stderr.write(`splitbrain.js speaks protocol ${PROTOCOL}, the harness ${this.protocol}: update the adapter\n`);
    }
    // secret is the group's shared secret (tcp only), '' when there is none.
    this.secret = env.SPLITBRAIN_SECRET_FILE ? fs.readFileSync(env.SPLITBRAIN_SECRET_FILE, 'utf8').trim() : '';
    this.failpoints = parseFailpoints(env.SPLITBRAIN_FAILPOINTS);
    this._broadcast = (id) => this.sendFailed(id, 'this peer does not broadcast');
    this._close = () => {};
    this._paused = [];
    this._closing = false;
  }

  // event prints one protocol event: event('leader', {epoch: 3}).
  event(name, fields) {
    process.stdout.write(JSON.stringify(Object.assign({ event: name }, fields)) + '\n');
  }

  ready() { this.event('ready'); }
  // leader: this peer listens on the address and leads; epoch (optional) is its fencing token.
  leader(epoch) { this.event('leader', epoch === undefined ? {} : { epoch }); }
  // follower: this peer is connected to leader (a peer id, optional).
  follower(leader, epoch) {
    const f = {};
    if (leader !== undefined) f.leader = leader;
    if (epoch !== undefined) f.epoch = epoch;
    this.event('follower', f);
  }
  connection(member) { this.event('connection', { member }); }
  disconnection(member) { this.event('disconnection', { member }); }
  lost(reason) { this.event('lost', reason === undefined ? {} : { reason: String(reason) }); }
  // message: the broadcast id from peer `from` reached this peer.
  message(from, id, data) { this.event('message', { from, id, data }); }
  sent(id) { this.event('sent', { id }); }
  sendFailed(id, error) { this.event('send-failed', { id, error: String(error) }); }
  error(err) { this.event('error', { error: String(err && err.message ? err.message : err) }); }

  // onBroadcast sets fn(id, data), called for each `broadcast` command; it must end with
  // sent(id) or sendFailed(id, error), now or later.
  onBroadcast(fn) { this._broadcast = fn; return this; }
  // onClose sets the shutdown path, run on `close`, SIGTERM or SIGINT (it may return a
  // promise); then `closed` is printed and the process exits 0.
  onClose(fn) { this._close = fn; return this; }

  // failpoint runs the action SPLITBRAIN_FAILPOINTS gives name (or *): it resolves at once
  // when there is none.
  async failpoint(name) {
    const a = this.failpoints.get(name) || this.failpoints.get('*');
    if (!a || a.kind === 'off') return;
    switch (a.kind) {
      case 'sleep':
        await new Promise((resolve) => setTimeout(resolve, a.ms));
        return;
      case 'crash':
        process.exit(77);
        return;
      case 'announce':
        this.event('failpoint', { name, paused: false });
        return;
      case 'pause': {
        const keepAlive = setInterval(() => {}, 1 << 30); // a pending promise alone lets node exit
        await new Promise((resolve) => {
          this._paused.push(resolve);
          this.event('failpoint', { name, paused: true });
        });
        clearInterval(keepAlive);
      }
    }
  }

  // close runs the shutdown path once, prints `closed` and exits 0.
  async close() {
    if (this._closing) return;
    this._closing = true;
    try {
      await this._close();
    } catch (e) {
      this.error(e);
    }
    this.event('closed');
    process.exit(0);
  }

  // start reads commands from stdin (a peer without stdin is fine), turns SIGTERM and SIGINT
  // into close(), and prints `ready`.
  start() {
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => this._command(line));
    process.stdin.on('error', () => {});
    process.on('SIGTERM', () => this.close());
    process.on('SIGINT', () => this.close());
    this.ready();
    return this;
  }

  _command(line) {
    if (!line.trim()) return;
    let c;
    try {
      c = JSON.parse(line);
    } catch {
      this.error(`stdin: not a JSON command: ${JSON.stringify(line.slice(0, 200))}`);
      return;
    }
    switch (c && c.cmd) {
      case 'broadcast':
        this._broadcast(c.id, c.data);
        break;
      case 'continue': {
        const waiting = this._paused;
        this._paused = [];
        waiting.forEach((resolve) => resolve());
        break;
      }
      case 'close':
        this.close();
        break;
      default:
        this.error(`stdin: unknown command ${JSON.stringify(c && c.cmd)}`);
    }
  }
}

// fromEnv returns the Peer of this process from process.env. It exits with status 3 and a
// message on stderr when SPLITBRAIN_ADDR is missing (the process is not under the harness)
// or SPLITBRAIN_FAILPOINTS cannot be read.
function fromEnv(env = process.env) {
  if (!env.SPLITBRAIN_ADDR) {
    process.stderr.write('SPLITBRAIN_ADDR is not set: run this peer under `splitbrain run --impl ...`\n');
    process.exit(3);
  }
  try {
    return new Peer(env);
  } catch (e) {
    process.stderr.write(`splitbrain: ${e.message}\n`);
    process.exit(3);
  }
}

module.exports = { fromEnv, Peer, PROTOCOL, parseDuration, parseFailpoints };

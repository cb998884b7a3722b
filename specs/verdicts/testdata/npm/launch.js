#!/usr/bin/env node
// launch.js does what `npm start` does to a peer's process tree, for machines without npm
// (Debian's nodejs package has none): a node process reads this folder's package.json and
// runs its start script with `sh -c` in this folder, forwards SIGTERM and SIGINT to it, and
// exits as it did. The peer is then node -> sh -> node, as under npm.
'use strict';
const { spawn } = require('child_process');
const path = require('path');

const dir = __dirname;
const script = require(path.join(dir, 'package.json')).scripts.start;
const child = spawn('sh', ['-c', script], { cwd: dir, stdio: 'inherit' });
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => child.kill(sig));
}
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal); // die of the same signal, as npm's script runner does
    return;
  }
  process.exit(code);
});

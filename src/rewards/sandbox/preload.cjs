/*
 * Loaded (with --require) into every sandboxed program before its own code runs. Node 20's
 * permission model already denies file access outside the scratch folder, child processes,
 * workers and native addons, but not the network and not signals to other processes: those
 * are closed here. It also freezes node:assert so a program cannot stub out its own tests,
 * turns process.exit into a recorded failure, and reports an uncaught error as one JSON line
 * on stderr so the host can name the reason without guessing from a stack trace.
 */
'use strict';

const REPORT_PREFIX = '@@rlaif-sandbox ';
const nonce = process.env.RLAIF_SANDBOX_NONCE || '';
delete process.env.RLAIF_SANDBOX_NONCE;

const realExit = process.reallyExit.bind(process);
// Through the streams, not fs.writeSync: stdio pipes are non-blocking, so a raw write after a
// flood of output can fail with EAGAIN, while the streams (synchronous for pipes on Linux) keep
// order with what the program printed.
const stdoutWrite = process.stdout.write.bind(process.stdout);
const stderrWrite = process.stderr.write.bind(process.stderr);
const writeStderr = (text) => stderrWrite(text);
const writeStdout = (text) => stdoutWrite(text);

function report(kind, details) {
  writeStderr('\n' + REPORT_PREFIX + JSON.stringify({ kind, ...details }) + '\n');
}

function denied(what) {
  const error = new Error(`sandbox: ${what} is not allowed`);
  error.code = 'ERR_SANDBOX_DENIED';
  error.sandboxKind = what.startsWith('network') ? 'network' : 'permission';
  return error;
}

function block(target, names, what) {
  for (const name of names) {
    if (typeof target[name] !== 'function') continue;
    Object.defineProperty(target, name, {
      value: function blocked() {
        throw denied(what);
      },
      writable: false,
      configurable: false,
    });
  }
}

// Network: every TCP/TLS/HTTP client and server goes through net.Socket or net.Server.
const net = require('net');
block(net.Socket.prototype, ['connect'], 'network access (socket)');
block(net.Server.prototype, ['listen'], 'network access (server)');
block(net, ['connect', 'createConnection'], 'network access (socket)');
const dgram = require('dgram');
block(dgram, ['createSocket'], 'network access (udp)');
const dns = require('dns');
block(
  dns,
  ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'reverse'],
  'network access (dns)',
);
block(
  dns.promises,
  ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'reverse'],
  'network access (dns)',
);
for (const name of ['http', 'https', 'http2', 'tls']) {
  const module = require(name);
  block(module, ['request', 'get', 'connect', 'createServer'], `network access (${name})`);
}
for (const name of ['fetch', 'WebSocket', 'EventSource']) {
  Object.defineProperty(globalThis, name, {
    value: function blocked() {
      throw denied(`network access (${name})`);
    },
    writable: false,
    configurable: false,
  });
}

// Signals: a program must not reach the host or its siblings.
block(process, ['kill', '_kill'], 'sending signals (process.kill)');

// Ending the process early would skip the tests; record it as its own failure.
for (const name of ['exit', 'reallyExit', 'abort']) {
  Object.defineProperty(process, name, {
    value: function exitCalled(code) {
      report('exit', {
        message: `program called process.${name}(${code === undefined ? '' : code})`,
      });
      realExit(3);
    },
    writable: false,
    configurable: false,
  });
}

// Tests use node:assert; a frozen module keeps a program from replacing its checks.
for (const name of ['assert', 'assert/strict']) Object.freeze(require(name));

process.on('uncaughtException', (error) => {
  const isObject = typeof error === 'object' && error !== null;
  report('uncaught', {
    name: isObject ? String(error.name) : typeof error,
    code: isObject && error.code !== undefined ? String(error.code) : undefined,
    sandboxKind: isObject ? error.sandboxKind : undefined,
    message: String(isObject ? error.message : error).slice(0, 2000),
  });
  realExit(1);
});

// The host appends a call to this after the tests; only a completed run prints the nonce.
Object.defineProperty(globalThis, '__rlaifSandboxDone', {
  value: function done() {
    writeStdout('\n' + REPORT_PREFIX + nonce + '\n');
  },
  writable: false,
  configurable: false,
});

// Helpers for the browser tests: a real `pydepot serve` on a free loopback port (as
// tests/e2e/conftest.py starts it), users made with the real CLI, packages built offline with
// flit_core, uploads with twine, installs with pip, and Chromium through playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const HERE = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const ROOT = path.resolve(HERE, '..', '..');
export const PYDEPOT = process.env.PYDEPOT_BIN || path.join(ROOT, 'build', 'pydepot');
export const CHROMIUM = process.env.PYDEPOT_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.PYDEPOT_BROWSER_ARTIFACTS || path.join(HERE, 'artifacts');
// The interpreter whose pip the tests drive: the python3 on PATH, else Debian's (as conftest.py).
export const PIP_PYTHON = which('python3') || '/usr/bin/python3';

// Never download a browser: Debian's Chromium is the one under test.
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

export const USERS = {
  admin: { role: 'admin', password: 'admin-secret-pw' },
  uploader: { role: 'upload', password: 'upload-secret-pw' },
  reader: { role: 'read', password: 'reader-secret-pw' },
  leaver: { role: 'read', password: 'leaver-secret-pw' },
};

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir || '.', cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

// The environment for pip and twine: pydepot alone (no local wheel directory, no user
// configuration, no proxy for loopback).
export function toolEnv() {
  const env = { ...process.env };
  for (const name of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST',
    'TWINE_USERNAME', 'TWINE_PASSWORD', 'TWINE_REPOSITORY', 'TWINE_REPOSITORY_URL']) {
    delete env[name];
  }
  env.PIP_CONFIG_FILE = '/dev/null';
  env.PIP_DISABLE_PIP_VERSION_CHECK = '1';
  env.PIP_NO_INPUT = '1';
  env.NO_PROXY = '127.0.0.1,localhost';
  env.no_proxy = env.NO_PROXY;
  env.PYTHONDONTWRITEBYTECODE = '1';
  return env;
}

// Runs a command to completion; returns { status, stdout, stderr }. Asynchronous, so the test
// runner keeps its timers while pip or twine work.
export function run(cmd, args, { input, env, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env || process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status: status ?? -1, signal, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

export function addUser(storage, name) {
  const { role, password } = USERS[name];
  const res = spawnSync(PYDEPOT, ['user', 'add', name, '--role', role, '--storage', storage],
    { input: password + '\n', encoding: 'utf8', timeout: 60_000 });
  if (res.status !== 0) {
    throw new Error(`pydepot user add ${name} failed (${res.status}): ${res.stderr}`);
  }
}

// A running `pydepot serve`; `url` is http://127.0.0.1:PORT (no trailing slash).
export class Server {
  static async start(storage, logFile) {
    const server = new Server();
    server.storage = storage;
    const args = ['serve', '--storage', storage, '--listen', '127.0.0.1:0', '--cache-ttl-ms', '0'];
    server.proc = spawn(PYDEPOT, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = fs.createWriteStream(logFile);
    server.proc.stderr.pipe(log);
    server.exited = new Promise((resolve) => server.proc.on('exit', resolve));
    // Never outlive the tests, even when they end without `after` (a crash, a timeout).
    process.on('exit', () => {
      if (server.proc.exitCode === null && server.proc.signalCode === null) {
        server.proc.kill('SIGKILL');
      }
    });
    const firstLine = await new Promise((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error('pydepot did not start within 30 s')), 30_000);
      const onData = (chunk) => {
        buffered += chunk;
        const nl = buffered.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          server.proc.stdout.off('data', onData);
          server.proc.stdout.resume(); // keep draining what follows
          resolve(buffered.slice(0, nl).trim());
        }
      };
      server.proc.stdout.setEncoding('utf8').on('data', onData);
      server.proc.on('error', (err) => { clearTimeout(timer); reject(err); });
      server.proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`pydepot exited (${code}) before listening; see ${logFile}`));
      });
    });
    if (!firstLine.startsWith('listening on http://')) {
      server.proc.kill('SIGKILL');
      throw new Error(`pydepot did not start: ${JSON.stringify(firstLine)}`);
    }
    server.url = firstLine.slice('listening on '.length).replace(/\/$/, '');
    server.netloc = server.url.slice('http://'.length);
    return server;
  }

  indexUrl(user) {
    return `http://${user}:${USERS[user].password}@${this.netloc}/simple/`;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) {
      return;
    }
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

// Builds the packages described by `specs` (see build_packages.py); returns their file lists.
export async function buildPackages(workdir, specs) {
  const res = await run('/usr/bin/python3', [path.join(HERE, 'build_packages.py'), workdir],
    { input: JSON.stringify(specs), env: toolEnv() });
  if (res.status !== 0) {
    throw new Error(`building packages failed: ${res.stdout}${res.stderr}`);
  }
  return JSON.parse(res.stdout);
}

export function twineUpload(server, files, user, password) {
  return run('twine', ['upload', '--non-interactive', '--disable-progress-bar',
    '--repository-url', `${server.url}/legacy/`, '-u', user, '-p', password, ...files],
    { env: toolEnv() });
}

export function pip(...args) {
  return run(PIP_PYTHON, ['-m', 'pip', ...args, '--no-cache-dir'], { env: toolEnv() });
}

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Loopback only: no proxy, no background traffic to Google.
    args: ['--no-proxy-server', '--disable-background-networking', '--disable-component-update',
      '--no-first-run'],
  });
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

#!/usr/bin/env node
/**
 * netdumpd: a netdumpd-compatible server. Flags, defaults, start-up checks
 * and messages follow netdumpd(8); see USAGE.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';

import { foregroundLogger, syslogLogger, type Logger } from '../server/log.js';
import { pidfileHolder, removePidfile, writePidfile } from '../server/pidfile.js';
import { DEFAULT_MAX_SESSIONS, NetdumpServer, type ServerOptions } from '../server/server.js';
import { strerror } from '../../errors/strerror.js';
import { describeArgumentError, usageLines } from './argument-errors.js';
import { versionLine } from './version.js';

const USAGE = `usage: netdumpd [-D] [-a bind_addr] [-d dumpdir] [-i script] [-P pidfile]
                [-p default_path] [--port N] [--timeout SECONDS] [--dns-timeout SECONDS]
                [--max-sessions N]

Receives FreeBSD kernel dumps sent with netdump(4) and stores them as
netdumpd(8) does: <dumpdir>/<path>/vmcore.<host>.<N>, info.<host>.<N>,
key.<host>.<N> (encrypted dumps), bounds.<host>, and *.last symlinks.

  -D               stay in the foreground and log to stdout (else: run as a
                   daemon and log to syslog, facility daemon)
  -a bind_addr     listen on this IPv4 address only (default: all addresses)
  -d dumpdir       dump directory; must exist (default: /var/crash)
  -i script        run after each dump as: script reason client-ip hostname
                   infofile corefile (reason: success, timeout or error), in the
                   dump directory with an empty environment
  -P pidfile       (default: /var/run/netdumpd.pid)
  -p default_path  subdirectory of dumpdir for clients that send no usable
                   path (default: .); directories are never created
  --port N         herald port (default: 20023)
  --timeout S      abandon a dump after S idle seconds (default: 600)
  --dns-timeout S  wait at most S seconds for a client's reverse DNS name
                   before using its address (default: 2)
  --max-sessions N dumps received at once (default: ${DEFAULT_MAX_SESSIONS}); a herald
                   past the limit ends the dump idle longest that has sent no
                   data; if every dump has, it is not answered, and logged at
                   most once every 10 seconds
  -h, --help       show this help
  -V, --version    show the version

A client's herald path must be relative, without "..", and stay inside the
dump directory; otherwise the default path is used.`;

const DAEMON_CHILD = 'NETDUMPD_DAEMON_CHILD';

interface Settings {
  server: Omit<ServerOptions, 'log'>;
  dumpDirGiven: boolean;
  foreground: boolean;
  pidFile: string;
}

function fail(message: string, code = 1): never {
  process.stderr.write(`netdumpd: ${message}\n`);
  process.exit(code);
}

function usageError(message: string): never {
  process.stderr.write(usageLines('netdumpd', message));
  process.exit(2);
}

function positiveNumber(name: string, value: string | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!(number > 0) || !Number.isFinite(number) || (integer && !Number.isInteger(number))) {
    usageError(`${name} must be a positive ${integer ? 'integer' : 'number'}, not '${value}'`);
  }
  return number;
}

/** Each session holds 4 or 5 descriptors: stay well inside the usual limit of 1024. */
const MAX_SESSIONS_LIMIT = 200;

function maxSessions(value: string | undefined): number {
  const count = positiveNumber('--max-sessions', value, DEFAULT_MAX_SESSIONS, true);
  if (count > MAX_SESSIONS_LIMIT) usageError(`--max-sessions must be at most ${MAX_SESSIONS_LIMIT}, not ${count}`);
  return count;
}

function parseSettings(argv: string[]): Settings {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        D: { type: 'boolean', short: 'D' },
        a: { type: 'string', short: 'a' },
        d: { type: 'string', short: 'd' },
        i: { type: 'string', short: 'i' },
        P: { type: 'string', short: 'P' },
        p: { type: 'string', short: 'p' },
        port: { type: 'string' },
        timeout: { type: 'string' },
        'dns-timeout': { type: 'string' },
        'max-sessions': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (error) {
    usageError(describeArgumentError(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.version) {
    process.stdout.write(versionLine('netdumpd'));
    process.exit(0);
  }
  if (positionals.length > 0) usageError(`unexpected argument '${positionals[0]}'`);
  if (values.a !== undefined && !isIPv4(values.a)) fail('invalid bind IP specified');
  const port = positiveNumber('--port', values.port, 20023, true);
  if (port > 65535) usageError(`--port must be at most 65535, not ${port}`);
  return {
    foreground: values.D ?? false,
    dumpDirGiven: values.d !== undefined,
    pidFile: values.P ?? '/var/run/netdumpd.pid',
    server: {
      dumpDir: values.d ?? '/var/crash',
      bindAddress: values.a,
      handlerScript: values.i,
      defaultPath: values.p ?? '.',
      heraldPort: port,
      clientTimeout: positiveNumber('--timeout', values.timeout, 600),
      dnsTimeout: positiveNumber('--dns-timeout', values['dns-timeout'], 2),
      maxSessions: maxSessions(values['max-sessions']),
    },
  };
}

/** netdumpd's start-up checks, in its order, with its messages. */
function checkSettings(settings: Settings): void {
  const { server } = settings;
  if (server.bindAddress !== undefined) process.stderr.write(`netdumpd: listening on IP ${server.bindAddress}\n`);
  if (server.handlerScript !== undefined) {
    try {
      accessSync(server.handlerScript, constants.X_OK);
    } catch (error) {
      fail(`cannot access ${server.handlerScript}: ${strerror(error)}`);
    }
  }
  const holder = pidfileHolder(settings.pidFile);
  if (holder !== undefined) fail(`netdumpd is already running (pid ${holder}, pidfile ${settings.pidFile})`);
  if (!settings.dumpDirGiven) process.stderr.write('netdumpd: default: dumping to /var/crash/\n');
  let isDirectory: boolean;
  try {
    isDirectory = statSync(server.dumpDir).isDirectory();
  } catch (error) {
    fail(`invalid dump location specified: ${server.dumpDir}: ${strerror(error)}`);
  }
  if (!isDirectory) fail(`Dump location is not a directory: ${server.dumpDir}`);
  try {
    accessSync(server.dumpDir, constants.W_OK);
  } catch (error) {
    process.stderr.write(`netdumpd: warning: may be unable to write into dump location: ${strerror(error)}\n`);
  }
}

function serve(settings: Settings, log: Logger, onReady: () => void, onFailure: (message: string) => void): void {
  if (settings.server.bindAddress === undefined && settings.foreground) {
    process.stderr.write('netdumpd: default: listening on all interfaces\n');
  }
  let server: NetdumpServer;
  try {
    // The dump directory was checked, but it may be gone by now (or the daemon's copy skipped the check).
    server = new NetdumpServer({ ...settings.server, log });
  } catch (error) {
    onFailure(`cannot hold the dump directory ${settings.server.dumpDir}: ${strerror(error)}`);
    return;
  }
  try {
    writePidfile(settings.pidFile);
  } catch (error) {
    onFailure(`pidfile_write(): ${strerror(error)}`);
    return;
  }
  // Before start() says "Waiting for clients.": a signal sent on seeing that line must find them.
  const shutDown = () => {
    server.stop();
    removePidfile(settings.pidFile);
    process.exit(0);
  };
  process.once('SIGINT', shutDown);
  process.once('SIGTERM', shutDown);
  try {
    server.start();
  } catch (error) {
    process.off('SIGINT', shutDown);
    process.off('SIGTERM', shutDown);
    removePidfile(settings.pidFile);
    onFailure((error as Error).message);
    return;
  }
  onReady();
}

/** Like daemon(3): a detached copy of us serves; we exit once it is listening or has failed. */
function daemonize(argv: string[]): void {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [DAEMON_CHILD]: '1' },
  });
  child.on('message', (message: { ready?: boolean; error?: string }) => {
    if (message.error !== undefined) fail(message.error);
    child.disconnect();
    child.unref();
    process.exit(0);
  });
  child.on('exit', (code) => fail(`the daemon exited during start-up (status ${code})`));
}

function main(): void {
  const argv = process.argv.slice(2);
  const settings = parseSettings(argv);
  if (process.env[DAEMON_CHILD] === '1') {
    const log = syslogLogger();
    serve(
      settings,
      log,
      () => {
        process.send?.({ ready: true });
        process.disconnect?.();
      },
      (message) => {
        log.error(`${message}\n`);
        if (process.send === undefined) process.exit(1);
        process.send({ error: message }, () => process.exit(1));
      },
    );
    return;
  }
  checkSettings(settings);
  if (!settings.foreground) {
    daemonize(argv);
    return;
  }
  serve(
    settings,
    foregroundLogger(),
    () => undefined,
    (message) => fail(message),
  );
}

main();

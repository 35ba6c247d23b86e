/**
 * netdumpd's command line (spec §6.1): help, bad flags and values, the
 * start-up checks with their messages and exit codes, the pidfile, and
 * daemon mode. Every run happens in the server namespace, so a server that
 * wrongly starts cannot take a port of the real host.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { buildOpenat2Denier } from '../helpers/deny-openat2.js';
import { NetdumpTestClient } from '../helpers/netdump-test-client.js';
import { HandlerRecorder, makeTempDir, NETDUMPD, NetdumpdServer, waitUntil } from '../helpers/netdumpd-server.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

describe('netdumpd: command line', () => {
  let hosts: TestHosts;
  let work: string;
  let dumpDir: string;
  const stderrs: string[] = [];
  let daemonPid: number | undefined;

  before(() => {
    hosts = createTestHostPair({ clientAddressInKernel: true });
    work = makeTempDir('netdumpd-cli-');
    dumpDir = path.join(work, 'dump');
    mkdirSync(dumpDir);
  });

  after(() => {
    if (daemonPid !== undefined && isRunning(daemonPid)) process.kill(daemonPid, 'SIGKILL');
    hosts?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** netdumpd with these arguments in the server namespace, run by `wrapper` (a command and its arguments) if given. */
  function run(args: string[], wrapper: string[] = []): Run {
    const started = Date.now();
    const result = spawnSync('ip', ['netns', 'exec', hosts.server.ns, ...wrapper, process.execPath, NETDUMPD, ...args], {
      encoding: 'utf8',
      timeout: 10_000,
      killSignal: 'SIGKILL',
      env: { ...process.env, TZ: 'UTC' },
    });
    stderrs.push(result.stderr);
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - started };
  }

  const pidFile = (name: string) => path.join(work, name);
  const USAGE_FIRST_LINE = 'usage: netdumpd [-D] [-a bind_addr] [-d dumpdir] [-i script] [-P pidfile]';

  test('--help and -h print the usage and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const result = run([flag]);
      assert.equal(result.status, 0);
      assert.equal(result.stderr, '');
      assert.ok(result.stdout.startsWith(`${USAGE_FIRST_LINE}\n`), result.stdout);
      for (const option of ['-D', '-a bind_addr', '-d dumpdir', '-i script', '-P pidfile', '-p default_path', '--timeout']) {
        assert.ok(result.stdout.includes(option), `usage mentions ${option}`);
      }
    }
  });

  test('--version and -V: the package version on stdout, exit 0', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = run([flag]);
      assert.deepEqual([result.status, result.stdout, result.stderr], [0, `netdumpd ${version}\n`, '']);
    }
  });

  test('an unknown flag, a missing value or a bad number: exit 2 with a message and a hint at --help', () => {
    const cases: Array<[string[], string]> = [
      [['--bogus'], "netdumpd: unknown option '--bogus' (an argument that starts with '-' but is not an option goes after '--')"],
      [['-x'], "netdumpd: unknown option '-x' ("],
      [["--bo'gus"], "netdumpd: unknown option '--bo'gus' ("],
      [['-d'], 'netdumpd: option -d needs a value'],
      [['--timeout'], 'netdumpd: option --timeout needs a value'],
      [
        ['-d', '-D'],
        "netdumpd: option -d needs a value, and the next argument looks like an option (write -dVALUE for a value that starts with '-')",
      ],
      [['--timeout', '0'], "netdumpd: --timeout must be a positive number, not '0'"],
      [['--port', '70000'], 'netdumpd: --port must be at most 65535, not 70000'],
      [['--max-sessions', '0'], "netdumpd: --max-sessions must be a positive integer, not '0'"],
      [['--max-sessions', '201'], 'netdumpd: --max-sessions must be at most 200, not 201'],
    ];
    for (const [args, message] of cases) {
      const result = run(['-P', pidFile('unused.pid'), ...args]);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      const [first, second, ...rest] = result.stderr.split('\n');
      assert.ok(first!.startsWith(message), `${args.join(' ')}: ${first}`);
      assert.equal(second, "Try 'netdumpd --help' for more information.");
      assert.deepEqual(rest, [''], 'two lines, not the whole usage');
    }
  });

  test("bad values: exit 1 with netdumpd's messages", () => {
    const file = path.join(work, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const notExecutable = path.join(work, 'handler-not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    const cases: Array<[string[], string]> = [
      [['-a', 'not-an-ip'], 'netdumpd: invalid bind IP specified\n'],
      [['-a', '198.18.0.256'], 'netdumpd: invalid bind IP specified\n'],
      [['-d', '/nonexistent/dumps'], 'netdumpd: invalid dump location specified: /nonexistent/dumps: No such file or directory\n'],
      [['-d', file], `netdumpd: Dump location is not a directory: ${file}\n`],
      [['-d', dumpDir, '-i', '/nonexistent/handler'], 'netdumpd: cannot access /nonexistent/handler: No such file or directory\n'],
      [['-d', dumpDir, '-i', notExecutable], `netdumpd: cannot access ${notExecutable}: Permission denied\n`],
    ];
    for (const [args, stderr] of cases) {
      const result = run(['-D', ...args, '-P', pidFile('bad-values.pid')]);
      assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, stderr);
      assert.equal(result.stdout, '');
    }
    assert.ok(!existsSync(pidFile('bad-values.pid')), 'no pidfile is written by a server that does not start');
    assert.deepEqual(readdirSync(dumpDir), []);
  });

  test('a second server with the same pidfile refuses to start; a stale pidfile does not stop one', async () => {
    const pidfile = pidFile('running.pid');
    // A pidfile left by a dead process, or holding a process that is not netdumpd, is stale.
    const notNetdumpd = spawn('sleep', ['60'], { stdio: 'ignore' });
    writeFileSync(pidfile, `${notNetdumpd.pid}\n`);
    const server = await NetdumpdServer.start(hosts, ['-d', dumpDir, '-P', pidfile]).finally(() => notNetdumpd.kill());
    try {
      assert.equal(readFileSync(pidfile, 'utf8'), `${server.pid}\n`);
      const result = run(['-D', '-d', dumpDir, '-P', pidfile, '--port', '20099']);
      assert.equal(result.status, 1);
      assert.equal(result.stderr, `netdumpd: netdumpd is already running (pid ${server.pid}, pidfile ${pidfile})\n`);
      assert.equal(result.stdout, '');
      assert.equal(readFileSync(pidfile, 'utf8'), `${server.pid}\n`, 'the running server keeps its pidfile');
    } finally {
      await server.stop();
    }
    assert.equal(server.stderr, 'netdumpd: default: listening on all interfaces\n');
    assert.ok(!existsSync(pidfile));
  });

  test('-a and --port: heralds to that address and port only', async () => {
    execFileSync('ip', ['-n', hosts.server.ns, 'addr', 'add', '198.18.0.3/24', 'dev', hosts.server.iface]);
    const pidfile = pidFile('bound.pid');
    const server = await NetdumpdServer.start(hosts, ['-a', '198.18.0.3', '--port', '20123', '-d', dumpDir, '-P', pidfile]);
    let toBound: NetdumpTestClient | undefined;
    let toOther: NetdumpTestClient | undefined;
    try {
      toBound = await NetdumpTestClient.start(hosts, hosts.client.ip, { serverIp: '198.18.0.3', heraldPort: 20123 });
      assert.equal(server.stderr, 'netdumpd: listening on IP 198.18.0.3\n');
      toBound.send({ type: 1, seq: 1 }, 20023);
      await toBound.expectNoAck(300, 'herald to port 20023');
      await toBound.herald(1);
      await toBound.finish(2);
      toBound.stop();
      toOther = await NetdumpTestClient.start(hosts, hosts.client.ip, { heraldPort: 20123 });
      toOther.send({ type: 1, seq: 1 }, 20123);
      await toOther.expectNoAck(300, 'herald to 198.18.0.2, not the bound address');
    } finally {
      toBound?.stop();
      toOther?.stop();
      await server.stop();
    }
    assert.equal(server.countLines('New dump from client'), 1);
    for (const name of readdirSync(dumpDir)) rmSync(path.join(dumpDir, name));
  });

  test("relative paths are taken from where the server starts, the handler's too", async () => {
    const handler = new HandlerRecorder(work);
    // handler.sh, the dump directory and the pidfile, all named relative to `work`.
    const server = await NetdumpdServer.start(hosts, ['-d', 'dump', '-P', 'relative.pid', '-i', 'handler.sh'], { cwd: work });
    let client: NetdumpTestClient | undefined;
    try {
      client = await NetdumpTestClient.start(hosts);
      assert.equal(readFileSync(pidFile('relative.pid'), 'utf8'), `${server.pid}\n`);
      await client.herald(1);
      await client.finish(2);
      const record = await handler.waitFor(['success', '198.18.0.1', '198.18.0.1', './info.198.18.0.1.0', './vmcore.198.18.0.1.0']);
      assert.equal(record.cwd, realpathSync(dumpDir));
      assert.equal(record.info, 'Dump from 198.18.0.1 [198.18.0.1]\nDump complete\n');
      await server.waitForLine(/^Process \d+ exited with status 0$/);
    } finally {
      client?.stop();
      await server.stop();
    }
    assert.equal(server.countLines('cannot run handler'), 0);
    rmSync(path.join(work, 'records'), { recursive: true });
    for (const name of readdirSync(dumpDir)) rmSync(path.join(dumpDir, name));
  });

  test('daemon mode: returns at once, the daemon serves, SIGTERM removes its pidfile', async () => {
    const pidfile = pidFile('daemon.pid');
    const result = run(['-d', dumpDir, '-P', pidfile]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, '');
    assert.ok(result.ms < 5000, `took ${result.ms} ms`);
    daemonPid = Number(readFileSync(pidfile, 'utf8'));
    assert.ok(Number.isInteger(daemonPid) && daemonPid > 0);
    assert.ok(isRunning(daemonPid), 'the daemon runs');
    assert.match(readFileSync(`/proc/${daemonPid}/cmdline`, 'latin1'), /netdumpd\.js/);

    const client = await NetdumpTestClient.start(hosts);
    try {
      await client.herald(1);
      await client.finish(2);
    } finally {
      client.stop();
    }
    assert.equal(readFileSync(path.join(dumpDir, 'info.198.18.0.1.0'), 'latin1'), 'Dump from 198.18.0.1 [198.18.0.1]\nDump complete\n');

    process.kill(daemonPid, 'SIGTERM');
    await waitUntil(() => (isRunning(daemonPid!) ? undefined : true), 5000, 'the daemon to exit');
    assert.ok(!existsSync(pidfile), 'the pidfile is removed');
  });

  test('without openat2 (a kernel before 5.6, a seccomp filter): exit 1 with one line saying what is needed', () => {
    const denyOpenat2 = buildOpenat2Denier(work);
    const pidfile = pidFile('no-openat2.pid');
    const emptyDir = path.join(work, 'no-openat2');
    mkdirSync(emptyDir);
    for (const [errno, reason] of [
      ['38', 'Function not implemented'],
      ['1', 'Operation not permitted'],
    ] as const) {
      const line =
        `netdumpd: openat2(2) is unavailable (${reason}): netdumpd needs Linux 5.6 or later, ` +
        "with openat2 allowed by any seccomp filter (a container runtime's, systemd's SystemCallFilter=)\n";
      const foreground = run(['-D', '-a', hosts.server.ip, '-d', emptyDir, '-P', pidfile], [denyOpenat2, errno]);
      assert.deepEqual([foreground.status, foreground.stdout], [1, ''], foreground.stderr);
      assert.equal(foreground.stderr, `netdumpd: listening on IP ${hosts.server.ip}\n${line}`);
      const daemon = run(['-d', emptyDir, '-P', pidfile], [denyOpenat2, errno]);
      assert.deepEqual([daemon.status, daemon.stdout, daemon.stderr], [1, '', line]);
      assert.ok(!existsSync(pidfile), 'no pidfile is left by a server that does not start');
    }
    assert.deepEqual(readdirSync(emptyDir), []);
  });

  test('no stack trace in any error output', () => {
    assert.ok(stderrs.length > 10);
    for (const stderr of stderrs) assert.doesNotMatch(stderr, /^\s+at /m);
  });
});

/** True while the process exists and is not a zombie (an orphaned daemon may wait for a reaper). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The netdump command line when it is wrong: one clear line on stderr
 * (followed, for usage errors, by where the help is), the documented exit
 * status (2 bad usage, 1 system error), never a stack trace.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { nobodyCanRunNetdump, runNetdump, type ClientResult } from '../helpers/netdump-cli.js';

const EXIT_SYSTEM = 1;
const EXIT_USAGE = 2;

function assertNoStackTrace(result: ClientResult): void {
  assert.ok(!result.stderr.includes('    at '), `a stack trace on stderr:\n${result.stderr}`);
  assert.ok(!/\b(TypeError|ReferenceError|NetdumpError|Error):/.test(result.stderr), `an exception on stderr:\n${result.stderr}`);
}

/** A usage error: the message and a hint at --help, two lines in all; exit 2; nothing on stdout. */
function assertUsageError(result: ClientResult, message: string | RegExp): void {
  assert.equal(result.status, EXIT_USAGE, `exit ${result.status}, stderr:\n${result.stderr}`);
  const [first, hint, ...rest] = result.stderr.split('\n');
  if (typeof message === 'string') assert.equal(first, `netdump: ${message}`);
  else assert.match(first!, message);
  assert.equal(hint, "Try 'netdump --help' for more information.");
  assert.deepEqual(rest, [''], 'nothing after the hint (not the whole usage)');
  assert.equal(result.stdout, '');
  assertNoStackTrace(result);
}

/** A system error: exactly one line on stderr, exit 1, nothing on stdout. */
function assertSystemError(result: ClientResult, message: string | RegExp): void {
  assert.equal(result.status, EXIT_SYSTEM, `exit ${result.status}, stderr:\n${result.stderr}`);
  assert.ok(result.stderr.endsWith('\n') && result.stderr.indexOf('\n') === result.stderr.length - 1, `not one line:\n${result.stderr}`);
  const line = result.stderr.slice(0, -1);
  if (typeof message === 'string') assert.equal(line, `netdump: ${message}`);
  else assert.match(line, message);
  assert.equal(result.stdout, '');
  assertNoStackTrace(result);
}

describe('netdump command line errors', () => {
  let hosts: TestHosts;
  let base: string[];

  before(() => {
    hosts = createTestHostPair();
    base = ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip];
  });

  after(() => hosts?.destroy());

  const usageCases: Array<{ name: string; args: () => string[]; message: string | RegExp }> = [
    { name: 'no interface', args: () => [...base, '--synthetic', '9M'], message: 'no interface given' },
    {
      name: 'no -s',
      args: () => ['--netns', hosts.client.ns, '-c', hosts.client.ip, '--synthetic', '9M', 'ndc0'],
      message: 'no server given (-s)',
    },
    {
      name: 'a bad IP in -s',
      args: () => ['--netns', hosts.client.ns, '-s', '198.18.0.256', '-c', hosts.client.ip, '--synthetic', '9M', 'ndc0'],
      message: "-s: '198.18.0.256' is not an IPv4 address",
    },
    {
      name: 'a bad IP in -c',
      args: () => ['--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', 'client', '--synthetic', '9M', 'ndc0'],
      message: "-c: 'client' is not an IPv4 address",
    },
    {
      name: 'a bad IP in -g',
      args: () => [...base, '-g', '198.18.0', '--synthetic', '9M', 'ndc0'],
      message: "-g: '198.18.0' is not an IPv4 address",
    },
    {
      name: 'an unknown flag',
      args: () => [...base, '--bogus', '--synthetic', '9M', 'ndc0'],
      message: "unknown option '--bogus' (an argument that starts with '-' but is not an option goes after '--')",
    },
    { name: 'a missing value', args: () => [...base, '--synthetic', '9M', 'ndc0', '--driver'], message: 'option --driver needs a value' },
    {
      name: 'a value that looks like an option',
      args: () => [...base, '--driver', '--synthetic', '9M', 'ndc0'],
      message:
        "option --driver needs a value, and the next argument looks like an option (write --driver=VALUE for a value that starts with '-')",
    },
    {
      name: 'a value for a flag',
      args: () => [...base, '--json=yes', '--synthetic', '9M', 'ndc0'],
      message: 'option --json takes no value',
    },
    {
      name: 'both a dumpfile and --synthetic',
      args: () => [...base, '--synthetic', '9M', 'ndc0', '/etc/hostname'],
      message: 'give either a dumpfile or --synthetic SIZE',
    },
    { name: 'neither a dumpfile nor --synthetic', args: () => [...base, 'ndc0'], message: 'give either a dumpfile or --synthetic SIZE' },
    {
      name: '--synthetic 1000 (not a multiple of 4096)',
      args: () => [...base, '--synthetic', '1000', 'ndc0'],
      message: '--synthetic: 1000 is not a positive multiple of 4096 bytes',
    },
    {
      name: '--synthetic 1M (smaller than a minidump can be)',
      args: () => [...base, '--synthetic', '1M', 'ndc0'],
      message: "--synthetic: 1M is smaller than a freebsd13 minidump's 8499200 bytes of metadata",
    },
    {
      name: '--profile freebsd11',
      args: () => [...base, '--profile', 'freebsd11', '--synthetic', '9M', 'ndc0'],
      message: "--profile must be freebsd12, freebsd13 or fast, not 'freebsd11'",
    },
    {
      name: '--profile fast --ack-bug-compat',
      args: () => [...base, '--profile', 'fast', '--ack-bug-compat', '--synthetic', '9M', 'ndc0'],
      message: "--ack-bug-compat reproduces the kernel's ack bitmap, which the fast profile's window does not use",
    },
    {
      name: '-o net.netdump.bogus=1',
      args: () => [...base, '-o', 'net.netdump.bogus=1', '--synthetic', '9M', 'ndc0'],
      message: /^netdump: -o net\.netdump\.bogus=1: expected one of net\.netdump\.polls, .* as NAME=VALUE$/,
    },
    {
      name: '-o net.netdump.debug=yes (a sysctl takes a number)',
      args: () => [...base, '-o', 'net.netdump.debug=yes', '--synthetic', '9M', 'ndc0'],
      message: "-o net.netdump.debug: 'yes' is not a number (the sysctl is an integer)",
    },
    {
      name: '-o net.debugnet.npolls=1e3',
      args: () => [...base, '-o', 'net.debugnet.npolls=1e3', '--synthetic', '9M', 'ndc0'],
      message: "-o net.debugnet.npolls: '1e3' is not a number (the sysctl is an integer)",
    },
    {
      name: '--polls 0',
      args: () => [...base, '--polls', '0', '--synthetic', '9M', 'ndc0'],
      message: "--polls must be an integer from 1 to 1000000, not '0'",
    },
    { name: 'an extra argument', args: () => [...base, 'ndc0', '/etc/hostname', 'extra'], message: "unexpected argument 'extra'" },
    {
      name: 'no -c, and the interface has no address',
      args: () => ['--netns', hosts.client.ns, '-s', hosts.server.ip, '--synthetic', '9M', 'ndc0'],
      message: 'no client address: give -c (ndc0 carries no IPv4 address to infer it from)',
    },
  ];
  for (const { name, args, message } of usageCases) {
    test(`usage error, exit 2: ${name}`, async () => {
      assertUsageError(await runNetdump(args()), message);
    });
  }

  test('system error, exit 1: a dumpfile that does not exist', async () => {
    assertSystemError(await runNetdump([...base, 'ndc0', '/nonexistent/vmcore.0']), 'dump file /nonexistent/vmcore.0 does not exist');
  });

  test('system error, exit 1: a directory as the dumpfile', async () => {
    assertSystemError(await runNetdump([...base, 'ndc0', '/tmp']), 'dump file /tmp is a directory, not a regular file');
  });

  test('system error, exit 1: an interface that does not exist', async () => {
    assertSystemError(await runNetdump([...base, '--synthetic', '9M', 'nosuch0']), /^netdump: no such interface: nosuch0\b/);
  });

  test('system error, exit 1: a network namespace that does not exist', async () => {
    const result = await runNetdump([
      '--netns',
      'ndt-no-such-namespace',
      '-s',
      '198.18.0.2',
      '-c',
      '198.18.0.1',
      '--synthetic',
      '9M',
      'ndc0',
    ]);
    assertSystemError(result, /^netdump: cannot open network namespace .*ndt-no-such-namespace/);
  });

  // Without -c the address is inferred from the interface: what keeps it from being opened must be said, not "give -c".
  const noClient = () => ['-s', hosts.server.ip, '--synthetic', '9M'];

  test('system error, exit 1: without -c, an interface that does not exist', async () => {
    assertSystemError(
      await runNetdump(['--netns', hosts.client.ns, ...noClient(), 'nosuch0']),
      'no such interface: nosuch0 (No such device)',
    );
  });

  test('system error, exit 1: without -c, a network namespace that does not exist', async () => {
    const result = await runNetdump(['--netns', 'ndt-no-such-namespace', ...noClient(), 'ndc0']);
    assertSystemError(result, 'cannot open network namespace /var/run/netns/ndt-no-such-namespace: No such file or directory');
  });

  test('system error, exit 1: without -c and without root', async (t) => {
    if (!nobodyCanRunNetdump()) return t.skip('user nobody cannot read this checkout (a 0700 directory on its path)');
    const inNamespace = await runNetdump(['--netns', hosts.client.ns, ...noClient(), 'ndc0'], { asNobody: true });
    assertSystemError(
      inNamespace,
      `cannot enter network namespace /var/run/netns/${hosts.client.ns} (needs root): Operation not permitted`,
    );
    const here = await runNetdump([...noClient(), 'lo'], { asNobody: true });
    assertSystemError(here, 'opening a packet socket needs root or CAP_NET_RAW (Operation not permitted)');
  });

  test('system error, exit 1: --pcap or --trace in a directory that does not exist', async () => {
    const pcap = await runNetdump([...base, '--pcap', '/nonexistent/x.pcap', '--synthetic', '9M', hosts.client.iface]);
    assertSystemError(pcap, 'cannot write the capture /nonexistent/x.pcap: No such file or directory');
    const trace = await runNetdump([...base, '--trace', '/nonexistent/x.jsonl', '--synthetic', '9M', hosts.client.iface]);
    assertSystemError(trace, 'cannot write the trace /nonexistent/x.jsonl: No such file or directory');
  });

  test('--help: the usage on stdout, exit 0', async () => {
    const result = await runNetdump(['--help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^usage: netdump \[-s server\] \[-c client\] \[-g gateway\] \[-p path\] \[options\] iface \[dumpfile\]\n/);
    assert.ok(result.stdout.includes('Exit status: 0 dump complete; 1 interface or system error; 2 bad usage;'));
    assert.ok(result.stdout.includes('netdump inspect FILE|DIR...'), 'the help names the tools that read dumps back');
    assert.equal(result.stderr, '');
  });

  test("each tool's -h and --help: the tools' usage on stdout, exit 0", async () => {
    for (const args of [
      ['report', '--help'],
      ['inspect', '-h'],
      ['decrypt', '--help'],
      ['decompress', '-h'],
    ]) {
      const result = await runNetdump(args);
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, /^netdump inspect FILE\|DIR\.\.\./, args.join(' '));
      assert.equal(result.stderr, '');
    }
  });

  test('--version and -V: the package version on stdout, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runNetdump([flag]);
      assert.deepEqual([result.status, result.stdout, result.stderr], [0, `netdump ${version}\n`, '']);
    }
  });
});

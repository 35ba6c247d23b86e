/**
 * The netdump client as a real process dumping to netdumpd as a real
 * process, in each profile: the vmcore lands byte for byte, the info file
 * carries what the client put in the KDH, the console says what the
 * kernel says; plus a herald path, a jumbo MTU, and a client address that
 * the host kernel also owns.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { HeldHostPort } from '../../drivers/host-ack-port.js';
import {
  assertFileBytes,
  assertInfoFile,
  assertStatus,
  ctimeUtc,
  hostArgs,
  makeTempDir,
  Netdumpd,
  paddedToBlock,
  removeDir,
  runNetdump,
  syntheticBytes,
  writeRandomDump,
  type ClientResult,
} from '../helpers/netdump-cli.js';
import { Tcpdump } from '../helpers/pcap.js';
import { holdsFinishedAck, parseCapture } from '../helpers/capture-frames.js';

const DUMP_TIME = 1_700_000_000; // Tue Nov 14 22:13:20 2023 UTC
const CLIENT = '198.18.0.1';

const OPENING = {
  freebsd13: 'debugnet: overwriting mbuf zone pointers\ndebugnet_connect: searching for server MAC...\n',
  freebsd12: 'netdump: overwriting mbuf zone pointers\nnetdump in progress. searching for server...\n',
};
/** After "netdump finished.": 13+ puts its mbuf zones back, then minidumpsys says the dump is complete. */
const CLOSING = { freebsd13: 'debugnet: restoring mbuf zone pointers\n\nDump complete\n', freebsd12: '\nDump complete\n' };

/** A complete dump's console, the kernel's lines exactly: these dumps are under 16 MiB, so no progress mark. */
function assertCompleteConsole(result: ClientResult, profile: keyof typeof OPENING, serverMac: string, megabytes: number): void {
  const opening = `${OPENING[profile]}netdumping to 198.18.0.2 (${serverMac})\nDumping ${megabytes} out of `;
  assert.ok(result.stdout.startsWith(opening), `console:\n${result.stdout}`);
  assert.ok(result.stdout.includes(` MB:\nnetdump finished.\n${CLOSING[profile]}netdump: `), `console:\n${result.stdout}`);
  assert.equal(result.stderr, '');
}

describe('netdump client → netdumpd on one link', () => {
  let hosts: TestHosts;
  let dir: string;

  before(() => {
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-client-dumps-');
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  /** Runs a server in a fresh dump directory around `body`. */
  async function withServer(name: string, body: (server: Netdumpd, dumpDir: string) => Promise<void>): Promise<void> {
    const dumpDir = path.join(dir, name);
    mkdirSync(dumpDir);
    const server = await Netdumpd.start(hosts, dumpDir);
    try {
      await body(server, dumpDir);
    } finally {
      await server.stop();
    }
  }

  test('freebsd13: a synthetic minidump (v3) lands byte for byte, with the KDH in the info file', async () => {
    await withServer('fb13-synthetic', async (server, dumpDir) => {
      const size = 9 * 2 ** 20;
      const result = await runNetdump([
        ...hostArgs(hosts),
        '--hostname',
        'crashed13',
        '--panic',
        'page fault while in kernel mode',
        '--dump-time',
        String(DUMP_TIME),
        '--synthetic',
        '9M',
        hosts.client.iface,
      ]);
      assertStatus(result, 0);
      assertCompleteConsole(result, 'freebsd13', hosts.server.mac, 9);
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1 \[198\.18\.0\.1\]$/);
      assertFileBytes(path.join(dumpDir, `vmcore.${CLIENT}.0`), syntheticBytes(size, 3));
      assertInfoFile(path.join(dumpDir, `info.${CLIENT}.0`), {
        dumpLength: size,
        hostname: 'crashed13',
        panic: 'page fault while in kernel mode',
        dumptime: ctimeUtc(DUMP_TIME),
      });
      assert.equal(ctimeUtc(DUMP_TIME), 'Tue Nov 14 22:13:20 2023');
    });
  });

  test('freebsd12: a synthetic minidump (v2) lands byte for byte, with the 12.x console text', async () => {
    await withServer('fb12-synthetic', async (server, dumpDir) => {
      const size = 9 * 2 ** 20;
      const result = await runNetdump([
        ...hostArgs(hosts),
        '--profile',
        'freebsd12',
        '--hostname',
        'crashed12',
        '--panic',
        'sleeping thread owns a mutex',
        '--dump-time',
        String(DUMP_TIME + 3600),
        '--synthetic',
        '9M',
        hosts.client.iface,
      ]);
      assertStatus(result, 0);
      assertCompleteConsole(result, 'freebsd12', hosts.server.mac, 9);
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1 \[198\.18\.0\.1\]$/);
      assertFileBytes(path.join(dumpDir, `vmcore.${CLIENT}.0`), syntheticBytes(size, 2));
      assertInfoFile(path.join(dumpDir, `info.${CLIENT}.0`), {
        dumpLength: size,
        hostname: 'crashed12',
        panic: 'sleeping thread owns a mutex',
        dumptime: 'Tue Nov 14 23:13:20 2023',
        versionString: 'FreeBSD 12.1-RELEASE',
      });
    });
  });

  test('freebsd13, -p sub: a file dump lands in <dumpdir>/sub, zero-padded to a block', async () => {
    await withServer('fb13-path', async (server, dumpDir) => {
      mkdirSync(path.join(dumpDir, 'sub'));
      const { file, bytes } = writeRandomDump(dir, 'fb13-path.bin', 2 ** 20 + 3);
      const result = await runNetdump([
        ...hostArgs(hosts),
        '-p',
        'sub',
        '--hostname',
        'pathhost',
        '--panic',
        'herald path test',
        '--dump-time',
        String(DUMP_TIME),
        hosts.client.iface,
        file,
      ]);
      assertStatus(result, 0);
      assertCompleteConsole(result, 'freebsd13', hosts.server.mac, 1);
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
      assertFileBytes(path.join(dumpDir, 'sub', `vmcore.${CLIENT}.0`), paddedToBlock(bytes));
      assertInfoFile(path.join(dumpDir, 'sub', `info.${CLIENT}.0`), {
        dumpLength: bytes.length,
        hostname: 'pathhost',
        panic: 'herald path test',
        dumptime: ctimeUtc(DUMP_TIME),
      });
      assert.equal(existsSync(path.join(dumpDir, `vmcore.${CLIENT}.0`)), false, 'nothing in the top dump directory');
    });
  });

  test('freebsd12, -o net.netdump.path=sub12: a file dump lands in <dumpdir>/sub12', async () => {
    await withServer('fb12-path', async (server, dumpDir) => {
      mkdirSync(path.join(dumpDir, 'sub12'));
      const { file, bytes } = writeRandomDump(dir, 'fb12-path.bin', 300 * 1024 + 5);
      const result = await runNetdump([
        ...hostArgs(hosts),
        '--profile',
        'freebsd12',
        '-o',
        'net.netdump.path=sub12',
        '--hostname',
        'pathhost12',
        '--panic',
        'sysctl path test',
        '--dump-time',
        String(DUMP_TIME),
        hosts.client.iface,
        file,
      ]);
      assertStatus(result, 0);
      assertCompleteConsole(result, 'freebsd12', hosts.server.mac, 0);
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
      assertFileBytes(path.join(dumpDir, 'sub12', `vmcore.${CLIENT}.0`), paddedToBlock(bytes));
      assertInfoFile(path.join(dumpDir, 'sub12', `info.${CLIENT}.0`), {
        dumpLength: bytes.length,
        hostname: 'pathhost12',
        panic: 'sysctl path test',
        dumptime: ctimeUtc(DUMP_TIME),
      });
    });
  });
});

describe('netdump client → netdumpd over links with other settings', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  test('MTU 9000: 4096-byte payloads, a note about --jumbo-payload, and the dump lands', async () => {
    const hosts = createTestHostPair({ mtu: 9000 });
    const dumpDir = makeTempDir('netdump-client-jumbo-');
    dirs.push(dumpDir);
    let capture: Tcpdump | undefined;
    try {
      const server = await Netdumpd.start(hosts, dumpDir);
      capture = await Tcpdump.start(hosts, hosts.server.ns, hosts.server.iface, path.join(dumpDir, '.capture.pcap'));
      const { file, bytes } = writeRandomDump(dumpDir, '.dump.bin', 2 ** 20 + 9);
      const result = await runNetdump([...hostArgs(hosts), '--dump-time', String(DUMP_TIME), hosts.client.iface, file]);
      assertStatus(result, 0);
      assert.ok(
        result.stdout.startsWith(
          'netdump: MTU 9000 would let FreeBSD 13+ send 8948-byte payloads, which netdumpd refuses; sending 4096 (--jumbo-payload to send them anyway)\n' +
            OPENING.freebsd13,
        ),
        result.stdout,
      );
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
      await capture.waitFor((pcap) => holdsFinishedAck(pcap, hosts), 5000, 'the ack of FINISHED');
      const pcap = await capture.stop();
      assert.equal(capture.droppedByKernel, 0, capture.stderr);
      assertFileBytes(path.join(dumpDir, `vmcore.${CLIENT}.0`), paddedToBlock(bytes));

      const { messages } = parseCapture(pcap, hosts);
      const data = messages.filter((message) => message.type === 3);
      const lengths = new Set(data.map((message) => message.len));
      // 1 MiB + 9 bytes, padded: 260 blocks of 4096 = 16 full payloads per 64 KiB batch.
      assert.equal(data.length, 257);
      assert.ok(
        data.slice(0, -1).every((message) => message.len === 4096),
        `payload lengths: ${[...lengths].join(' ')}`,
      );
      assert.equal(data.at(-1)!.len, 4096);
      assert.ok(data.every((message) => message.frameLength === 14 + 20 + 8 + 24 + message.len));
      await server.stop();
    } finally {
      capture?.kill();
      hosts.destroy();
    }
  });

  test('the client address also in the host kernel: port 20024 is held there, and the dump lands', async () => {
    const hosts = createTestHostPair({ clientAddressInKernel: true });
    const dumpDir = makeTempDir('netdump-client-inkernel-');
    dirs.push(dumpDir);
    try {
      const server = await Netdumpd.start(hosts, dumpDir);
      const { file, bytes } = writeRandomDump(dumpDir, '.dump.bin', 700 * 1024 + 1);
      const result = await runNetdump([...hostArgs(hosts), '--debug', '--dump-time', String(DUMP_TIME), hosts.client.iface, file]);
      assertStatus(result, 0);
      assert.ok(
        result.stdout.includes(
          'netdump: 198.18.0.1 is configured in the host kernel; holding UDP port 20024 there so that it does not answer acks with ICMP port unreachable\n',
        ),
        result.stdout,
      );
      // Connected once the herald's ack named the server's port: Linux then finds it for each ack without a route lookup.
      assert.match(result.stdout, /\nnetdump: the host's socket on port 20024 now takes only what 198\.18\.0\.2:\d+ sends\n/);
      assert.match(result.stdout, /\nnetdump finished\.\n/);
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
      assertFileBytes(path.join(dumpDir, `vmcore.${CLIENT}.0`), paddedToBlock(bytes));
      await server.stop();
    } finally {
      hosts.destroy();
    }
  });

  test('the host socket holding port 20024 connects to the server, and stays unconnected where Linux has no route to it', () => {
    const hosts = createTestHostPair({ clientAddressInKernel: true });
    let held: HeldHostPort | undefined;
    // Linux's own view of the socket: its state and its peer.
    const socketState = () => hosts.run(hosts.client.ns, 'ss', ['-Huan', 'sport = :20024']).trim().split(/\s+/);
    try {
      held = new HeldHostPort(hosts.client.ip, 20024, hosts.client.ns);
      assert.equal(held.serverFound('203.0.113.1', 20023), false);
      assert.deepEqual(socketState(), ['UNCONN', '0', '0', `${hosts.client.ip}:20024`, '0.0.0.0:*']);
      assert.throws(() => new HeldHostPort(hosts.client.ip, 20024, hosts.client.ns), /in use/i);
      assert.equal(held.serverFound(hosts.server.ip, 40123), true);
      assert.deepEqual(socketState(), ['ESTAB', '0', '0', `${hosts.client.ip}:20024`, `${hosts.server.ip}:40123`]);
    } finally {
      held?.close();
      hosts.destroy();
    }
  });
});

/**
 * Compressed and encrypted dumps (dumpon -z, -Z, -k), through the client
 * and our server as real processes: every combination each release allows
 * lands as the files netdumpd makes (.gz, .zst, vmcore_encrypted, key),
 * Debian's gzip and zstd test and decompress what we sent, decryption with
 * the private key gives the bytes back, and the KDH says the compressed
 * length and the uncompressed extent. What a release refuses is exit 2.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { unwrapEkcdKey } from '../../src/dump/ekcd.js';
import {
  KERNELDUMP_COMP_GZIP,
  KERNELDUMP_COMP_NONE,
  KERNELDUMP_COMP_ZSTD,
  NETDUMP_BLOCKSIZE,
  NETDUMP_KDH,
  NETDUMP_VMCORE,
  parseKerneldumpHeader,
} from '../../src/wire/index.js';
import { parseCapture } from '../helpers/capture-frames.js';
import { decryptDumpBody } from '../helpers/ekcd.js';
import { readPcap } from '../helpers/pcap.js';
import { assertStatus, hostArgs, makeTempDir, Netdumpd, paddedToBlock, removeDir, runNetdump } from '../helpers/netdump-cli.js';
import { requireTool } from '../helpers/tools.js';

const CLIENT = '198.18.0.1';

interface Case {
  name: string;
  profile: 'freebsd12' | 'freebsd13';
  args: string[];
  compression?: 'gzip' | 'zstd';
  encrypted?: boolean;
}

const CASES: Case[] = [
  { name: 'plain', profile: 'freebsd13', args: [] },
  { name: 'gzip', profile: 'freebsd13', args: ['-z'], compression: 'gzip' },
  { name: 'zstd', profile: 'freebsd13', args: ['-Z'], compression: 'zstd' },
  { name: 'chacha20', profile: 'freebsd13', args: ['-C', 'chacha20'], encrypted: true },
  { name: 'aes256-cbc', profile: 'freebsd13', args: ['-C', 'aes256-cbc'], encrypted: true },
  { name: 'chacha20-zstd', profile: 'freebsd13', args: ['-Z'], compression: 'zstd', encrypted: true },
  { name: 'chacha20-gzip', profile: 'freebsd13', args: ['-z'], compression: 'gzip', encrypted: true },
  { name: '12-plain', profile: 'freebsd12', args: [] },
  { name: '12-gzip', profile: 'freebsd12', args: ['-z'], compression: 'gzip' },
  { name: '12-zstd', profile: 'freebsd12', args: ['-Z'], compression: 'zstd' },
  { name: '12-aes256-cbc', profile: 'freebsd12', args: [], encrypted: true },
];

/** 3 MiB + 123 bytes: a random MiB, then text and zero pages, as a minidump has, so compression has work both ways. */
function dumpBytes(): Buffer {
  const bytes = Buffer.alloc(3 * 2 ** 20 + 123);
  for (let at = 0; at < 2 ** 20; at += 4) bytes.writeUInt32LE((Math.imul(at, 2654435761) ^ (at >>> 7)) >>> 0, at);
  for (let page = 2 ** 20; page < bytes.length; page += 3 * 4096) bytes.write('kernel text '.repeat(200), page);
  return bytes;
}

/** The value after `label: ` in the info file. */
function infoField(info: string, label: string): string {
  const match = new RegExp(`^  ${label}: (.*)$`, 'm').exec(info);
  assert.ok(match, `no '${label}' in the info file:\n${info}`);
  return match[1]!;
}

describe('compressed and encrypted dumps through the CLI (-z, -Z, -k, -C)', () => {
  let hosts: TestHosts;
  let dir: string;
  let dumpFile: string;
  let original: Buffer;
  let publicKeyFile: string;
  let privateKey: string;
  let privateKeyFile: string;

  before(async () => {
    await requireTool('zstd', 'zstd');
    await requireTool('gzip', 'gzip');
    hosts = createTestHostPair();
    // Once, a 12.x dump late in this file got no ack after its herald's. The suspected cause, not proven:
    // the server's kernel asking for the client's MAC by broadcast, which 12.x drops (spec §3.5). A real
    // 12.x setup needs the server to know the client; this run of dumps pins it.
    hosts.pinClientNeighbour();
    dir = makeTempDir('netdump-client-compressed-');
    original = dumpBytes();
    dumpFile = path.join(dir, 'dump.bin');
    writeFileSync(dumpFile, original);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    privateKeyFile = path.join(dir, 'private.pem');
    writeFileSync(privateKeyFile, privateKey);
    publicKeyFile = path.join(dir, 'public.pem');
    writeFileSync(publicKeyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  /**
   * The KDH as it left the client (spec §4.1, §4.4): the compression byte, dumplength the length sent
   * (the compressed one), dumpextent the uncompressed one; the data's last packet ends on a block.
   */
  function assertHeaderOnTheWire(pcap: string, c: Case, dumpLength: number): void {
    const { messages } = parseCapture(readPcap(pcap), hosts);
    const kdhMessage = messages.find((message) => message.type === NETDUMP_KDH);
    assert.ok(kdhMessage, 'the capture holds the KDH');
    const kdh = parseKerneldumpHeader(kdhMessage.data);
    const codes = { gzip: KERNELDUMP_COMP_GZIP, zstd: KERNELDUMP_COMP_ZSTD };
    assert.equal(kdh.compression, c.compression === undefined ? KERNELDUMP_COMP_NONE : codes[c.compression]);
    assert.equal(kdh.dumpLength, dumpLength);
    assert.equal(kdh.dumpExtent, c.compression === undefined ? dumpLength : original.length);
    const dataEnd = Math.max(...messages.filter((m) => m.type === NETDUMP_VMCORE).map((m) => Number(m.offset) + m.len));
    assert.equal(dataEnd, Math.ceil(dumpLength / NETDUMP_BLOCKSIZE) * NETDUMP_BLOCKSIZE, 'the data ends with a whole block');
  }

  for (const c of CASES) {
    test(`${c.name} (${c.profile}): the files netdumpd makes, and the original bytes back from them`, async (t) => {
      const dumpDir = path.join(dir, c.name);
      mkdirSync(dumpDir);
      const server = await Netdumpd.start(hosts, dumpDir);
      try {
        const keyArgs = c.encrypted ? ['-k', publicKeyFile] : [];
        const capture = ['--pcap', path.join(dumpDir, 'client.pcap')];
        const result = await runNetdump([
          ...hostArgs(hosts),
          '--profile',
          c.profile,
          ...keyArgs,
          ...capture,
          ...c.args,
          hosts.client.iface,
          dumpFile,
        ]);
        assertStatus(result, 0);
        assert.match(result.stdout, /^Dumping 3 out of 4 MB:\nnetdump finished\.\n/m);
        await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
      } finally {
        await server.stop();
      }
      const info = readFileSync(path.join(dumpDir, `info.${CLIENT}.0`), 'utf8');
      const core = path.join(dumpDir, `${c.encrypted ? 'vmcore_encrypted' : 'vmcore'}.${CLIENT}.0${suffix(c)}`);
      const dumpLength = Number(/^(\d+)B/.exec(infoField(info, 'Dump Length'))![1]);
      t.diagnostic(`${path.basename(core)}: Dump Length ${dumpLength} of ${original.length} bytes`);
      assert.equal(infoField(info, 'Compression'), c.compression ?? 'none');
      assertHeaderOnTheWire(path.join(dumpDir, 'client.pcap'), c, dumpLength);
      if (c.compression !== undefined) {
        assert.equal(statSync(core).size, dumpLength, 'the server truncated the core to the KDH dumplength');
        assert.ok(dumpLength < original.length, `compressed: ${dumpLength} of ${original.length} bytes`);
      }
      const inspected = await runNetdump(['inspect', dumpDir]);
      assertStatus(inspected, 0);
      assert.ok(
        inspected.stdout.startsWith(`dump 0 from ${CLIENT} in ${dumpDir}\n  info.${CLIENT}.0: complete (the client sent FINISHED)\n`),
        inspected.stdout,
      );
      assert.match(inspected.stdout, /^ {4}Header Parity Check: Pass$/m);
      const form = c.encrypted
        ? 'encrypted'
        : c.compression === undefined
          ? 'not compressed'
          : `${c.compression}, ${original.length} bytes uncompressed`;
      assert.ok(inspected.stdout.includes(`\n  core ${path.basename(core)}: ${statSync(core).size} bytes, ${form}`), inspected.stdout);
      assert.match(inspected.stdout, /^ {2}length: \d+ bytes, the header's dump length \(\d+\)( in whole blocks)?: whole$/m);

      let body: Buffer = readFileSync(core);
      if (c.encrypted) {
        const padding = c.profile === 'freebsd12' ? 'pkcs1' : 'oaep';
        const ekcd = unwrapEkcdKey(readFileSync(path.join(dumpDir, `key.${CLIENT}.0`)), privateKey, padding);
        body = decryptDumpBody(body, ekcd);
        // The same through the CLI, decryptcore's way: the key file, the private key, the core.
        const decrypted = await runNetdump(['decrypt', '--key', privateKeyFile, path.join(dumpDir, `key.${CLIENT}.0`), core]);
        assertStatus(decrypted, 0);
        assert.deepEqual(readFileSync(path.join(dumpDir, `vmcore.${CLIENT}.0${suffix(c)}`)), body);
      }
      if (c.compression === undefined) {
        assert.deepEqual(body, paddedToBlock(original));
        return;
      }
      const tool = c.compression === 'gzip' ? 'gzip' : 'zstd';
      // What the user runs on the server: test the stream, then decompress it.
      const plainCore = path.join(dumpDir, `stream${suffix(c)}`);
      writeFileSync(plainCore, body);
      execFileSync(tool, ['-t', plainCore], { stdio: 'pipe' });
      assert.deepEqual(execFileSync(tool, ['-dc', plainCore], { maxBuffer: 64 * 2 ** 20 }), original);
      const decompressed = await runNetdump(['decompress', plainCore, '-o', path.join(dumpDir, 'decompressed')]);
      assertStatus(decompressed, 0);
      assert.deepEqual(readFileSync(path.join(dumpDir, 'decompressed')), original);
    });
  }

  test('a synthetic minidump with -Z: inspect reads its header through zstd and finds it complete; cut short, it says so', async () => {
    const dumpDir = path.join(dir, 'minidump-zstd');
    mkdirSync(dumpDir);
    const server = await Netdumpd.start(hosts, dumpDir);
    try {
      assertStatus(await runNetdump([...hostArgs(hosts), '-Z', '--synthetic', '12M', hosts.client.iface]), 0);
      await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
    } finally {
      await server.stop();
    }
    const core = path.join(dumpDir, `vmcore.${CLIENT}.0.zst`);
    const inspected = await runNetdump(['inspect', core]);
    assertStatus(inspected, 0);
    assert.match(inspected.stdout, /^ {2}minidump version 3: kernbase 0xfffffe0000000000, dmap 0xfffff80000000000-0xfffffc0000000000$/m);
    assert.match(inspected.stdout, /^ {4}\d+ pages dumped: 12582912 bytes expected, 12582912 present: complete$/m);
    // The same stream decompressed and cut by a page: inspect of the plain core finds it short.
    const plain = path.join(dumpDir, 'plain');
    assertStatus(await runNetdump(['decompress', core, '-o', plain]), 0);
    writeFileSync(plain, readFileSync(plain).subarray(0, 12582912 - 4096));
    const short = await runNetdump(['inspect', plain]);
    assert.match(short.stdout, /12582912 bytes expected, 12578816 present: INCOMPLETE: 4096 bytes short$/m);
  });

  test('the tools refuse what they cannot do: exit 2 for usage, exit 1 for files, never overwriting', async () => {
    const usage = await runNetdump(['decrypt', 'key.x.0', 'vmcore_encrypted.x.0']);
    assertStatus(usage, 2);
    assert.match(usage.stderr, /^netdump decrypt: give the RSA private key: --key PRIVATE\.pem$/m);
    const notCompressed = await runNetdump(['decompress', dumpFile, '-o', path.join(dir, 'x')]);
    assertStatus(notCompressed, 1);
    assert.match(notCompressed.stderr, /is neither gzip nor zstd$/m);
    const missing = await runNetdump(['inspect', path.join(dir, 'no-such-dump')]);
    assertStatus(missing, 1);
    assert.match(missing.stderr, /^netdump inspect: cannot inspect .*no-such-dump: ENOENT/m);
    writeFileSync(path.join(dir, 'taken'), 'keep me');
    const gz = path.join(dir, 'small.gz');
    writeFileSync(gz, execFileSync('gzip', ['-c', dumpFile], { maxBuffer: 64 * 2 ** 20 }));
    const exists = await runNetdump(['decompress', gz, '-o', path.join(dir, 'taken')]);
    assertStatus(exists, 1);
    assert.match(exists.stderr, /taken exists: remove it or give -o$/m);
    assert.equal(readFileSync(path.join(dir, 'taken'), 'utf8'), 'keep me');
    // Each failure names the file it is about, in words.
    const cut = path.join(dir, 'cut.gz');
    writeFileSync(cut, readFileSync(gz).subarray(0, 100));
    const expectations: Array<[string[], string]> = [
      [['decompress', dir], `netdump decompress: cannot read the core ${dir}: not a regular file\n`],
      [['decompress', cut, '-o', path.join(dir, 'cut')], `netdump decompress: ${cut}: unexpected end of file\n`],
      [
        ['decrypt', '--key', dir, dumpFile, dumpFile, '-o', path.join(dir, 'x')],
        `netdump decrypt: cannot read the private key ${dir}: not a regular file\n`,
      ],
      [
        ['decrypt', '--key', privateKeyFile, dumpFile, path.join(dir, 'none'), '-o', path.join(dir, 'x')],
        `netdump decrypt: cannot read the encrypted core ${path.join(dir, 'none')}: No such file or directory\n`,
      ],
    ];
    for (const [args, message] of expectations) {
      const refused = await runNetdump(args);
      assertStatus(refused, 1);
      assert.equal(refused.stderr, message);
    }
    const publicAsPrivate = await runNetdump(['decrypt', '--key', publicKeyFile, dumpFile, dumpFile, '-o', path.join(dir, 'x')]);
    assertStatus(publicAsPrivate, 1);
    assert.match(
      publicAsPrivate.stderr,
      new RegExp(`^netdump decrypt: cannot read the private key ${publicKeyFile}: not a private key in PEM or DER`),
    );
    assert.equal(existsSync(path.join(dir, 'cut')) || existsSync(path.join(dir, 'x')), false, 'nothing written');
  });

  const refused: Array<[string[], RegExp]> = [
    [['-z', '-Z'], /^netdump: -z and -Z are exclusive: give one compression$/m],
    [
      ['--profile', 'freebsd12', '-k', 'KEY', '-z'],
      /^netdump: -z with -k: FreeBSD 12 cannot both compress and encrypt a dump \(dumpon: EOPNOTSUPP\)$/m,
    ],
    [
      ['-k', 'KEY', '-C', 'aes256-cbc', '-Z'],
      /^netdump: -Z with -k: FreeBSD 13 refuses to compress a dump encrypted with AES-256-CBC \(dumpon: EOPNOTSUPP\); ChaCha20/m,
    ],
  ];
  for (const [args, message] of refused) {
    test(`refused: ${args.join(' ')} is exit 2 with the reason, and nothing is sent`, async () => {
      const withKey = args.map((arg) => (arg === 'KEY' ? publicKeyFile : arg));
      const result = await runNetdump([...hostArgs(hosts), ...withKey, hosts.client.iface, dumpFile]);
      assertStatus(result, 2);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /^Try 'netdump --help' for more information\.$/m);
      assert.equal(result.stdout, '');
    });
  }
});

function suffix(c: Case): string {
  return c.compression === 'gzip' ? '.gz' : c.compression === 'zstd' ? '.zst' : '';
}

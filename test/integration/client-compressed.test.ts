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
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { decryptDumpBody, unwrapEkcdKey } from '../../src/dump/ekcd.js';
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

  before(async () => {
    await requireTool('zstd', 'zstd');
    await requireTool('gzip', 'gzip');
    hosts = createTestHostPair();
    dir = makeTempDir('netdump-client-compressed-');
    original = dumpBytes();
    dumpFile = path.join(dir, 'dump.bin');
    writeFileSync(dumpFile, original);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    publicKeyFile = path.join(dir, 'public.pem');
    writeFileSync(publicKeyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  for (const c of CASES) {
    test(`${c.name} (${c.profile}): the files netdumpd makes, and the original bytes back from them`, async (t) => {
      const dumpDir = path.join(dir, c.name);
      mkdirSync(dumpDir);
      const server = await Netdumpd.start(hosts, dumpDir);
      try {
        const keyArgs = c.encrypted ? ['-k', publicKeyFile] : [];
        const result = await runNetdump([...hostArgs(hosts), '--profile', c.profile, ...keyArgs, ...c.args, hosts.client.iface, dumpFile]);
        assertStatus(result, 0);
        assert.match(result.stdout, /^Dumping 3 out of 4 MB:(\.\.\d+%)+\nnetdump finished\.\n/m);
        await server.waitForLine(/^Completed dump from client 198\.18\.0\.1/);
      } finally {
        await server.stop();
      }
      const info = readFileSync(path.join(dumpDir, `info.${CLIENT}.0`), 'utf8');
      const core = path.join(dumpDir, `${c.encrypted ? 'vmcore_encrypted' : 'vmcore'}.${CLIENT}.0${suffix(c)}`);
      const dumpLength = Number(/^(\d+)B/.exec(infoField(info, 'Dump Length'))![1]);
      t.diagnostic(`${path.basename(core)}: Dump Length ${dumpLength} of ${original.length} bytes`);
      assert.equal(infoField(info, 'Compression'), c.compression ?? 'none');
      if (c.compression !== undefined) {
        assert.equal(statSync(core).size, dumpLength, 'the server truncated the core to the KDH dumplength');
        assert.ok(dumpLength < original.length, `compressed: ${dumpLength} of ${original.length} bytes`);
      }
      let body: Buffer = readFileSync(core);
      if (c.encrypted) {
        const padding = c.profile === 'freebsd12' ? 'pkcs1' : 'oaep';
        const ekcd = unwrapEkcdKey(readFileSync(path.join(dumpDir, `key.${CLIENT}.0`)), privateKey, padding);
        body = decryptDumpBody(body, ekcd);
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
    });
  }

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

/**
 * The netdump client through a Linux router: the server is on another
 * subnet, so ARP for it fails, the client says so, falls back to the
 * gateway (-g), and the dump goes through the router to netdumpd.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createRoutedTestHosts, type TestHosts } from '../../scripts/lib/testhosts.js';
import {
  assertFileBytes,
  assertInfoFile,
  assertStatus,
  ctimeUtc,
  makeTempDir,
  Netdumpd,
  paddedToBlock,
  removeDir,
  runNetdump,
  writeRandomDump,
} from '../helpers/netdump-cli.js';

const DUMP_TIME = 1_700_000_000;

describe('netdump client → Linux router → netdumpd', () => {
  let hosts: TestHosts;
  let dir: string;

  before(() => {
    hosts = createRoutedTestHosts();
    // netdumpd looks the client up by reverse DNS before it acks the herald;
    // the test hosts' name lookups fail at once (testhosts.ts), so the
    // client's short herald rounds (--polls 200) are enough.
    dir = makeTempDir('netdump-client-routed-');
  });

  after(() => {
    hosts?.destroy();
    removeDir(dir);
  });

  /** What the CLI says first of a routed dump with --arp-retries 1 --polls 200 (the kernel's console follows). */
  const ROUTED_NOTE =
    'netdump: the server is reached through 198.18.1.254: like the kernel, netdump first asks ARP for the server itself ' +
    '(1 × 200 polls of 0.5 ms, up to 0.1 s), then for the gateway; --arp-retries 1 shortens that\n';

  const cases = [
    {
      profile: 'freebsd13',
      opening: (mac: string) =>
        'debugnet: overwriting mbuf zone pointers\ndebugnet_connect: searching for gateway MAC...\n(ARP retry)\n' +
        'Failed to ARP server, trying to reach gateway...\n' +
        `netdumping to 198.18.2.1 (${mac})\n`,
    },
    {
      profile: 'freebsd12',
      opening: (mac: string) =>
        'netdump: overwriting mbuf zone pointers\nnetdump in progress. searching for server...\n(ARP retry)' +
        'Failed to ARP server, trying to reach gateway...\n' +
        `netdumping to 198.18.2.1 (${mac})\n`,
    },
  ];
  for (const { profile, opening } of cases) {
    test(`${profile}, -g 198.18.1.254: ARP for the server fails, the gateway answers, the dump lands`, async () => {
      const router = hosts.router!;
      assert.equal(hosts.client.ip, '198.18.1.1');
      assert.equal(router.clientSide.ip, '198.18.1.254');
      assert.equal(hosts.server.ip, '198.18.2.1');
      const dumpDir = path.join(dir, profile);
      mkdirSync(dumpDir);
      const server = await Netdumpd.start(hosts, dumpDir);
      try {
        const { file, bytes } = writeRandomDump(dir, `${profile}.bin`, 400 * 1024 + 11);
        const args = ['--netns', hosts.client.ns, '-s', '198.18.2.1', '-c', '198.18.1.1', '-g', '198.18.1.254', '--profile', profile];
        const result = await runNetdump([
          ...args,
          '--arp-retries',
          '1',
          '--polls',
          '200',
          '--hostname',
          `routed-${profile}`,
          '--panic',
          'routed dump',
          '--dump-time',
          String(DUMP_TIME),
          hosts.client.iface,
          file,
        ]);
        assertStatus(result, 0);
        assert.ok(result.stdout.startsWith(`${ROUTED_NOTE}${opening(router.clientSide.mac)}Dumping 0 out of 1 MB:`), result.stdout);
        assert.equal(result.stdout.split('(ARP retry)').length - 1, 1, 'one attempt for the server');
        assert.match(result.stdout, /\nnetdump finished\.\n(debugnet: restoring mbuf zone pointers\n)?\nDump complete\n/);
        assert.equal(result.stderr, '');
        await server.waitForLine(/^Completed dump from client 198\.18\.1\.1 \[198\.18\.1\.1\]$/);
        assertFileBytes(path.join(dumpDir, 'vmcore.198.18.1.1.0'), paddedToBlock(bytes));
        assertInfoFile(path.join(dumpDir, 'info.198.18.1.1.0'), {
          dumpLength: bytes.length,
          hostname: `routed-${profile}`,
          panic: 'routed dump',
          dumptime: ctimeUtc(DUMP_TIME),
        });
      } finally {
        await server.stop();
      }
    });
  }
});

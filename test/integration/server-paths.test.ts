/**
 * Herald paths (spec §6.3, §6.5): an existing relative directory inside the
 * dump directory is used; anything else (absolute, "..", a symlink out, a
 * missing directory, no NUL) falls back to the default path (-p), and
 * nothing is ever written outside the dump directory.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { buildKdh, expectedKdhInfo, heraldPath, type NetdumpTestClient } from '../helpers/netdump-test-client.js';
import type { HandlerRecorder, NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

describe('netdumpd: herald paths', () => {
  let fixture: ServerFixture;
  let hosts: TestHosts;
  let server: NetdumpdServer;
  let work: string;
  let dumpDir: string;
  let outside: string;
  let handler: HandlerRecorder;

  before(async () => {
    fixture = new ServerFixture('netdumpd-paths-');
    ({ hosts, work, dumpDir, handler } = fixture);
    outside = path.join(work, 'outside');
    mkdirSync(path.join(dumpDir, 'sub', 'inner'), { recursive: true });
    mkdirSync(path.join(dumpDir, 'def'));
    mkdirSync(outside);
    symlinkSync('../outside', path.join(dumpDir, 'escape'));
    symlinkSync(outside, path.join(dumpDir, 'sub', 'absolute-escape'));
    symlinkSync('sub', path.join(dumpDir, 'inlink'));
    writeFileSync(path.join(dumpDir, 'notadir'), 'a file\n');
    server = await fixture.startServer(['-d', dumpDir, '-P', fixture.pidFile, '-i', handler.script, '-p', 'def']);
  });

  after(() => fixture?.tearDown());

  /** A herald with this payload, then FINISHED. */
  async function emptyDump(client: NetdumpTestClient, payload: Uint8Array): Promise<void> {
    await client.herald(1, payload);
    await client.finish(2);
  }

  const list = (dir: string) => readdirSync(path.join(dumpDir, dir)).sort();
  const text = (name: string) => readFileSync(path.join(dumpDir, name), 'latin1');

  test('an existing subdirectory named by the herald is used', async () => {
    const ip = hosts.client.ip;
    const client = await fixture.clientAt(ip);
    await emptyDump(client, heraldPath('sub'));
    assert.deepEqual(list('sub'), [
      'absolute-escape',
      `bounds.${ip}`,
      'info.198.18.0.1.0',
      'info.198.18.0.1.last',
      'inner',
      'vmcore.198.18.0.1.0',
      'vmcore.198.18.0.1.last',
    ]);
    assert.equal(text('sub/info.198.18.0.1.0'), 'Dump from 198.18.0.1 [198.18.0.1]\nDump complete\n');
    assert.equal(readlinkSync(path.join(dumpDir, 'sub/vmcore.198.18.0.1.last')), 'vmcore.198.18.0.1.0');
    await server.waitForLine('New dump from client 198.18.0.1 [198.18.0.1] (to sub/vmcore.198.18.0.1.0)');
    await handler.waitFor(['success', ip, ip, 'sub/info.198.18.0.1.0', 'sub/vmcore.198.18.0.1.0']);

    await emptyDump(client, heraldPath('sub/inner'));
    assert.deepEqual(list('sub/inner'), [`bounds.${ip}`, `info.${ip}.0`, `info.${ip}.last`, `vmcore.${ip}.0`, `vmcore.${ip}.last`]);
    await handler.waitFor(['success', ip, ip, `sub/inner/info.${ip}.0`, `sub/inner/vmcore.${ip}.0`]);

    // A symlink that stays inside the dump directory is followed.
    await emptyDump(client, heraldPath('inlink'));
    assert.equal(text(`sub/info.${ip}.1`), `Dump from ${ip} [${ip}]\nDump complete\n`);
    await handler.waitFor(['success', ip, ip, `inlink/info.${ip}.1`, `inlink/vmcore.${ip}.1`]);
    assert.equal(server.countLines('Refusing path'), 0);
    assert.deepEqual(list('def'), []);
  });

  test('refused paths land in the default path, with a warning, and nothing is written outside', async () => {
    const ip = '198.18.0.20';
    const client = await fixture.clientAt(ip);
    const refused: Array<[string, string]> = [
      ['/tmp', 'not a relative path'],
      ['..', 'contains ".."'],
      ['sub/../..', 'contains ".."'],
      ['escape', 'leads out of the dump directory'],
      ['sub/absolute-escape', 'leads out of the dump directory'],
      ['nosuch', 'No such file or directory'],
      ['notadir', 'not a directory'],
    ];
    for (const [index, [heraldDir, reason]] of refused.entries()) {
      const from = server.lines.length;
      await emptyDump(client, heraldPath(heraldDir));
      await server.waitForLine(`Refusing path '${heraldDir}' from client ${ip} [${ip}]: ${reason}`, 5000, from);
      await server.waitForLine(`Can't create output files in path for client ${ip} [${ip}], retrying with default`, 5000, from);
      await server.waitForLine(`New dump from client ${ip} [${ip}] (to def/vmcore.${ip}.${index})`, 5000, from);
      assert.equal(text(`def/info.${ip}.${index}`), `Dump from ${ip} [${ip}]\nDump complete\n`);
      await handler.waitFor(['success', ip, ip, `def/info.${ip}.${index}`, `def/vmcore.${ip}.${index}`]);
    }
    const n = refused.length;
    assert.deepEqual(list('def'), [
      `bounds.${ip}`,
      ...Array.from({ length: n }, (_, i) => `info.${ip}.${i}`),
      `info.${ip}.last`,
      ...Array.from({ length: n }, (_, i) => `vmcore.${ip}.${i}`),
      `vmcore.${ip}.last`,
    ]);
    assert.equal(text(`def/bounds.${ip}`), `${n}\n`);
    assert.deepEqual(readdirSync(outside), [], 'nothing is written through the symlink');
    assert.deepEqual(readdirSync(work).sort(), ['dump', 'handler.sh', 'netdumpd.pid', 'outside', 'records']);
    assert.deepEqual(
      readdirSync('/tmp').filter((name) => name.includes(ip)),
      [],
    );
    assert.deepEqual(list('.'), ['def', 'escape', 'inlink', 'notadir', 'sub'], 'nothing lands in the dump directory itself');
  });

  test('symlinks planted under dump file names are never written through', async () => {
    const ip = '198.18.0.22';
    const client = await fixture.clientAt(ip);
    const plant = (name: string, target: string) => symlinkSync(`../../outside/${target}`, path.join(dumpDir, 'def', name));
    plant(`bounds.${ip}`, 'bounds');
    plant(`key.${ip}.0`, 'key');
    plant(`info.${ip}.last`, 'info-last');
    await client.herald(1);
    client.send({ type: 5, seq: 2, payload: Buffer.alloc(4096, 0x6b) });
    await client.expectNoAck(300, 'EKCD_KEY through a symlink');
    await client.sendKdh(Buffer.from(buildKdh()), 3);
    await client.finish(4);
    assert.equal(text(`def/info.${ip}.0`), `Dump from ${ip} [${ip}]\n${expectedKdhInfo()}Dump complete\n`);
    assert.equal(readlinkSync(path.join(dumpDir, 'def', `bounds.${ip}`)), '../../outside/bounds');
    assert.equal(readlinkSync(path.join(dumpDir, 'def', `key.${ip}.0`)), '../../outside/key');
    assert.equal(readlinkSync(path.join(dumpDir, 'def', `info.${ip}.last`)), `info.${ip}.0`, 'the planted link is replaced, not followed');

    // A planted core file name: the server cannot create the dump's files, so the herald is dropped.
    const other = '198.18.0.23';
    const refusedClient = await fixture.clientAt(other);
    plant(`vmcore.${other}.0`, 'core');
    refusedClient.send({ type: 1, seq: 1 }, 20023);
    await refusedClient.expectNoAck(300, 'herald whose core file is a planted symlink');
    await server.waitForLine(`Can't create output files for new client ${other} [${other}]`);
    assert.deepEqual(
      list('def').filter((name) => name.includes(other)),
      [`bounds.${other}`, `vmcore.${other}.0`],
      'the info file taken for the refused dump is given back',
    );
    assert.deepEqual(readdirSync(outside), []);
  });

  test('a path without its NUL and no path: default path, no warning; an empty path: default path', async () => {
    const ip = '198.18.0.21';
    const client = await fixture.clientAt(ip);
    const before = server.countLines('Refusing path');
    await emptyDump(client, Buffer.from('sub', 'latin1'));
    await emptyDump(client, Buffer.alloc(0));
    assert.equal(server.countLines('Refusing path'), before);
    assert.equal(server.countLines(`Can't create output files in path for client ${ip}`), 0);
    // netdumpd would try "/info…" for "" and warn before it retries with the default; either way, the default.
    await emptyDump(client, Buffer.alloc(1));
    for (const index of [0, 1, 2]) {
      assert.equal(text(`def/info.${ip}.${index}`), `Dump from ${ip} [${ip}]\nDump complete\n`);
      await handler.waitFor(['success', ip, ip, `def/info.${ip}.${index}`, `def/vmcore.${ip}.${index}`]);
    }
    assert.ok(!list('sub').some((name) => name.includes(ip)));
  });
});

/**
 * FIFOs planted in the dump directory under the names the server opens
 * (bounds.<host>, info.<host>.<N>, vmcore.<host>.<N>, key.<host>.<N>): an
 * open or read of one would wait for a writer or reader that never comes
 * and stop the server's only thread. Each is refused with a log line that
 * says why, and the server goes on as netdumpd does when that open fails.
 * Every test is bounded: a server that blocks fails it, and is killed at
 * tear-down.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { NETDUMP_EKCD_KEY, NETDUMP_HERALD } from '../../src/wire/index.js';
import { heraldPath } from '../helpers/netdump-test-client.js';
import type { NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

const TEST_TIMEOUT_MS = 20_000;
const REFUSED_BY_FSTAT = 'refused: not a regular file (a FIFO)';
const REFUSED_AT_OPEN = 'refused: not a regular file (a FIFO, socket or device)';

describe('netdumpd: FIFOs under the names of dump files', () => {
  let fixture: ServerFixture;
  let server: NetdumpdServer;
  let dumpDir: string;

  before(async () => {
    fixture = new ServerFixture('netdumpd-fifos-');
    ({ dumpDir } = fixture);
    mkdirSync(path.join(dumpDir, 'sub'));
    server = await fixture.startServer(['-d', dumpDir, '-P', fixture.pidFile]);
  });

  after(() => fixture?.tearDown());

  const mkfifo = (name: string) => execFileSync('mkfifo', [path.join(dumpDir, name)]);
  const text = (name: string) => readFileSync(path.join(dumpDir, name), 'latin1');
  const isFifo = (name: string) => statSync(path.join(dumpDir, name)).isFIFO();
  const completed = (ip: string) => `Dump from ${ip} [${ip}]\nDump complete\n`;

  test('bounds.<host>: read as missing and not rewritten; the dump takes the first free index', { timeout: TEST_TIMEOUT_MS }, async () => {
    const ip = '198.18.0.50';
    mkfifo(`bounds.${ip}`);
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    await client.finish(2);
    assert.equal(text(`info.${ip}.0`), completed(ip));
    await server.waitForLine(`openat(bounds.${ip}): ${REFUSED_BY_FSTAT}`);
    await server.waitForLine(`openat(bounds.${ip}): ${REFUSED_AT_OPEN}`);
    assert.ok(isFifo(`bounds.${ip}`), 'the FIFO is left as it was');
  });

  test('info.<host>.<N>: that index is taken, the next one is used', { timeout: TEST_TIMEOUT_MS }, async () => {
    const ip = '198.18.0.51';
    mkfifo(`info.${ip}.0`);
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    await client.finish(2);
    assert.equal(text(`info.${ip}.1`), completed(ip));
    assert.equal(text(`bounds.${ip}`), '2\n');
    assert.ok(isFifo(`info.${ip}.0`));
  });

  test(
    "vmcore.<host>.<N> in the herald's path: the index is given back and the default path is used",
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const ip = '198.18.0.52';
      mkfifo(`sub/vmcore.${ip}.0`);
      const client = await fixture.clientAt(ip);
      const from = server.lines.length;
      await client.herald(1, heraldPath('sub'));
      await client.finish(2);
      assert.equal(text(`info.${ip}.0`), completed(ip));
      await server.waitForLine(`openat(vmcore.${ip}.0): ${REFUSED_AT_OPEN}`, 5000, from);
      await server.waitForLine(`Can't create output files in path for client ${ip} [${ip}], retrying with default`, 5000, from);
      assert.throws(() => statSync(path.join(dumpDir, `sub/info.${ip}.0`)), { code: 'ENOENT' }, 'the info file is given back');
      assert.ok(isFifo(`sub/vmcore.${ip}.0`));
    },
  );

  test(
    'vmcore.<host>.<N> in the default path: the herald is not answered, and the server serves on',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const ip = '198.18.0.53';
      mkfifo(`vmcore.${ip}.0`);
      const refused = await fixture.clientAt(ip);
      refused.send({ type: NETDUMP_HERALD, seq: 1 }, refused.heraldPort);
      await refused.expectNoAck(1000, 'herald whose core file is a FIFO');
      await server.waitForLine(`Can't create output files for new client ${ip} [${ip}]`);

      const other = await fixture.clientAt('198.18.0.54');
      await other.herald(1);
      await other.finish(2);
      assert.equal(text('info.198.18.0.54.0'), completed('198.18.0.54'));
    },
  );

  test('key.<host>.<N>: the key is not acked, and the dump goes on', { timeout: TEST_TIMEOUT_MS }, async () => {
    const ip = '198.18.0.55';
    mkfifo(`key.${ip}.0`);
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    client.send({ type: NETDUMP_EKCD_KEY, seq: 2, offset: 0, payload: Buffer.alloc(64, 1) });
    await client.expectNoAck(1000, 'key whose file is a FIFO');
    await server.waitForLine(`openat(key.${ip}.0): ${REFUSED_AT_OPEN}`);
    await client.finish(3);
    assert.equal(text(`info.${ip}.0`), completed(ip));
    assert.ok(isFifo(`key.${ip}.0`));
  });
});

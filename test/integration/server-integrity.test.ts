/**
 * What a dump keeps whatever the client sends and however its session ends:
 * acked VMCORE data reaches the file before the info file says the dump is
 * over (idle timeout, a new herald, SIGTERM); an offset past what a number
 * holds exactly is written where it says or fails as a write error, never
 * over the start of the vmcore; a client directory swapped for a symlink
 * mid-dump is not written through.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  renameSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { assertSameBytes, buildKdh, expectedKdhInfo, heraldPath } from '../helpers/netdump-test-client.js';
import type { HandlerRecorder, NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

const VMCORE = 3;
/** 100 KiB: less than the server's 128 KiB write buffer, so all of it is still buffered when the session ends. */
const ACKED_BYTES = 100 * 1024;

describe('netdumpd: acked data, offsets, the held directory', () => {
  let fixture: ServerFixture;
  let server: NetdumpdServer;
  let dumpDir: string;
  let handler: HandlerRecorder;

  before(async () => {
    fixture = new ServerFixture('netdumpd-integrity-');
    ({ dumpDir, handler } = fixture);
    server = await fixture.startServer(['-d', dumpDir, '-P', fixture.pidFile, '-i', handler.script, '--timeout', '1']);
  });

  after(() => fixture?.tearDown());

  const read = (name: string) => readFileSync(path.join(dumpDir, name));
  const text = (name: string) => read(name).toString('latin1');
  const timedOut = (ip: string) => `Dump from ${ip} [${ip}]\nDump incomplete: client timed out\n`;

  test('an idle timeout writes every acked byte before "Dump incomplete"', async () => {
    const ip = '198.18.0.30';
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    const data = randomBytes(ACKED_BYTES);
    await client.sendData(data, { firstSeq: 2 });
    const record = await handler.waitFor(['timeout', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
    assert.equal(record.info, timedOut(ip));
    assertSameBytes(read(`vmcore.${ip}.0`), data, 'vmcore after the idle timeout');
  });

  test("a new herald from the same host writes the old dump's acked bytes first", async () => {
    const ip = '198.18.0.31';
    const client = await fixture.clientAt(ip);
    const firstPort = await client.herald(1);
    const data = randomBytes(ACKED_BYTES);
    await client.sendData(data, { firstSeq: 2 });
    const secondPort = await client.herald(1);
    assert.notEqual(secondPort, firstPort, 'the new herald starts a new session');
    const record = await handler.waitFor(['timeout', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
    assert.equal(record.info, timedOut(ip));
    assertSameBytes(read(`vmcore.${ip}.0`), data, "the first dump's vmcore");
    await client.finish(2);
    assert.equal(text(`info.${ip}.1`), `Dump from ${ip} [${ip}]\nDump complete\n`);
  });

  test('an offset of 2^64 - 4096 is a write error (the kernel refuses a negative off_t), never a write at 0', async () => {
    const ip = '198.18.0.32';
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    const start = randomBytes(3 * 1448);
    await client.sendData(start, { firstSeq: 2 });
    client.send({ type: VMCORE, seq: 5, offset: 0xffff_ffff_ffff_f000, payload: randomBytes(1448) });
    await client.expectNoAck(500, 'VMCORE at offset 2^64 - 4096');
    const expectedInfo = `Dump from ${ip} [${ip}]\nDump unsuccessful: write error @ offset fffffffffffff000: Invalid argument\n`;
    assert.equal((await handler.waitFor(['error', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`])).info, expectedInfo);
    assertSameBytes(read(`vmcore.${ip}.0`), start, 'the vmcore keeps its start');
    await server.waitForLine(`pwrite (for client ${ip} [${ip}]): Invalid argument`);
  });

  test('an offset of 2^53 is written there, or fails as the file system says: the start is untouched', async () => {
    const ip = '198.18.0.33';
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    const start = randomBytes(3 * 1448);
    await client.sendData(start, { firstSeq: 2 });
    const far = randomBytes(1448);
    client.send({ type: VMCORE, seq: 5, offset: 2 ** 53, payload: far });
    const ack = await client.nextAck(1000);
    const vmcore = path.join(dumpDir, `vmcore.${ip}.0`);
    if (ack === undefined) {
      // ext4 holds at most 16 TiB in a file.
      const expectedInfo = `Dump from ${ip} [${ip}]\nDump unsuccessful: write error @ offset 20000000000000: File too large\n`;
      assert.equal((await handler.waitFor(['error', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`])).info, expectedInfo);
      assertSameBytes(read(`vmcore.${ip}.0`), start, 'the vmcore keeps its start');
    } else {
      assert.equal(ack.seq, 5);
      await client.finish(6);
      assert.equal(statSync(vmcore).size, 2 ** 53 + far.length);
      // An 8 PiB sparse file: read its start only.
      const fd = openSync(vmcore, 'r');
      const head = Buffer.alloc(start.length);
      try {
        readSync(fd, head, 0, head.length, 0);
      } finally {
        closeSync(fd);
      }
      assertSameBytes(head, start, 'the vmcore keeps its start');
    }
  });

  test('a client directory renamed and replaced by a symlink mid-dump: every file still lands in the directory', async () => {
    const ip = '198.18.0.34';
    const outside = path.join(fixture.work, 'outside');
    mkdirSync(outside);
    mkdirSync(path.join(dumpDir, 'sub'));
    const client = await fixture.clientAt(ip);
    await client.herald(1, heraldPath('sub'));
    const vmcore = randomBytes(20_000);
    let seq = await client.sendData(vmcore, { firstSeq: 2 });

    renameSync(path.join(dumpDir, 'sub'), path.join(dumpDir, 'moved'));
    symlinkSync(outside, path.join(dumpDir, 'sub'));

    const key = randomBytes(300);
    seq = await client.sendKey(key, seq);
    const kdh = { dumpLength: vmcore.length, dumpKeySize: key.length };
    await client.sendKdh(buildKdh(kdh), seq++);
    await client.finish(seq);

    assert.deepEqual(readdirSync(outside), [], 'nothing is written through the swapped-in symlink');
    assert.deepEqual(readdirSync(path.join(dumpDir, 'moved')).sort(), [
      `bounds.${ip}`,
      `info.${ip}.0`,
      `info.${ip}.last`,
      `key.${ip}.0`,
      `vmcore.${ip}.last`,
      `vmcore_encrypted.${ip}.0`,
    ]);
    assertSameBytes(read(`moved/vmcore_encrypted.${ip}.0`), vmcore, 'vmcore');
    assertSameBytes(read(`moved/key.${ip}.0`), key, 'key');
    assert.equal(readlinkSync(path.join(dumpDir, 'moved', `vmcore.${ip}.last`)), `vmcore_encrypted.${ip}.0`);
    assert.equal(text(`moved/info.${ip}.0`), `Dump from ${ip} [${ip}]\n${expectedKdhInfo(kdh)}Dump complete\n`);
  });

  test('SIGTERM writes every acked byte before "Dump incomplete"', async () => {
    // A server without the 1 s timeout, so that the signal, not the idle timer, ends the dump.
    await server.stop();
    server = await fixture.startServer(['-d', dumpDir, '-P', fixture.pidFile]);
    const ip = '198.18.0.35';
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    const data = randomBytes(ACKED_BYTES);
    await client.sendData(data, { firstSeq: 2 });
    await server.stop();
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    assert.deepEqual(server.lines.slice(-2), ['Shutting down...', `Client ${ip} timed out`]);
    assert.equal(text(`info.${ip}.0`), timedOut(ip));
    assertSameBytes(read(`vmcore.${ip}.0`), data, 'vmcore after SIGTERM');
  });
});

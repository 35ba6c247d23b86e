/**
 * netdumpd with a 1-second client timeout and a handler script: idle
 * sessions end as "timed out", traffic keeps a session alive, the handler's
 * arguments, working directory and environment, and shutdown on SIGTERM
 * (spec §6.6, §6.8, §6.9).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { assertSameBytes, buildKdh, expectedKdhInfo } from '../helpers/netdump-test-client.js';
import type { HandlerRecorder, NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

describe('netdumpd: timeouts and the handler', () => {
  let fixture: ServerFixture;
  let hosts: TestHosts;
  let server: NetdumpdServer;
  let dumpDir: string;
  let pidFile: string;
  let handler: HandlerRecorder;

  before(async () => {
    fixture = new ServerFixture('netdumpd-timeout-');
    ({ hosts, dumpDir, pidFile, handler } = fixture);
    server = await fixture.startServer(['-d', dumpDir, '-P', pidFile, '-i', handler.script, '--timeout', '1']);
  });

  after(() => fixture?.tearDown());

  const text = (name: string) => readFileSync(path.join(dumpDir, name), 'latin1');

  test('a successful dump runs the handler with reason, ip, host, info and core, in the dump directory, with an empty environment', async () => {
    const ip = hosts.client.ip;
    const client = await fixture.clientAt(ip);
    const vmcore = randomBytes(30_000);
    await client.dump(vmcore, buildKdh({ dumpLength: vmcore.length }));
    const record = await handler.waitFor(['success', '198.18.0.1', '198.18.0.1', './info.198.18.0.1.0', './vmcore.198.18.0.1.0']);
    const root = realpathSync(dumpDir);
    assert.equal(record.cwd, root);
    // The server passes no variable at all; /bin/sh (dash) exports PWD itself, and nothing else.
    assert.equal(record.env, `PWD=${root}\n`);
    // The info file is complete when the handler starts.
    assert.equal(record.info, `Dump from ${ip} [${ip}]\n${expectedKdhInfo({ dumpLength: vmcore.length })}Dump complete\n`);
    assert.equal(handler.records().length, 1);
    await server.waitForLine(/^Process \d+ exited with status 0$/);
  });

  test('an idle client times out: info, log and handler say so', async () => {
    const ip = '198.18.0.10';
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    // The clock starts before the last datagram leaves: the server counts
    // from when it received it, which is before we see its ack.
    const sent = Date.now();
    await client.sendData(randomBytes(10_000), { firstSeq: 2 });
    const from = server.lines.length;
    await server.waitForLine(`Client ${ip} timed out`, 5000, from);
    const idle = Date.now() - sent;
    assert.ok(idle >= 1000 && idle < 3500, `timed out after ${idle} ms idle, expected 1–2 s`);
    // The server logs the timeout before it writes the info file (as netdumpd
    // does), so the file is read once the handler, which runs after it, has started.
    const record = await handler.waitFor(['timeout', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
    const expected = `Dump from ${ip} [${ip}]\nDump incomplete: client timed out\n`;
    assert.equal(record.info, expected);
    assert.equal(text(`info.${ip}.0`), expected);
    // The session is gone: its port no longer answers.
    client.send({ type: 2, seq: 99 });
    await client.expectNoAck(300, 'FINISHED after the timeout');
    assert.ok(!existsSync(path.join(dumpDir, `vmcore.${ip}.last`)), 'no .last links for a timed-out dump');
  });

  test('any datagram that passes the size checks keeps a session alive, even of an unknown type', async () => {
    const ip = '198.18.0.11';
    const client = await fixture.clientAt(ip);
    const vmcore = randomBytes(6000);
    await client.herald(1);
    let seq = await client.sendData(vmcore, { firstSeq: 2 });
    // 1.5 s in all, never 1 s idle: type 9 is not acked, but it is traffic.
    for (let i = 0; i < 6; i++) {
      await sleep(250);
      client.send({ type: 9, seq: 1000 + i });
    }
    await client.expectNoAck(300, 'message of type 9');
    await client.sendKdh(buildKdh({ dumpLength: vmcore.length }), seq++);
    await client.finish(seq);
    assert.equal(server.countLines(`Client ${ip} timed out`), 0);
    assert.equal(text(`info.${ip}.0`), `Dump from ${ip} [${ip}]\n${expectedKdhInfo({ dumpLength: vmcore.length })}Dump complete\n`);
    assertSameBytes(readFileSync(path.join(dumpDir, `vmcore.${ip}.0`)), vmcore, 'vmcore');
    await handler.waitFor(['success', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
  });

  test('SIGTERM ends open sessions as timed out (handler runs) and removes the pidfile', async () => {
    const ip = '198.18.0.12';
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    assert.equal(Number(readFileSync(pidFile, 'utf8')), server.pid);
    await server.stop();
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    assert.ok(server.lines.includes('Shutting down...'));
    assert.ok(server.lines.includes(`Client ${ip} timed out`));
    assert.equal(text(`info.${ip}.0`), `Dump from ${ip} [${ip}]\nDump incomplete: client timed out\n`);
    await handler.waitFor(['timeout', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
    assert.ok(!existsSync(pidFile), 'the pidfile is removed');
  });
});

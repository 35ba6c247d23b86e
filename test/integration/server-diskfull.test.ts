/**
 * A write error (spec §6.6): with its dump directory on a 192 KiB tmpfs,
 * a dump that does not fit ends with "Dump unsuccessful: write error …" and
 * the handler's "error", and the server goes on serving other clients.
 *
 * The tmpfs is mounted in a private mount namespace of the server's own
 * (unshare -m), so it disappears with the server; the test reads files on
 * it through that namespace (nsenter -m), and the handler copies the info
 * file to a directory outside it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { assertSameBytes, buildKdh, expectedKdhInfo } from '../helpers/netdump-test-client.js';
import { type HandlerRecorder, NETDUMPD, type NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

describe('netdumpd: disk full', () => {
  let fixture: ServerFixture;
  let hosts: TestHosts;
  let server: NetdumpdServer;
  let dumpDir: string;
  let handler: HandlerRecorder;

  before(async () => {
    fixture = new ServerFixture('netdumpd-diskfull-');
    ({ hosts, dumpDir, handler } = fixture);
    // sh execs node, so the child's pid is the server's.
    const script = 'mount -t tmpfs -o size=192k,mode=0755 tmpfs "$1" && exec "$2" "$3" -D -d "$1" -P "$4" -i "$5"';
    server = await fixture.spawnServerWithOwnMounts(script, 'netdumpd-on-tmpfs', [
      dumpDir,
      process.execPath,
      NETDUMPD,
      fixture.pidFile,
      handler.script,
    ]);
    assert.match(readFileSync(`/proc/${server.pid}/cmdline`, 'latin1'), /netdumpd\.js/);
  });

  after(() => fixture?.tearDown());

  /** Runs a command in the server's mount namespace, where the tmpfs is. */
  const inServerMounts = (command: string, args: string[]) =>
    execFileSync('nsenter', ['-t', String(server.pid), '-m', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const readOnTmpfs = (name: string) => inServerMounts('cat', [path.join(dumpDir, name)]);

  test("the tmpfs is the server's alone", () => {
    assert.deepEqual(readdirSync(dumpDir), [], 'the test sees the empty directory under the mount');
    assert.match(inServerMounts('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', dumpDir]).toString(), /^tmpfs .*size=192k/);
  });

  test('a write error ends the dump with "Dump unsuccessful" and the handler\'s "error"; the server serves on', async () => {
    const ip = hosts.client.ip;
    const client = await fixture.clientAt(ip);
    await client.herald(1);
    // 320 KiB in order, 1448 bytes a packet, 32 packets a batch. The server
    // buffers 88 packets (127424 bytes) and writes them when the 89th comes:
    // the first write (at 0) fits, the second (at 127424 = 0x1f1c0, for the
    // 177th packet) cannot: 2 × 127424 bytes is more than 192 KiB.
    const data = randomBytes(320 * 1024);
    const ACKED_BEFORE_THE_FAILED_WRITE = 176;
    const acked: number[] = [];
    let seq = 2;
    sending: for (let offset = 0; offset < data.length;) {
      const batch: number[] = [];
      for (let i = 0; i < 32 && offset < data.length; i++, offset += 1448, seq++) {
        client.send({ type: 3, seq, offset, payload: data.subarray(offset, offset + 1448) });
        batch.push(seq);
      }
      for (const _ of batch) {
        // Up to the last expected ack, silence means a slow machine, not the end: wait long. After it,
        // 500 ms of silence shows that nothing more comes.
        const ack = await client.nextAck(acked.length < ACKED_BEFORE_THE_FAILED_WRITE ? 5000 : 500);
        if (ack === undefined) break sending;
        acked.push(ack.seq);
      }
    }
    // Packets 1..176 (seq 2..177) acked; the 177th, whose write failed, and nothing after it.
    assert.deepEqual(
      acked,
      Array.from({ length: ACKED_BEFORE_THE_FAILED_WRITE }, (_, i) => i + 2),
    );

    const expectedInfo = `Dump from ${ip} [${ip}]\nDump unsuccessful: write error @ offset 0001f1c0: No space left on device\n`;
    const record = await handler.waitFor(['error', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
    assert.equal(record.info, expectedInfo);
    assert.equal(readOnTmpfs(`info.${ip}.0`).toString('latin1'), expectedInfo);
    await server.waitForLine(`pwrite (for client ${ip} [${ip}]): No space left on device`);
    // The session is over: its port is closed.
    client.send({ type: 2, seq: 999 });
    await client.expectNoAck(300, 'FINISHED after the write error');

    // Make room, then another client dumps.
    inServerMounts('rm', [path.join(dumpDir, `vmcore.${ip}.0`)]);
    const other = '198.18.0.11';
    const second = await fixture.clientAt(other);
    const vmcore = randomBytes(64 * 1024);
    await second.dump(vmcore, buildKdh({ dumpLength: vmcore.length }));
    assertSameBytes(readOnTmpfs(`vmcore.${other}.0`), vmcore, 'vmcore of the second client');
    const info = `Dump from ${other} [${other}]\n${expectedKdhInfo({ dumpLength: vmcore.length })}Dump complete\n`;
    assert.equal(readOnTmpfs(`info.${other}.0`).toString('latin1'), info);
    assert.equal((await handler.waitFor(['success', other, other, `./info.${other}.0`, `./vmcore.${other}.0`])).info, info);
    assert.equal(handler.records().length, 2);
    assert.deepEqual(readdirSync(dumpDir), [], "nothing was written under the mount point outside the server's namespace");
  });
});

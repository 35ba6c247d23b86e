/**
 * Malformed datagrams (spec §6.3, §6.6, §6.10): every kind is dropped
 * without an ack and without harm; the same session then completes a dump.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import {
  addClientAddress,
  assertSameBytes,
  buildKdh,
  encodeMessage,
  expectedKdhInfo,
  heraldPath,
  NetdumpTestClient,
} from '../helpers/netdump-test-client.js';
import { makeTempDir, NetdumpdServer, waitUntil } from '../helpers/netdumpd-server.js';
import { setNetdumpLen } from '../../src/wire/index.js';

const HERALD_PORT = 20023;

describe('netdumpd: malformed datagrams', () => {
  let hosts: TestHosts;
  let server: NetdumpdServer;
  let work: string;
  let dumpDir: string;
  const clients: NetdumpTestClient[] = [];

  before(async () => {
    hosts = createTestHostPair({ clientAddressInKernel: true });
    work = makeTempDir('netdumpd-malformed-');
    dumpDir = path.join(work, 'dump');
    mkdirSync(dumpDir);
    server = await NetdumpdServer.start(hosts, ['-d', dumpDir, '-P', path.join(work, 'netdumpd.pid')]);
  });

  after(async () => {
    for (const client of clients) client.stop();
    await server?.stop();
    hosts?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function clientAt(ip: string, port?: number): Promise<NetdumpTestClient> {
    const client = await NetdumpTestClient.start(hosts, ip, port === undefined ? {} : { port });
    clients.push(client);
    return client;
  }

  test('bad heralds are not acked and start nothing', async () => {
    const client = await clientAt(hosts.client.ip);
    const bad: Array<[string, Buffer, RegExp]> = [
      ['runt', encodeMessage({ type: 1, seq: 1 }).subarray(0, 23), /^Ignoring herald from 198\.18\.0\.1:20024: runt packet \(got 23\)$/],
      ['empty', Buffer.alloc(0), /^Ignoring herald from 198\.18\.0\.1:20024: runt packet \(got 0\)$/],
      [
        'wrong type',
        encodeMessage({ type: 3, seq: 1, payload: heraldPath('x') }),
        /^Ignoring herald from 198\.18\.0\.1:20024: message type 3 is not a herald$/,
      ],
      [
        'length mismatch',
        encodeMessage({ type: 1, seq: 1, payload: heraldPath('x'), len: 3 }),
        /^Ignoring herald from 198\.18\.0\.1:20024: bad packet size \(length 3\)$/,
      ],
      ['short of its length', encodeMessage({ type: 1, seq: 1, payload: heraldPath('x'), len: 200 }), /bad packet size \(length 200\)$/],
      ['payload > 1024', encodeMessage({ type: 1, seq: 1, payload: Buffer.alloc(1025, 0x61) }), /bad packet size \(length 1025\)$/],
    ];
    const from = server.lines.length;
    for (const [, datagram] of bad) client.sendRaw(datagram, HERALD_PORT);
    await client.expectNoAck(300, 'bad herald');
    await waitUntil(() => (server.lines.length >= from + bad.length ? true : undefined), 2000, 'the log lines');
    const logged = server.lines.slice(from);
    assert.equal(logged.length, bad.length, `one log line per bad herald:\n${logged.join('\n')}`);
    bad.forEach(([what, , line], i) => assert.match(logged[i]!, line, what));
    assert.equal(server.countLines('New dump from client'), 0);
    assert.deepEqual(readdirSync(dumpDir), []);

    // A herald of exactly 1024 payload bytes is fine (its path is not a directory: default path).
    const path1024 = Buffer.alloc(1024, 0x61);
    path1024[1023] = 0;
    await client.herald(7, path1024);
    await client.finish(8);
    assert.equal(readFileSync(path.join(dumpDir, 'info.198.18.0.1.0'), 'latin1'), 'Dump from 198.18.0.1 [198.18.0.1]\nDump complete\n');
  });

  test('bad datagrams on the client port are not acked, and the session still completes a dump', async () => {
    const ip = '198.18.0.10';
    addClientAddress(hosts, ip);
    const client = await clientAt(ip);
    const vmcore = randomBytes(100_000);
    const port = await client.herald(1);
    let seq = await client.sendData(vmcore.subarray(0, 50_000), { firstSeq: 2 });

    const garbage = randomBytes(100);
    setNetdumpLen(garbage, 0, 0xffffffff); // whatever the rest, its length field cannot match
    const bad: Array<[string, Buffer, string]> = [
      [
        'runt',
        encodeMessage({ type: 3, seq: 500, offset: 0, payload: Buffer.alloc(8) }).subarray(0, 20),
        `Ignoring runt packet from ${ip} (got 20)`,
      ],
      ['empty datagram', Buffer.alloc(0), `Ignoring runt packet from ${ip} (got 0)`],
      [
        'length field too big',
        encodeMessage({ type: 3, seq: 501, offset: 0, payload: Buffer.alloc(100), len: 101 }),
        `Bad packet size from ${ip}`,
      ],
      [
        'length field too small',
        encodeMessage({ type: 3, seq: 502, offset: 0, payload: Buffer.alloc(100), len: 99 }),
        `Bad packet size from ${ip}`,
      ],
      ['payload > 4096', encodeMessage({ type: 3, seq: 503, offset: 0, payload: Buffer.alloc(4200, 0xee) }), `Bad packet size from ${ip}`],
      ['KDH > 4096', encodeMessage({ type: 4, seq: 504, payload: Buffer.alloc(4097) }), `Bad packet size from ${ip}`],
      [
        'unknown type 9',
        encodeMessage({ type: 9, seq: 505, offset: 0, payload: Buffer.alloc(16, 0xee) }),
        `Received unexpected message type 9 from ${ip}`,
      ],
      ['type 0', encodeMessage({ type: 0, seq: 506 }), `Received unexpected message type 0 from ${ip}`],
      ['HERALD on the client port', encodeMessage({ type: 1, seq: 507 }), `Received unexpected message type 1 from ${ip}`],
      ['garbage', garbage, `Bad packet size from ${ip}`],
    ];
    const badFrom = server.lines.length;
    for (const [, datagram] of bad) client.sendRaw(datagram, port);
    await client.expectNoAck(300, 'bad datagram');
    await waitUntil(() => (server.lines.length >= badFrom + bad.length ? true : undefined), 2000, 'the log lines');
    // In order, one line each, nothing else.
    assert.deepEqual(
      server.lines.slice(badFrom),
      bad.map(([, , line]) => line),
    );

    // From the right address but another port, or from another address: never delivered to the session.
    addClientAddress(hosts, '198.18.0.11');
    const otherPort = await clientAt(ip, 20025);
    const otherAddress = await clientAt('198.18.0.11');
    const from = server.lines.length;
    const stray = encodeMessage({ type: 3, seq: 600, offset: 0, payload: Buffer.alloc(1448, 0xee) });
    otherPort.sendRaw(stray, port);
    otherAddress.sendRaw(stray, port);
    await otherPort.expectNoAck(300, 'VMCORE from port 20025');
    await otherAddress.expectNoAck(50, 'VMCORE from another address');
    await client.expectNoAck(50, 'VMCORE from another port or address');
    assert.equal(server.lines.length, from, 'not even seen');

    // The session is intact: the rest of the dump, KDH and FINISHED.
    seq = await client.sendData(vmcore.subarray(50_000), { firstSeq: seq, baseOffset: 50_000 });
    await client.sendKdh(buildKdh({ dumpLength: vmcore.length }), seq++);
    await client.finish(seq);
    assertSameBytes(readFileSync(path.join(dumpDir, `vmcore.${ip}.0`)), vmcore, 'vmcore');
    assert.equal(
      readFileSync(path.join(dumpDir, `info.${ip}.0`), 'latin1'),
      `Dump from ${ip} [${ip}]\n${expectedKdhInfo({ dumpLength: vmcore.length })}Dump complete\n`,
    );
    assert.ok(
      client.acks.every((ack) => ack.seq < 500),
      'no bad datagram was ever acked',
    );
  });

  test('a KDH shorter than 512 bytes is acked, then reported as too small', async () => {
    const ip = '198.18.0.12';
    addClientAddress(hosts, ip);
    const client = await clientAt(ip);
    await client.herald(1);
    await client.sendKdh(buildKdh().subarray(0, 511), 2);
    await server.waitForLine(`Bad KDH from ${ip} [${ip}]: packet too small`);
    await client.finish(3);
    assert.equal(
      readFileSync(path.join(dumpDir, `info.${ip}.0`), 'latin1'),
      `Dump from ${ip} [${ip}]\nBad KDH: packet too small\nDump complete\n`,
    );
  });
});

/**
 * netdumpd (-D, with a handler) against clients on kernel UDP sockets in
 * the client namespace: files, names, indices, info text and acks, byte for
 * byte (spec §6.4–§6.7, §6.12). Each test uses client addresses of its own,
 * so that every index starts at 0.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { TestHosts } from '../../scripts/lib/testhosts.js';
import { assertSameBytes, buildKdh, expectedKdhInfo, heraldPath } from '../helpers/netdump-test-client.js';
import { type HandlerRecorder, NETDUMPD, type NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

describe('netdumpd: dumps', () => {
  let fixture: ServerFixture;
  let hosts: TestHosts;
  let server: NetdumpdServer;
  let work: string;
  let dumpDir: string;
  let handler: HandlerRecorder;

  before(async () => {
    fixture = new ServerFixture('netdumpd-dumps-');
    ({ hosts, work, dumpDir, handler } = fixture);
    // Names for a few client addresses, in an /etc/hosts that only the server sees: it runs
    // in a mount namespace of its own (unshare -m) with this file bound over /etc/hosts.
    const hostsFile = path.join(work, 'hosts');
    writeFileSync(hostsFile, '127.0.0.1 localhost\n198.18.0.50 crashhost.example.org crashhost\n198.18.0.51 crashhost.example.net\n');
    const script = 'mount --bind "$1" /etc/hosts && exec "$2" "$3" -D -d "$4" -P "$5" -i "$6"';
    server = await fixture.spawnServerWithOwnMounts(script, 'netdumpd-with-hosts', [
      hostsFile,
      process.execPath,
      NETDUMPD,
      dumpDir,
      fixture.pidFile,
      handler.script,
    ]);
  });

  after(() => fixture?.tearDown());

  const file = (name: string) => path.join(dumpDir, name);
  const read = (name: string) => readFileSync(file(name));
  const text = (name: string) => readFileSync(file(name), 'latin1');
  const mode = (name: string) => statSync(file(name)).mode & 0o777;
  /** This client's entries in the dump directory. */
  const entries = (ip: string) =>
    readdirSync(dumpDir)
      .filter((name) => name.endsWith(`.${ip}`) || name.includes(`.${ip}.`))
      .sort();

  test('vmcore is byte-exact after shuffled and duplicated VMCORE packets; every message acked with its seq', async () => {
    const ip = '198.18.0.10';
    const client = await fixture.clientAt(ip);
    const vmcore = randomBytes(300 * 1024 + 123);
    const kdh = buildKdh({ dumpLength: vmcore.length, dumpExtent: vmcore.length });

    const port = await client.herald(1);
    let seq = await client.sendData(vmcore, { firstSeq: 2, shuffleSeed: 1, duplicateEvery: 5 });
    assert.equal(seq, 2 + Math.ceil(vmcore.length / 1448));
    await client.sendKdh(kdh, seq++);
    await client.finish(seq);
    await client.expectNoAck(300, 'finished session');

    // 213 VMCORE packets + 43 duplicates, the herald, KDH and FINISHED: one ack each, all from one port.
    assert.equal(client.acks.length, 1 + 213 + 43 + 2);
    assert.ok(client.acks.every((ack) => ack.port === port));
    assert.deepEqual(entries(ip), [`bounds.${ip}`, `info.${ip}.0`, `info.${ip}.last`, `vmcore.${ip}.0`, `vmcore.${ip}.last`]);
    assertSameBytes(read(`vmcore.${ip}.0`), vmcore, 'vmcore');
    assert.equal(text(`info.${ip}.0`), `Dump from ${ip} [${ip}]\n${expectedKdhInfo({ dumpLength: vmcore.length })}Dump complete\n`);
    assert.equal(text(`bounds.${ip}`), '1\n');
    assert.equal(mode(`vmcore.${ip}.0`), 0o600);
    assert.equal(mode(`info.${ip}.0`), 0o600);
    assert.equal(mode(`bounds.${ip}`), 0o600);
    await server.waitForLine(`New dump from client ${ip} [${ip}] (to ./vmcore.${ip}.0)`);
    await server.waitForLine(`(KDH from ${ip} [${ip}])`);
    await server.waitForLine(`Completed dump from client ${ip} [${ip}]`);
  });

  test('info file: every field, parity Pass and Fail, a version string without newline', async () => {
    const ip = '198.18.0.11';
    const client = await fixture.clientAt(ip);
    const body = randomBytes(4096);
    const fields = {
      architecture: 'arm64',
      architectureVersion: 1,
      dumpLength: 5_768_402,
      hostname: 'panicky',
      versionString: 'FreeBSD 13.2-RELEASE-p4 GENERIC\n',
      panicString: 'sleeping thread 0xfffff80003a1b000 owns a non-sleepable lock',
    };
    await client.dump(body, buildKdh(fields));
    assert.equal(
      text(`info.${ip}.0`),
      'Dump from 198.18.0.11 [198.18.0.11]\n' +
        '  Architecture: arm64\n' +
        '  Architecture Version: 1\n' +
        '  Dump Length: 5768402B (5 MB)\n' +
        '  Blocksize: 4096\n' +
        '  Compression: none\n' +
        '  Dumptime: Sun Mar  3 21:06:40 2024\n' +
        '  Hostname: panicky\n' +
        '  Version String: FreeBSD 13.2-RELEASE-p4 GENERIC\n' +
        '  Panic String: sleeping thread 0xfffff80003a1b000 owns a non-sleepable lock\n' +
        '  Header Parity Check: Pass\n' +
        'Dump complete\n',
    );

    const broken = buildKdh(fields);
    broken[511]! ^= 0x01; // the parity word's last byte
    await client.dump(body, broken);
    assert.equal(text(`info.${ip}.1`), text(`info.${ip}.0`).replace('Check: Pass', 'Check: Fail'));
    assert.match(text(`info.${ip}.1`), /Header Parity Check: Fail\nDump complete\n$/);

    await client.dump(body, buildKdh({ ...fields, versionString: 'abc' }));
    assert.equal(
      text(`info.${ip}.2`),
      'Dump from 198.18.0.11 [198.18.0.11]\n' +
        '  Architecture: arm64\n' +
        '  Architecture Version: 1\n' +
        '  Dump Length: 5768402B (5 MB)\n' +
        '  Blocksize: 4096\n' +
        '  Compression: none\n' +
        '  Dumptime: Sun Mar  3 21:06:40 2024\n' +
        '  Hostname: panicky\n' +
        '  Version String: abc  Panic String: sleeping thread 0xfffff80003a1b000 owns a non-sleepable lock\n' +
        '  Header Parity Check: Pass\n' +
        'Dump complete\n',
    );
    for (const index of [0, 1, 2]) assertSameBytes(read(`vmcore.${ip}.${index}`), body, `vmcore ${index}`);
  });

  test('encrypted dump: key file at its offsets (mode 0400), core renamed to vmcore_encrypted', async () => {
    const ip = '198.18.0.12';
    const client = await fixture.clientAt(ip);
    const vmcore = randomBytes(64 * 1024);
    const key = randomBytes(4096);
    const kdh = buildKdh({ dumpLength: vmcore.length, dumpExtent: vmcore.length, dumpKeySize: key.length });

    const port = await client.herald(1);
    // 13+ order: the key right after the herald, here in three packets out of order.
    let seq = await client.sendKey(key, 2, { shuffleSeed: 7, batchSize: 3 });
    // A key is not dump data: a repeated herald is still a retransmission, acked from the same port.
    assert.equal(await client.herald(9), port);
    seq = await client.sendData(vmcore, { firstSeq: seq });
    await client.sendKdh(kdh, seq++);
    await client.finish(seq);

    assert.deepEqual(entries(ip), [
      `bounds.${ip}`,
      `info.${ip}.0`,
      `info.${ip}.last`,
      `key.${ip}.0`,
      `vmcore.${ip}.last`,
      `vmcore_encrypted.${ip}.0`,
    ]);
    assertSameBytes(read(`key.${ip}.0`), key, 'key file');
    assert.equal(mode(`key.${ip}.0`), 0o400);
    assertSameBytes(read(`vmcore_encrypted.${ip}.0`), vmcore, 'vmcore_encrypted');
    assert.equal(readlinkSync(file(`vmcore.${ip}.last`)), `vmcore_encrypted.${ip}.0`);
    assert.equal(readlinkSync(file(`info.${ip}.last`)), `info.${ip}.0`);
    assert.equal(text(`info.${ip}.0`), `Dump from ${ip} [${ip}]\n${expectedKdhInfo({ dumpLength: vmcore.length })}Dump complete\n`);
    await server.waitForLine(`(EKCD key from ${ip} [${ip}])`);
    assert.equal(server.countLines(`(EKCD key from ${ip} [${ip}])`), 1);
    await handler.waitFor(['success', ip, ip, `./info.${ip}.0`, `./vmcore_encrypted.${ip}.0`]);
  });

  test('compressed dumps: .gz and .zst suffixes, core truncated to dumplength; encrypted + zstd', async () => {
    const ip = '198.18.0.13';
    const client = await fixture.clientAt(ip);
    const pad = (data: Buffer) => Buffer.concat([data, randomBytes((4096 - (data.length % 4096)) % 4096)]);

    const gzip = randomBytes(100_000);
    // The largest payload netdumpd takes: 4096 bytes a packet (MTU 4148; here sent in IP fragments).
    await client.dump(pad(gzip), buildKdh({ dumpLength: gzip.length, dumpExtent: 400_000, compression: 1 }), {
      vmcore: { packetSize: 4096 },
    });
    const zstd = randomBytes(50_001);
    await client.dump(pad(zstd), buildKdh({ dumpLength: zstd.length, dumpExtent: 300_000, compression: 2 }));
    const both = randomBytes(70_000);
    const key = randomBytes(4096);
    await client.dump(pad(both), buildKdh({ dumpLength: both.length, dumpExtent: 200_000, compression: 2, dumpKeySize: 4096 }), { key });

    assert.deepEqual(entries(ip), [
      `bounds.${ip}`,
      `info.${ip}.0`,
      `info.${ip}.1`,
      `info.${ip}.2`,
      `info.${ip}.last`,
      `key.${ip}.2`,
      `vmcore.${ip}.0.gz`,
      `vmcore.${ip}.1.zst`,
      `vmcore.${ip}.last`,
      `vmcore_encrypted.${ip}.2.zst`,
    ]);
    assertSameBytes(read(`vmcore.${ip}.0.gz`), gzip, 'gzip core');
    assertSameBytes(read(`vmcore.${ip}.1.zst`), zstd, 'zstd core');
    assertSameBytes(read(`vmcore_encrypted.${ip}.2.zst`), both, 'encrypted zstd core');
    assertSameBytes(read(`key.${ip}.2`), key, 'key file');
    assert.equal(readlinkSync(file(`vmcore.${ip}.last`)), `vmcore_encrypted.${ip}.2.zst`);
    const dumpFrom = `Dump from ${ip} [${ip}]\n`;
    assert.equal(text(`info.${ip}.0`), `${dumpFrom}${expectedKdhInfo({ dumpLength: 100_000, compression: 1 })}Dump complete\n`);
    assert.equal(text(`info.${ip}.1`), `${dumpFrom}${expectedKdhInfo({ dumpLength: 50_001, compression: 2 })}Dump complete\n`);
    assert.equal(text(`info.${ip}.2`), `${dumpFrom}${expectedKdhInfo({ dumpLength: 70_000, compression: 2 })}Dump complete\n`);
    await handler.waitFor(['success', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0.gz`]);
    await handler.waitFor(['success', ip, ip, `./info.${ip}.1`, `./vmcore.${ip}.1.zst`]);
    await handler.waitFor(['success', ip, ip, `./info.${ip}.2`, `./vmcore_encrypted.${ip}.2.zst`]);
  });

  test('index allocation: bounds.<host> is N+1, a taken or garbage bound scans for the first free index; .last links follow', async () => {
    const ip = '198.18.0.14';
    const client = await fixture.clientAt(ip);
    const emptyDump = async (expectedIndex: number) => {
      await client.herald(1);
      await client.finish(2);
      assert.equal(text(`info.${ip}.${expectedIndex}`), `Dump from ${ip} [${ip}]\nDump complete\n`);
      assert.equal(text(`bounds.${ip}`), `${expectedIndex + 1}\n`);
      assert.equal(readlinkSync(file(`vmcore.${ip}.last`)), `vmcore.${ip}.${expectedIndex}`);
      assert.equal(readlinkSync(file(`info.${ip}.last`)), `info.${ip}.${expectedIndex}`);
    };

    await emptyDump(0);
    await emptyDump(1); // the links now point at dump 1
    writeFileSync(file(`bounds.${ip}`), '7\n');
    await emptyDump(7); // a free index in the bounds file is used as is
    unlinkSync(file(`info.${ip}.1`));
    unlinkSync(file(`vmcore.${ip}.1`));
    writeFileSync(file(`bounds.${ip}`), '0\n');
    await emptyDump(1); // info.0 exists: scan from 0 for the first free index
    await server.waitForLine(`Incorrect bounds file for client ${ip} [${ip}]`);
    writeFileSync(file(`bounds.${ip}`), 'garbage\n');
    await emptyDump(2);
    await server.waitForLine(`Invalid bound for client ${ip} [${ip}]`);
    writeFileSync(file(`bounds.${ip}`), '');
    await emptyDump(3);
    await server.waitForLine(`Empty bounds file for client ${ip} [${ip}]`);
    unlinkSync(file(`bounds.${ip}`));
    await emptyDump(4); // a missing bounds file is created
    assert.equal(mode(`bounds.${ip}`), 0o600);

    assert.deepEqual(entries(ip), [
      `bounds.${ip}`,
      ...[0, 1, 2, 3, 4, 7].map((n) => `info.${ip}.${n}`),
      `info.${ip}.last`,
      ...[0, 1, 2, 3, 4, 7].map((n) => `vmcore.${ip}.${n}`),
      `vmcore.${ip}.last`,
    ]);
  });

  test('repeated heralds: re-acked from the same port before data; after data a new session from a new port', async () => {
    const ip = '198.18.0.15';
    const client = await fixture.clientAt(ip);
    const first = await client.herald(1);
    const before = entries(ip);
    assert.deepEqual(before, [`bounds.${ip}`, `info.${ip}.0`, `vmcore.${ip}.0`]);

    assert.equal(await client.herald(2), first, 'a herald before any data is acked from the same socket');
    assert.equal(await client.herald(2), first);
    assert.deepEqual(entries(ip), before, 'a repeated herald creates no files');
    assert.equal(text(`bounds.${ip}`), '1\n');
    assert.equal(server.countLines(`New dump from client ${ip} `), 1);

    const seq = await client.sendData(randomBytes(20_000), { firstSeq: 3 });
    const second = await client.herald(1);
    assert.notEqual(second, first, 'a herald after data starts a new session on a new socket');
    assert.equal(text(`info.${ip}.0`), `Dump from ${ip} [${ip}]\nDump incomplete: client timed out\n`);
    await server.waitForLine(`Client ${ip} timed out`);
    const record = await handler.waitFor(['timeout', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
    assert.equal(record.info, `Dump from ${ip} [${ip}]\nDump incomplete: client timed out\n`);
    assert.equal(text(`bounds.${ip}`), '2\n');

    // The old port is closed; the new session works.
    client.send({ type: 2, seq: seq + 1 }, first);
    await client.expectNoAck(300, 'FINISHED to the old session');
    await client.finish(2);
    assert.equal(text(`info.${ip}.1`), `Dump from ${ip} [${ip}]\nDump complete\n`);
    assert.deepEqual(entries(ip), [
      `bounds.${ip}`,
      `info.${ip}.0`,
      `info.${ip}.1`,
      `info.${ip}.last`,
      `vmcore.${ip}.0`,
      `vmcore.${ip}.1`,
      `vmcore.${ip}.last`,
    ]);
    await handler.waitFor(['success', ip, ip, `./info.${ip}.1`, `./vmcore.${ip}.1`]);
    assert.equal(handler.runsFor('timeout', ip).length, 1);
  });

  test('8 clients from 8 addresses dump at the same time', async () => {
    const ips = Array.from({ length: 8 }, (_, i) => `198.18.0.${21 + i}`);
    const clients8 = await Promise.all(ips.map((ip) => fixture.clientAt(ip)));
    const cores = ips.map((_, i) => randomBytes(200 * 1024 + i * 9000 + 17));
    const kdhFields = ips.map((_, i) => ({ dumpLength: cores[i]!.length, dumpExtent: cores[i]!.length, hostname: `box${i}` }));
    await Promise.all(
      clients8.map((client, i) => client.dump(cores[i]!, buildKdh(kdhFields[i]), { vmcore: { shuffleSeed: i + 100, batchSize: 46 } })),
    );
    ips.forEach((ip, i) => {
      assertSameBytes(read(`vmcore.${ip}.0`), cores[i]!, `vmcore of ${ip}`);
      assert.equal(text(`info.${ip}.0`), `Dump from ${ip} [${ip}]\n${expectedKdhInfo(kdhFields[i])}Dump complete\n`);
      assert.equal(text(`bounds.${ip}`), '1\n');
    });
    await Promise.all(ips.map((ip) => handler.waitFor(['success', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`])));
  });

  test('files are named by the reverse DNS name, cut at the first dot; two addresses of one name share its indices', async () => {
    const [a, b] = ['198.18.0.50', '198.18.0.51'];
    const [clientA, clientB] = [await fixture.clientAt(a), await fixture.clientAt(b)];
    const vmcoreA = randomBytes(10_000);
    const vmcoreB = randomBytes(20_000);
    await clientA.dump(vmcoreA, buildKdh({ dumpLength: vmcoreA.length }));
    await clientB.dump(vmcoreB, buildKdh({ dumpLength: vmcoreB.length }));
    assert.deepEqual(
      readdirSync(dumpDir)
        .filter((name) => name.includes('crashhost'))
        .sort(),
      [
        'bounds.crashhost',
        'info.crashhost.0',
        'info.crashhost.1',
        'info.crashhost.last',
        'vmcore.crashhost.0',
        'vmcore.crashhost.1',
        'vmcore.crashhost.last',
      ],
    );
    assertSameBytes(read('vmcore.crashhost.0'), vmcoreA, 'vmcore of 198.18.0.50');
    assertSameBytes(read('vmcore.crashhost.1'), vmcoreB, 'vmcore of 198.18.0.51');
    assert.equal(text('info.crashhost.0'), `Dump from crashhost [${a}]\n${expectedKdhInfo({ dumpLength: vmcoreA.length })}Dump complete\n`);
    assert.equal(text('info.crashhost.1'), `Dump from crashhost [${b}]\n${expectedKdhInfo({ dumpLength: vmcoreB.length })}Dump complete\n`);
    assert.equal(text('bounds.crashhost'), '2\n');
    assert.equal(readlinkSync(file('vmcore.crashhost.last')), 'vmcore.crashhost.1');
    await server.waitForLine(`New dump from client crashhost [${a}] (to ./vmcore.crashhost.0)`);
    await server.waitForLine(`Completed dump from client crashhost [${b}]`);
    await handler.waitFor(['success', a, 'crashhost', './info.crashhost.0', './vmcore.crashhost.0']);
    await handler.waitFor(['success', b, 'crashhost', './info.crashhost.1', './vmcore.crashhost.1']);
  });

  test('a herald to another server address is acked from that address, and the session stays on it', async () => {
    execFileSync('ip', ['-n', hosts.server.ns, 'addr', 'add', '198.18.0.3/24', 'dev', hosts.server.iface]);
    const ip = '198.18.0.17';
    const client = await fixture.clientAt(ip, { serverIp: '198.18.0.3' });
    const vmcore = randomBytes(8000);
    // Every ack is checked to come from 198.18.0.3.
    await client.dump(vmcore, buildKdh({ dumpLength: vmcore.length }));
    assertSameBytes(read(`vmcore.${ip}.0`), vmcore, 'vmcore');
  });

  test('the handler runs in the dump directory with an empty environment', async () => {
    const ip = '198.18.0.16';
    const client = await fixture.clientAt(ip);
    await client.dump(randomBytes(5000), buildKdh({ dumpLength: 5000 }), { path: heraldPath('.') });
    const record = await handler.waitFor(['success', ip, ip, `./info.${ip}.0`, `./vmcore.${ip}.0`]);
    const root = realpathSync(dumpDir);
    assert.equal(record.cwd, root);
    // /bin/sh (dash) exports PWD itself; nothing else is set.
    assert.equal(record.env, `PWD=${root}\n`);
    assert.equal(record.info, text(`info.${ip}.0`));
    assert.ok(!existsSync(file(`key.${ip}.0`)));
  });
});

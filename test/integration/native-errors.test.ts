/**
 * Bad input to the native driver fails with the project's error type, an
 * errno-like code and a message a person can act on.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { PacketSocket, delayMicroseconds, monotonicMicros } from '../../native/index.js';
import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { assertNetdumpError } from '../helpers/assertions.js';

describe('native driver errors', () => {
  let hosts: TestHosts;

  before(() => {
    hosts = createTestHostPair();
    // A second veth pair inside the client namespace, left down.
    execFileSync('ip', ['-n', hosts.client.ns, 'link', 'add', 'nddown0', 'type', 'veth', 'peer', 'name', 'nddown1']);
  });

  after(() => hosts?.destroy());

  test('a missing interface', () => {
    assertNetdumpError(() => PacketSocket.open('nosuch0', { netns: hosts.client.ns }), 'ENODEV', /^no such interface: nosuch0 /);
  });

  test('an interface that is down', () => {
    assertNetdumpError(() => PacketSocket.open('nddown0', { netns: hosts.client.ns }), 'ENETDOWN', /^interface nddown0 is down/);
  });

  test('an interface that is down can still be opened to read its facts', () => {
    const socket = PacketSocket.open('nddown0', { netns: hosts.client.ns, allowDown: true });
    const info = socket.info();
    socket.close();
    assert.equal(info.name, 'nddown0');
    assert.equal(info.up, false);
    assert.equal(info.mtu, 1500);
    assert.equal(info.driver, 'veth');
    assert.equal(info.mac.length, 6);
  });

  test('a missing network namespace', () => {
    assertNetdumpError(
      () => PacketSocket.open('lo', { netns: 'ndt-no-such-namespace' }),
      'ENOENT',
      /cannot open network namespace \/var\/run\/netns\/ndt-no-such-namespace/,
    );
  });

  test('an interface name that cannot exist', () => {
    assertNetdumpError(() => PacketSocket.open('x'.repeat(16)), 'ENODEV', /invalid interface name/);
  });

  test('frames larger than the MTU or shorter than a header', () => {
    const socket = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns });
    try {
      assertNetdumpError(
        () => socket.send(Buffer.alloc(1515)),
        'EMSGSIZE',
        /frame of 1515 bytes is larger than the MTU of ndc0 \(1500 \+ 14-byte header\)/,
      );
      assertNetdumpError(() => socket.sendBatch([Buffer.alloc(60), Buffer.alloc(9000)]), 'EMSGSIZE', /frame of 9000 bytes/);
      assertNetdumpError(() => socket.send(Buffer.alloc(13)), 'EINVAL', /shorter than an Ethernet header/);
      socket.send(Buffer.alloc(1514)); // exactly MTU + header is fine
    } finally {
      socket.close();
    }
    assertNetdumpError(() => socket.send(Buffer.alloc(60)), 'EBADF', /closed/);
  });

  test('frames that are not bytes: a string, an object, a typed array of other elements', () => {
    const socket = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns });
    const notBytes = ['frame', { length: 60 }, new Uint16Array(30)] as unknown as Uint8Array[];
    try {
      for (const frame of notBytes) {
        assertNetdumpError(() => socket.send(frame), 'EINVAL', /Uint8Array/);
        assertNetdumpError(() => socket.sendBatch([Buffer.alloc(60), frame]), 'EINVAL', /Uint8Array/);
        assertNetdumpError(() => socket.queue(frame), 'EINVAL', /Uint8Array/);
      }
    } finally {
      socket.close();
    }
    assertNetdumpError(() => socket.send(Buffer.alloc(60)), 'EBADF', /closed/);
  });

  test('without root or CAP_NET_RAW', () => {
    const addon = fileURLToPath(new URL('../../native/index.js', import.meta.url));
    const script = `import(${JSON.stringify(addon)}).then(({ PacketSocket }) => {
      try { PacketSocket.open('lo'); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
    });`;
    const result = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(result.status, 0, result.stderr);
    const error = JSON.parse(result.stdout) as { name: string; code: string; message: string };
    assert.equal(error.name, 'NetdumpError');
    assert.equal(error.code, 'EPERM');
    assert.match(error.message, /^opening a packet socket needs root or CAP_NET_RAW/);
  });

  test('the busy-wait delay waits at least as long as asked, and (median of 101) not as long as a 1 ms timer would', () => {
    const waits: number[] = [];
    for (let run = 0; run < 101; run++) {
      const start = process.hrtime.bigint();
      delayMicroseconds(500);
      waits.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    waits.sort((a, b) => a - b);
    assert.ok(waits[0]! >= 500, `every wait is at least 500 µs: shortest ${waits[0]} µs`);
    // setTimeout(0.5) waits about 1100 µs; a busy-wait preempted now and then still has its median near 500.
    assert.ok(waits[50]! < 800, `median ${waits[50]} µs`);
  });

  test('monotonicMicros reads the clock hrtime reads, in microseconds', () => {
    const before = process.hrtime.bigint();
    const first = monotonicMicros();
    delayMicroseconds(500);
    const second = monotonicMicros();
    const after = process.hrtime.bigint();
    // Both are CLOCK_MONOTONIC: what monotonicMicros saw lies inside what hrtime saw around it.
    assert.ok(second - first >= 500, `advanced ${second - first} µs across a 500 µs delay`);
    assert.ok(
      second - first <= Number(after - before) / 1000 + 0.001,
      `advanced ${second - first} µs, hrtime ${Number(after - before) / 1000} µs`,
    );
    assert.ok(Math.abs(first - Number(before) / 1000) < 1000, `reads ${first} µs where hrtime read ${Number(before) / 1000}`);
  });
});

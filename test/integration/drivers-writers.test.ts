/**
 * The pcap writer and the tracer write through rings drained by threads of
 * their own: far more records than a ring holds still land complete and in
 * order, and a file that cannot be created, or written (/dev/full), is
 * reported with the file's name, while the driver under them is still
 * closed.
 */
import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { DriverInit, FrameInput, InterfaceFacts, NetdumpDriver } from '../../drivers/driver.js';
import { PcapWritingDriver } from '../../drivers/middleware/pcap-writer.js';
import { TracingDriver } from '../../drivers/middleware/tracer.js';
import { CaptureFile } from '../../native/index.js';
import { assertNetdumpError } from '../helpers/assertions.js';
import { fakeFacts, readTrace } from '../helpers/drivers.js';
import { makeTempDir } from '../helpers/netdump-cli.js';
import { LINKTYPE_ETHERNET, readPcap } from '../helpers/pcap.js';
import { ETHERNET_ETHERTYPE_OFFSET, ETHERNET_HEADER_SIZE } from '../../src/wire/index.js';

/** A driver that sends nothing and receives nothing, and says whether it was closed. */
class NullDriver implements NetdumpDriver {
  readonly name = 'null';
  closed = false;
  facts(): InterfaceFacts {
    return fakeFacts('null0', '');
  }
  init(): DriverInit {
    return { rxRings: 1, clustersPerRing: 256, clusterSize: 2048 };
  }
  event(): void {}
  transmit(): void {}
  poll(_count: number, _input: FrameInput): number {
    return 0;
  }
  close(): void {
    this.closed = true;
  }
}

/** A frame of `length` bytes numbered `index` in bytes 14..17, the rest a pattern of it. */
function numberedFrame(index: number, length: number): Buffer {
  const frame = Buffer.alloc(length, index & 0xff);
  frame.writeUInt16BE(0x88b5, ETHERNET_ETHERTYPE_OFFSET);
  frame.writeUInt32BE(index, ETHERNET_HEADER_SIZE);
  return frame;
}

describe('the pcap writer and the tracer: rings, threads and write errors', () => {
  let dir: string;

  before(() => {
    dir = makeTempDir('netdump-writers-');
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('20000 frames of 60 to 1514 bytes (16 MB, twice the ring) land whole and in order', () => {
    const file = path.join(dir, 'many.pcap');
    const driver = new PcapWritingDriver(new NullDriver(), file);
    const lengths = Array.from({ length: 20000 }, (_, index) => 60 + ((index * 7919) % 1455));
    lengths.forEach((length, index) => driver.transmit(numberedFrame(index, length)));
    assert.equal(driver.frames, 20000);
    driver.close();

    const pcap = readPcap(file);
    assert.equal(pcap.linkType, LINKTYPE_ETHERNET);
    assert.equal(pcap.snapLength, 65535);
    assert.equal(pcap.records.length, 20000);
    pcap.records.forEach((record, index) => {
      assert.equal(record.originalLength, lengths[index]);
      if (!record.data.equals(numberedFrame(index, lengths[index]!))) assert.fail(`record ${index} differs from the frame sent`);
    });
    const times = pcap.records.map((record) => record.timeUs);
    assert.ok(
      times.every((time, index) => index === 0 || time >= times[index - 1]!),
      'time stamps never go back',
    );
    assert.ok(Math.abs(times[0]! / 1000 - Date.now()) < 60_000, `the first stamp, ${times[0]} µs, is wall-clock time`);
  });

  test('100000 trace events (three times the ring) land as 100000 lines, in order', () => {
    const file = path.join(dir, 'many.jsonl');
    const tracer = new TracingDriver(new NullDriver(), file);
    for (let seq = 0; seq < 100000; seq++) tracer.ack(seq);
    tracer.close();

    const lines = readTrace(file);
    assert.equal(lines.length, 100000);
    lines.forEach((line, seq) => {
      if (line.event !== 'ack' || line.seq !== seq) assert.fail(`line ${seq} is ${JSON.stringify(line)}`);
    });
    assert.ok(
      lines.every((line, index) => index === 0 || line.t >= lines[index - 1]!.t),
      'time stamps never go back',
    );
  });

  test('a capture or trace in a directory that does not exist: ENOENT, naming the file', () => {
    const missing = path.join(dir, 'no-such-dir');
    assertNetdumpError(
      () => new PcapWritingDriver(new NullDriver(), path.join(missing, 'x.pcap')),
      'ENOENT',
      `cannot write the capture ${missing}/x.pcap: No such file or directory`,
    );
    assertNetdumpError(
      () => new TracingDriver(new NullDriver(), path.join(missing, 'x.jsonl')),
      'ENOENT',
      `cannot write the trace ${missing}/x.jsonl: No such file or directory`,
    );
  });

  test('a capture ring too small for the largest record (64 KiB) is refused, and a trace takes no record once closed', () => {
    assertNetdumpError(() => CaptureFile.open(path.join(dir, 'small.pcap'), 65536), 'EINVAL', 'power-of-two ring size of 128 KiB to 1 GiB');
    const tracer = new TracingDriver(new NullDriver(), path.join(dir, 'closed.jsonl'));
    tracer.close();
    assertNetdumpError(() => tracer.tick(500), 'EBADF', 'is closed');
  });

  test('a capture takes only bytes: a string or a typed array of other elements is EINVAL, and nothing is recorded', () => {
    const file = path.join(dir, 'not-bytes.pcap');
    const capture = CaptureFile.open(file, 1 << 17);
    try {
      for (const frame of ['frame', new Uint16Array(30)] as unknown as Uint8Array[]) {
        assertNetdumpError(() => capture.record(frame), 'EINVAL', 'record needs a frame (a Uint8Array)');
      }
    } finally {
      capture.close();
    }
    assert.equal(statSync(file).size, 24); // the pcap file header alone
  });

  test('a capture to /dev/full: close() reports ENOSPC, naming the file, and still closes the driver', () => {
    const inner = new NullDriver();
    const driver = new PcapWritingDriver(inner, '/dev/full');
    for (let index = 0; index < 100; index++) driver.transmit(numberedFrame(index, 1514));
    assertNetdumpError(() => driver.close(), 'ENOSPC', 'cannot write the capture /dev/full: No space left on device');
    assert.equal(inner.closed, true);
  });

  test('a trace to /dev/full: close() reports ENOSPC, naming the file, and still closes the driver', () => {
    const inner = new NullDriver();
    const tracer = new TracingDriver(inner, '/dev/full');
    for (let seq = 0; seq < 100; seq++) tracer.tick(500);
    assertNetdumpError(() => tracer.close(), 'ENOSPC', 'cannot write the trace /dev/full: No space left on device');
    assert.equal(inner.closed, true);
  });
});

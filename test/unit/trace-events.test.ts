/**
 * The tracer's send-loop events as the trace file holds them: a batch with
 * its type, first sequence number, packets, bytes and a 64-bit offset (kept
 * in two 32-bit words of the record, so one past 4 GiB must come back
 * whole), the batch's last ack, and a packet resent. No socket: the driver
 * below is a stub; the trace's worker thread writes a real file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import type { NetdumpDriver } from '../../drivers/driver.js';
import { TracingDriver } from '../../drivers/middleware/tracer.js';
import { fakeFacts } from '../helpers/drivers.js';

const stub: NetdumpDriver = {
  name: 'stub',
  facts: () => fakeFacts('stub0', 'veth'),
  init: () => ({ rxRings: 1, clustersPerRing: 1, clusterSize: 2048 }),
  event: () => undefined,
  transmit: () => undefined,
  poll: () => 0,
  close: () => undefined,
};

test('batch, batch-acked and resend lines, offsets past 4 GiB exact', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'netdump-trace-events-'));
  try {
    const file = path.join(dir, 'trace.jsonl');
    const tracer = new TracingDriver(stub, file);
    const offset = 5 * 2 ** 32 + 4096 * 3;
    tracer.batch(3, offset, 0xfffffffe, 46, 65536);
    tracer.resend(0xffffffff);
    tracer.batchAcked(0xfffffffe);
    tracer.batch(4, 0, 48, 1, 512);
    tracer.close();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(lines.every((line) => typeof line.t === 'number'));
    assert.deepEqual(
      lines.map(({ t: _t, ...fields }) => fields),
      [
        { event: 'batch', type: 3, seq: 0xfffffffe, packets: 46, bytes: 65536, offset },
        { event: 'resend', seq: 0xffffffff },
        { event: 'batch-acked', seq: 0xfffffffe },
        { event: 'batch', type: 4, seq: 48, packets: 1, bytes: 512, offset: 0 },
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

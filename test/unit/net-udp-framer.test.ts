/** UdpFramer, the dump's hot-path framing, writes exactly what emitUdpFrameHeaders (src/wire's validating emitters) writes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { emitUdpFrameHeaders, UdpFramer, type UdpFrameAddressing } from '../../src/net/udp-frame.js';
import { allocateSummableBuffers, FRAME_UDP_AT, UDP_PAYLOAD_OFFSET, udpChecksum } from '../../src/wire/index.js';

const ADDRESSING: UdpFrameAddressing = {
  srcMac: Uint8Array.from([0x02, 0, 0, 0, 0, 1]),
  dstMac: Uint8Array.from([0x02, 0, 0, 0, 0, 2]),
  srcIp: 0xc6120001,
  dstIp: 0xc6120002,
  srcPort: 20024,
  dstPort: 20023,
};

function filled(frame: Uint8Array, seed: number): Uint8Array {
  for (let i = UDP_PAYLOAD_OFFSET; i < frame.length; i++) frame[i] = (Math.imul(i, 2654435761) + seed) >>> 24;
  return frame;
}

test('UdpFramer: the same bytes as emitUdpFrameHeaders for every payload length 0..1472, in plain and WebAssembly frames', () => {
  const framer = new UdpFramer(ADDRESSING);
  const [summable] = allocateSummableBuffers(1, 1514);
  for (let length = 0; length <= 1472; length++) {
    const expected = filled(new Uint8Array(1514), length);
    assert.equal(emitUdpFrameHeaders(ADDRESSING, expected, length), UDP_PAYLOAD_OFFSET + length);
    for (const frame of [filled(new Uint8Array(1514), length), filled(summable!, length)]) {
      frame.fill(0xee, 0, UDP_PAYLOAD_OFFSET); // stale headers must not show through
      assert.equal(framer.frame(frame, length), UDP_PAYLOAD_OFFSET + length);
      if (!Buffer.from(frame).equals(Buffer.from(expected))) assert.fail(`payload length ${length}: the frames differ`);
    }
  }
});

test('UdpFramer: a payload whose checksum folds to 0 goes out as 0xFFFF, as emitUdpFrameHeaders sends it', () => {
  const framer = new UdpFramer(ADDRESSING);
  const frame = new Uint8Array(UDP_PAYLOAD_OFFSET + 2);
  // Find the 16-bit payload that makes the UDP checksum compute to 0.
  for (let word = 0; word <= 0xffff; word++) {
    frame[UDP_PAYLOAD_OFFSET] = word >>> 8;
    frame[UDP_PAYLOAD_OFFSET + 1] = word & 0xff;
    framer.frame(frame, 2);
    if (udpChecksum(frame, FRAME_UDP_AT) === 0xffff) {
      const expected = Uint8Array.from(frame);
      emitUdpFrameHeaders(ADDRESSING, expected, 2);
      assert.deepEqual(frame, expected);
      return;
    }
  }
  assert.fail('no payload gave a checksum of 0xFFFF');
});

test('UdpFramer: a payload that does not fit is refused as emitUdpFrameHeaders refuses it', () => {
  const framer = new UdpFramer(ADDRESSING);
  assert.throws(() => framer.frame(new Uint8Array(100), 59), { name: 'WireError', reason: 'range' });
});

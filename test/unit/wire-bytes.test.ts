import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetdumpError } from '../../errors/index.js';
import {
  readU16BE,
  readU32BE,
  readU64BE,
  readU64BigBE,
  writeU16BE,
  writeU32BE,
  writeU64BE,
  parseMac,
  formatMac,
  parseIpv4Address,
  formatIpv4Address,
  macEquals,
  macEqualsAt,
  sumWords,
  foldSum,
  finishChecksum,
  internetChecksum,
  ipv4PseudoHeaderSum,
  requireLength,
} from '../../src/wire/index.js';
import { assertBytes, assertWireError, hex } from './wire-helpers.js';

test('WireError is a NetdumpError with code EBADMSG and an actionable message', () => {
  const error = assertWireError(() => requireLength('ipv4', new Uint8Array(12), 20), 'truncated', 'ipv4');
  assert.ok(error instanceof NetdumpError);
  assert.equal(error.name, 'WireError');
  assert.equal(error.message, 'ipv4: truncated: need 20 bytes, have 12');
});

test('big-endian reads', () => {
  const buf = hex('00 02 03 04 05 06 07 08 ff ff ff ff');
  assert.equal(readU16BE(buf, 0), 0x0002);
  assert.equal(readU16BE(buf, 8), 0xffff);
  assert.equal(readU32BE(buf, 0), 0x00020304);
  assert.equal(readU32BE(buf, 4), 0x05060708);
  assert.equal(readU32BE(buf, 8), 0xffffffff);
  assert.equal(readU64BE(buf, 0), 0x0002030405060708);
  assert.equal(readU64BE(hex('00 1f ff ff ff ff ff ff'), 0), Number.MAX_SAFE_INTEGER);
});

test('big-endian writes', () => {
  const buf = new Uint8Array(14);
  writeU16BE(buf, 0, 0xabcd);
  writeU32BE(buf, 2, 0xdeadbeef);
  writeU64BE(buf, 6, 0x1_2345_6789);
  assertBytes(buf, hex('ab cd de ad be ef 00 00 00 01 23 45 67 89'));
  writeU64BE(buf, 6, Number.MAX_SAFE_INTEGER);
  assertBytes(buf.subarray(6), hex('00 1f ff ff ff ff ff ff'));
});

test('u64 above Number.MAX_SAFE_INTEGER is a range error both ways', () => {
  assertWireError(() => readU64BE(hex('00 20 00 00 00 00 00 00'), 0), 'range');
  assertWireError(() => readU64BE(hex('ff ff ff ff ff ff ff ff'), 0), 'range');
  assertWireError(() => writeU64BE(new Uint8Array(8), 0, Number.MAX_SAFE_INTEGER + 1), 'range');
  assertWireError(() => writeU64BE(new Uint8Array(8), 0, -1), 'range');
});

test('values that do not fit their width are range errors', () => {
  assertWireError(() => writeU16BE(new Uint8Array(2), 0, 0x10000), 'range');
  assertWireError(() => writeU32BE(new Uint8Array(4), 0, 0x1_0000_0000), 'range');
  assertWireError(() => writeU32BE(new Uint8Array(4), 0, 1.5), 'range');
});

test('out-of-bounds access is a WireError, never a silent NaN or RangeError', () => {
  assertWireError(() => readU16BE(new Uint8Array(1), 0), 'truncated');
  assertWireError(() => readU32BE(new Uint8Array(8), 5), 'truncated');
  assertWireError(() => readU32BE(new Uint8Array(8), -1), 'truncated');
  assertWireError(() => readU64BE(new Uint8Array(7), 0), 'truncated');
  assertWireError(() => writeU16BE(new Uint8Array(2), 1, 0), 'truncated');
});

test('MAC text <-> bytes', () => {
  assertBytes(parseMac('02:00:00:00:00:01'), hex('02 00 00 00 00 01'));
  assertBytes(parseMac('AA-bb-0c-d-E-ff'), hex('aa bb 0c 0d 0e ff'));
  assert.equal(formatMac(hex('02 00 0a ff 00 01')), '02:00:0a:ff:00:01');
  assert.ok(macEquals(parseMac('02:00:00:00:00:01'), hex('020000000001')));
  assert.ok(!macEquals(parseMac('02:00:00:00:00:01'), hex('020000000002')));
  for (const bad of [
    '',
    '02:00:00:00:00',
    '02:00:00:00:00:01:02',
    '02:00:00-00:00:01',
    '002:00:00:00:00:01',
    'gg:00:00:00:00:01',
    ' 02:00:00:00:00:01',
  ]) {
    assertWireError(() => parseMac(bad), 'malformed', 'address');
  }
  assertWireError(() => formatMac(new Uint8Array(5)), 'range');
});

test('MAC comparison in place, without copying', () => {
  const frame = hex('ff ff 02 00 00 00 00 01 aa');
  const mac = parseMac('02:00:00:00:00:01');
  assert.ok(macEqualsAt(frame, 2, mac));
  assert.ok(!macEqualsAt(frame, 1, mac));
  assert.ok(!macEqualsAt(frame, 4, mac)); // would run past the end
  assert.ok(!macEqualsAt(frame, -1, mac));
});

test('IPv4 text <-> unsigned 32-bit number', () => {
  assert.equal(parseIpv4Address('198.18.0.1'), 0xc6120001);
  assert.equal(parseIpv4Address('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4Address('0.0.0.0'), 0);
  assert.equal(formatIpv4Address(0xc6120002), '198.18.0.2');
  assert.equal(formatIpv4Address(0xffffffff), '255.255.255.255');
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '1..3.4']) {
    assertWireError(() => parseIpv4Address(bad), 'malformed', 'address');
  }
  assertWireError(() => formatIpv4Address(-1), 'range');
  assertWireError(() => formatIpv4Address(0x1_0000_0000), 'range');
});

test('Internet checksum: RFC 1071 §3 example', () => {
  const data = hex('00 01 f2 03 f4 f5 f6 f7');
  assert.equal(foldSum(sumWords(data, 0, data.length)), 0xddf2);
  assert.equal(internetChecksum(data, 0, data.length), 0x220d);
});

test('Internet checksum: odd length pads with a zero byte; ranges chain', () => {
  assert.equal(internetChecksum(hex('ab'), 0, 1), ~0xab00 & 0xffff);
  const data = hex('45 00 00 38 00 00 40 00 ff 11 00 00 c6 12 00 01 c6 12 00 02');
  const whole = internetChecksum(data, 0, data.length);
  assert.equal(whole, 0xef8c);
  assert.equal(finishChecksum(sumWords(data, 10, 20, sumWords(data, 0, 10))), whole);
  assertWireError(() => sumWords(data, 0, 21), 'range', 'checksum');
});

test('IPv4 pseudo-header sum', () => {
  // 198.18.0.1 -> 198.18.0.2, UDP, length 36: c612+0001+c612+0002+0011+0024
  assert.equal(ipv4PseudoHeaderSum(0xc6120001, 0xc6120002, 17, 36), 0x18c5c);
});

test('a u64 read as a bigint is exact above 2^53', () => {
  assert.equal(readU64BigBE(hex('00 20 00 00 00 00 00 01'), 0), 2n ** 53n + 1n);
  assert.equal(readU64BigBE(hex('ee ff ff ff ff ff ff ff ff'), 1), 2n ** 64n - 1n);
  assertWireError(() => readU64BigBE(new Uint8Array(7), 0), 'truncated');
});

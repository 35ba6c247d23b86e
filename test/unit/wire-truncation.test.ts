/**
 * Every parser, fed every proper prefix of a valid input, must throw a
 * WireError with reason 'truncated': never a RangeError, never a result
 * built from bytes it did not have.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KERNELDUMPMAGIC,
  emitKerneldumpHeader,
  emitKerneldumpKey,
  parseArp,
  parseEthernet,
  parseIpv4,
  parseKerneldumpHeader,
  parseKerneldumpKey,
  parseNetdumpHeader,
  parseNetdumpMessage,
  parseUdp,
  ETHERNET_HEADER_SIZE,
} from '../../src/wire/index.js';
import { assertWireError, hex } from './wire-helpers.js';

const HERALD_FRAME = hex(`
  02 00 00 00 00 02 02 00 00 00 00 01 08 00
  45 00 00 38 00 00 40 00 ff 11 ef 8c c6 12 00 01 c6 12 00 02
  4e 38 4e 37 00 24 01 99
  00 00 00 01 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 04 00 00 00 00 66 6f 6f 00`);
const IP_PACKET = HERALD_FRAME.subarray(ETHERNET_HEADER_SIZE);
const UDP_DATAGRAM = IP_PACKET.subarray(20);
const NETDUMP_MESSAGE = UDP_DATAGRAM.subarray(8);
const IP_WITH_OPTIONS = hex(`
  46 00 00 24 12 34 40 00 40 11 99 6c c6 12 00 02 c6 12 00 01 01 01 01 00
  80 e8 4e 38 00 0c a4 8c 00 00 00 01`);
const ARP_BODY = hex('0001 0800 06 04 0001 020000000001 c6120001 000000000000 c6120002');

function kerneldumpHeader(): Uint8Array {
  const buf = new Uint8Array(512);
  emitKerneldumpHeader(
    {
      magic: KERNELDUMPMAGIC,
      architecture: 'amd64',
      version: 4,
      architectureVersion: 2,
      dumpLength: 2 ** 33,
      dumpTime: 1,
      dumpKeySize: 0,
      blockSize: 4096,
      hostname: 'h',
      versionString: 'v\n',
      panicString: 'p',
      compression: 0,
      dumpExtent: 2 ** 33,
    },
    buf,
  );
  return buf;
}

/** The key blob up to the end of the key: every shorter prefix lacks key bytes. */
function kerneldumpKeyUnpadded(): Uint8Array {
  const buf = new Uint8Array(4096);
  emitKerneldumpKey({ encryption: 2, iv: new Uint8Array(32).fill(7), encryptedKey: new Uint8Array(300).fill(9) }, buf);
  return buf.subarray(0, 37 + 300);
}

const PARSERS: Array<[string, Uint8Array, (input: Uint8Array) => unknown]> = [
  ['ethernet', HERALD_FRAME.subarray(0, 14), parseEthernet],
  ['arp', ARP_BODY, parseArp],
  ['ipv4', IP_PACKET, (input) => parseIpv4(input)],
  ['ipv4 (no checksum check)', IP_PACKET, (input) => parseIpv4(input, { verifyChecksum: false })],
  ['ipv4 with options', IP_WITH_OPTIONS, (input) => parseIpv4(input)],
  ['udp', UDP_DATAGRAM, (input) => parseUdp(input)],
  ['udp with checksum', UDP_DATAGRAM, (input) => parseUdp(input, { src: 0xc6120001, dst: 0xc6120002 })],
  ['netdump header', NETDUMP_MESSAGE.subarray(0, 24), parseNetdumpHeader],
  ['netdump message', NETDUMP_MESSAGE, parseNetdumpMessage],
  ['kerneldumpheader', kerneldumpHeader(), parseKerneldumpHeader],
  ['kerneldumpkey', kerneldumpKeyUnpadded(), parseKerneldumpKey],
];

for (const [name, valid, parse] of PARSERS) {
  test(`${name}: the full input parses, every shorter prefix is 'truncated'`, () => {
    assert.doesNotThrow(() => parse(valid));
    for (let length = 0; length < valid.length; length++) {
      // A fresh exact-size copy, so nothing past `length` is even reachable.
      assertWireError(() => parse(valid.slice(0, length)), 'truncated');
    }
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import {
  KDH_VERSIONSTRING_OFFSET,
  KERNELDUMPHEADER_SIZE,
  KERNELDUMP_COMP_ZSTD,
  kerneldumpParity,
  parseKerneldumpHeader,
} from '../../src/wire/kerneldumpheader.js';
import {
  DEFAULT_PANIC_STRING,
  FREEBSD12_VERSION_STRING,
  FREEBSD13_VERSION_STRING,
  buildDumpHeader,
  dumpHeaderRepr,
} from '../../src/dump/kdh.js';

test('buildDumpHeader fills the fields dump_init_header fills, with verifying parity', () => {
  const header = buildDumpHeader({
    dumpLength: 0x1_0000_2000,
    dumpTime: 1_700_000_123,
    dumpKeySize: 4096,
    hostname: 'crashbox',
    panicString: 'page fault while in kernel mode',
    profile: 'freebsd13',
  });
  assert.equal(header.length, KERNELDUMPHEADER_SIZE);
  assert.equal(kerneldumpParity(header), 0);
  const parsed = parseKerneldumpHeader(header);
  assert.equal(parsed.magic, 'FreeBSD Kernel Dump');
  assert.equal(parsed.architecture, 'amd64');
  assert.equal(parsed.version, 4);
  assert.equal(parsed.architectureVersion, 2);
  assert.equal(parsed.dumpLength, 0x1_0000_2000);
  assert.equal(parsed.dumpExtent, 0x1_0000_2000, 'dumpextent = the uncompressed length');
  assert.equal(parsed.dumpTime, 1_700_000_123);
  assert.equal(parsed.dumpKeySize, 4096);
  assert.equal(parsed.blockSize, 4096);
  assert.equal(parsed.hostname, 'crashbox');
  assert.equal(parsed.versionString, FREEBSD13_VERSION_STRING);
  assert.equal(parsed.panicString, 'page fault while in kernel mode');
  assert.equal(parsed.compression, 0);
  assert.equal(parsed.parityOk, true);
  // Big-endian, as the kernel's htod64 makes it.
  assert.deepEqual([...header.subarray(40, 48)], [0, 0, 0, 1, 0, 0, 0x20, 0]);
});

test('a compressed dump keeps its uncompressed length in dumpextent', () => {
  const parsed = parseKerneldumpHeader(
    buildDumpHeader({ dumpLength: 1_000_448, dumpExtent: 64 * 1024 * 1024, compression: KERNELDUMP_COMP_ZSTD }),
  );
  assert.equal(parsed.dumpLength, 1_000_448);
  assert.equal(parsed.dumpExtent, 64 * 1024 * 1024);
  assert.equal(parsed.compression, KERNELDUMP_COMP_ZSTD);
  assert.equal(parsed.parityOk, true);
});

test('defaults: host name, profile version string, panic string, now', () => {
  const before = Math.floor(Date.now() / 1000);
  const repr = dumpHeaderRepr({ dumpLength: 8192 });
  assert.equal(repr.hostname, hostname());
  assert.equal(repr.versionString, FREEBSD13_VERSION_STRING);
  assert.equal(repr.panicString, DEFAULT_PANIC_STRING);
  assert.equal(repr.dumpKeySize, 0);
  assert.ok(repr.dumpTime >= before && repr.dumpTime <= before + 2);
  assert.equal(dumpHeaderRepr({ dumpLength: 1, profile: 'freebsd12' }).versionString, FREEBSD12_VERSION_STRING);
  assert.match(FREEBSD12_VERSION_STRING, /^FreeBSD 12\.\d-RELEASE .*\n$/);
  assert.match(FREEBSD13_VERSION_STRING, /^FreeBSD 13\.\d-RELEASE .*\n$/);
});

test('the version string always ends in a newline; a truncated one has it at byte 190', () => {
  const plain = parseKerneldumpHeader(buildDumpHeader({ dumpLength: 4096, versionString: 'FreeBSD 14.0-CURRENT' }));
  assert.equal(plain.versionString, 'FreeBSD 14.0-CURRENT\n');
  const kept = parseKerneldumpHeader(buildDumpHeader({ dumpLength: 4096, versionString: 'custom\n' }));
  assert.equal(kept.versionString, 'custom\n');

  const long = buildDumpHeader({ dumpLength: 4096, versionString: `FreeBSD ${'x'.repeat(300)}` });
  assert.equal(long[KDH_VERSIONSTRING_OFFSET + 189], 'x'.charCodeAt(0));
  assert.equal(long[KDH_VERSIONSTRING_OFFSET + 190], 0x0a);
  assert.equal(long[KDH_VERSIONSTRING_OFFSET + 191], 0);
  assert.equal(kerneldumpParity(long), 0);
});

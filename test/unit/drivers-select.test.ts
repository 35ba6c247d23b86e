/**
 * The shim chosen for an interface from its Linux driver (README's table):
 * e1000 and e1000e → em, igb → igb, virtio_net → vtnet, anything else →
 * generic; --driver overrides, and 12.x's vtnet leaves offloads alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { FrameBackend } from '../../drivers/backend.js';
import { createDriver, shimForLinuxDriver } from '../../drivers/select.js';
import { VTNET12, VTNET13 } from '../../drivers/vtnet.js';
import { LinkFlag } from '../../native/index.js';
import { FREEBSD12, FREEBSD13 } from '../../src/client/profile.js';
import { assertNetdumpError } from '../helpers/assertions.js';
import { fakeFacts } from '../helpers/drivers.js';

/** A backend with a running link that sends and receives nothing: enough to choose and start a shim. */
function backendOf(linuxDriver: string, gro = { enabled: true, changes: 0 }): FrameBackend {
  return {
    facts: () => fakeFacts('test0', linuxDriver),
    link: () => LinkFlag.Up | LinkFlag.Running,
    gro: (enabled?: boolean) => {
      if (enabled !== undefined) [gro.enabled, gro.changes] = [enabled, gro.changes + 1];
      return gro.enabled;
    },
    queue: () => undefined,
    flush: () => undefined,
    receive: () => 0,
    close: () => undefined,
  };
}

test('each Linux driver gets the shim of the FreeBSD driver for the same hardware', () => {
  const expected: Record<string, string> = {
    e1000: 'em',
    e1000e: 'em',
    igb: 'igb',
    virtio_net: 'vtnet',
    veth: 'generic',
    ixgbe: 'generic',
    i40e: 'generic',
    igc: 'generic',
    '': 'generic',
  };
  for (const [linuxDriver, shim] of Object.entries(expected)) {
    assert.equal(shimForLinuxDriver(linuxDriver), shim, linuxDriver);
    assert.equal(createDriver(backendOf(linuxDriver)).name, shim, `createDriver for ${linuxDriver || 'no driver'}`);
  }
});

test('a named shim overrides the choice; an unknown name is refused', () => {
  for (const shim of ['generic', 'em', 'igb', 'vtnet']) assert.equal(createDriver(backendOf('e1000e'), shim).name, shim);
  assertNetdumpError(() => createDriver(backendOf('veth'), 'bge'), 'EINVAL', "unknown driver 'bge': choose one of generic, em, igb, vtnet");
});

test("13+'s vtnet turns GRO off for the dump and back on after; 12.x's has no event", () => {
  for (const [vtnet, changes] of [
    [VTNET13, 2],
    [VTNET12, 0],
  ] as const) {
    const release = vtnet === VTNET13 ? '13+' : '12.x';
    const gro = { enabled: true, changes: 0 };
    const driver = createDriver(backendOf('virtio_net', gro), undefined, { vtnet });
    driver.event('start');
    assert.equal(gro.enabled, !vtnet.togglesLro, `GRO during the dump, ${release}`);
    driver.event('end');
    assert.deepEqual(gro, { enabled: true, changes }, `GRO after the dump, ${release}`);
  }
});

test("the profiles' vtnet models are the shim's own for each release", () => {
  assert.deepEqual(FREEBSD12.vtnet, VTNET12);
  assert.deepEqual(FREEBSD13.vtnet, VTNET13);
});

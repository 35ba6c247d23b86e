/**
 * The test hosts themselves: the routed topology forwards our frames, and
 * nothing is left behind after a normal end, an interrupt or a kill.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { PacketSocket } from '../../native/index.js';
import { createRoutedTestHosts, createTestHostPair, removeStaleTestHosts } from '../../scripts/lib/testhosts.js';
import { emitUdpFrame } from '../helpers/udp-frames.js';
import {
  ARP_FRAME_SIZE,
  ARP_OP_REPLY,
  arpOp,
  emitArpRequestFrame,
  ETHERNET_HEADER_SIZE,
  ethernetEtherType,
  ETHERTYPE_ARP,
  parseArp,
  parseIpv4,
  UDP_PAYLOAD_OFFSET,
} from '../../src/wire/index.js';
import { receiveUntil } from '../helpers/frames.js';
import { UdpPeer } from '../helpers/udp-peer.js';

const TESTHOSTS = fileURLToPath(new URL('../../scripts/lib/testhosts.js', import.meta.url));
/** The namespace, or the files ip netns exec binds over /etc inside it (resolv.conf), are still there. */
const namespaceExists = (ns: string) => existsSync(`/var/run/netns/${ns}`) || existsSync(`/etc/netns/${ns}`);

/** Starts a process that creates a pair of test hosts and waits; resolves with it and their namespaces. */
async function hostsInChild() {
  const script = `import(${JSON.stringify(TESTHOSTS)}).then(({ createTestHostPair }) => {
    const hosts = createTestHostPair();
    console.log(hosts.client.ns + ' ' + hosts.server.ns);
    setInterval(() => {}, 1000);
  });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return { child, namespaces: line.split(' ') };
}

describe('test hosts', () => {
  test('routed: our frame to the gateway MAC is forwarded to the server on the other subnet', async () => {
    const hosts = createRoutedTestHosts();
    try {
      const router = hosts.router!;
      const socket = PacketSocket.open(hosts.client.iface, { netns: hosts.client.ns });
      const peer = await UdpPeer.start(hosts, hosts.server.ns, `${hosts.server.ip}:20023`);
      const mac = socket.info().mac;
      const request = Buffer.alloc(ARP_FRAME_SIZE);
      emitArpRequestFrame({ senderMac: mac, senderIp: 0xc6120101, targetIp: 0xc61201fe }, request);
      socket.send(request);
      const isReply = (frame: Buffer) => ethernetEtherType(frame) === ETHERTYPE_ARP && arpOp(frame, ETHERNET_HEADER_SIZE) === ARP_OP_REPLY;
      const { frame } = await receiveUntil(socket, isReply, 3000);
      const gatewayMac = parseArp(frame.subarray(ETHERNET_HEADER_SIZE)).senderMac;
      assert.equal(Buffer.from(gatewayMac).toString('hex'), router.clientSide.mac.replaceAll(':', ''));

      const datagram = Buffer.alloc(UDP_PAYLOAD_OFFSET + 4);
      const addressing = { srcMac: mac, dstMac: gatewayMac, srcIp: 0xc6120101, dstIp: 0xc6120201, srcPort: 20024, dstPort: 20023 };
      emitUdpFrame(addressing, Buffer.from('cafef00d', 'hex'), datagram);
      assert.equal(parseIpv4(datagram.subarray(ETHERNET_HEADER_SIZE)).ttl, 255);
      socket.send(datagram);
      assert.deepEqual(await peer.nextMessage(3000), { event: 'message', address: '198.18.1.1', port: 20024, data: 'cafef00d' });
      socket.close();
    } finally {
      hosts.destroy();
    }
    assert.equal(namespaceExists(hosts.client.ns) || namespaceExists(hosts.router!.ns) || namespaceExists(hosts.server.ns), false);
  });

  test('destroy removes the namespaces and the processes in them', async () => {
    const hosts = createTestHostPair();
    const sleeper = hosts.spawn(hosts.server.ns, 'sleep', ['60']);
    assert.ok(namespaceExists(hosts.client.ns) && namespaceExists(hosts.server.ns));
    hosts.destroy();
    const [, signal] = (await once(sleeper, 'exit')) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL');
    assert.equal(namespaceExists(hosts.client.ns), false);
    assert.equal(namespaceExists(hosts.server.ns), false);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`a run interrupted with ${signal} removes its test hosts`, async () => {
      const { child, namespaces } = await hostsInChild();
      assert.ok(namespaces.every(namespaceExists));
      child.kill(signal);
      await once(child, 'exit');
      assert.deepEqual(namespaces.filter(namespaceExists), []);
    });
  }

  test('the hosts of a killed run are removed as stale by the next run', async () => {
    const { child, namespaces } = await hostsInChild();
    // Checked while the child lives: once it is dead, any other run's removeStaleTestHosts may remove them.
    assert.ok(namespaces.every(namespaceExists));
    child.kill('SIGKILL');
    await once(child, 'exit');
    removeStaleTestHosts();
    assert.deepEqual(namespaces.filter(namespaceExists), []);
  });
});

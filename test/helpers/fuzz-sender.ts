/**
 * A hostile netdump client, run inside the client test host: from each of
 * its addresses it sends mutated heralds to the herald port and mutated
 * messages of every type to the session port its herald's ack came from,
 * in paced bursts. Prints one JSON summary line when done.
 *
 *   node fuzz-sender.js '{"serverIp":"198.18.0.2","ips":["198.18.0.50"],"count":20000,"seed":1}'
 */
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

import { seededRandom } from '../../src/dump/minidump.js';
import {
  KDH_DUMPLENGTH_OFFSET,
  KERNELDUMPVERSION,
  NETDUMP_EKCD_KEY,
  NETDUMP_FINISHED,
  NETDUMP_HEADER_SIZE,
  NETDUMP_HERALD,
  NETDUMP_KDH,
  NETDUMP_LEN_OFFSET,
  NETDUMP_TYPE_OFFSET,
  NETDUMP_VMCORE,
} from '../../src/wire/index.js';
import { buildKdh, encodeMessage } from './netdump-test-client.js';

interface Config {
  serverIp: string;
  ips: string[];
  count: number;
  seed: number;
  heraldPort?: number;
}

export interface FuzzSummary {
  sent: number;
  toHerald: number;
  toSession: number;
  acks: number;
}

const BURST = 50;
const BURST_PAUSE_MS = 5;
/** Offsets that stress arithmetic: 2^32 - 1, 2^53 - 1, 2^53, 2^63, 2^64 - 4096. */
const SPECIAL_OFFSETS = [0n, 0xffff_ffffn, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 4096n];
const PATHS = ['sub', 'escape', '../x', '/tmp', 'sub/../..', '', 'no\x1bsuch\n', 'x'.repeat(1100)];

const config = JSON.parse(process.argv[2]!) as Config;
const random = seededRandom(config.seed);
const below = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[below(items.length)]!;
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => below(256)));

const message = (type: number, seq: number, offset: bigint, payload: Buffer) => encodeMessage({ type, seq, offset, payload });

/**
 * A kernel dump header with hostile fields: unknown versions and compression
 * codes, an encryption key size, and dump lengths the emitter would refuse
 * (negative, past 2^53), written over its own at the field's offset.
 */
function kdhPayload(): Buffer {
  const kdh = buildKdh({
    version: pick([KERNELDUMPVERSION, 1, 0xffff_ffff]),
    compression: pick([0, 1, 2, 3, 255]),
    dumpKeySize: pick([0, 300]),
  });
  kdh.writeBigInt64BE(pick([0n, 4096n, 2n ** 40n, 2n ** 62n, -1n]), KDH_DUMPLENGTH_OFFSET);
  return kdh;
}

function seedMessage(): { datagram: Buffer; herald: boolean } {
  const seq = below(2 ** 32);
  switch (below(6)) {
    case 0:
    case 1: {
      const path = pick(PATHS);
      const payload = below(4) === 0 ? randomBytes(below(40)) : Buffer.from(`${path}\0`, 'latin1');
      return { datagram: message(NETDUMP_HERALD, seq, 0n, payload), herald: true };
    }
    case 2:
      return {
        datagram: message(NETDUMP_VMCORE, seq, below(2) === 0 ? BigInt(below(2 ** 24)) : pick(SPECIAL_OFFSETS), randomBytes(below(4097))),
        herald: false,
      };
    case 3:
      return { datagram: message(NETDUMP_KDH, seq, 0n, kdhPayload()), herald: false };
    case 4:
      return { datagram: message(NETDUMP_EKCD_KEY, seq, pick(SPECIAL_OFFSETS), randomBytes(below(1024))), herald: false };
    default:
      return { datagram: below(2) === 0 ? message(NETDUMP_FINISHED, seq, 0n, Buffer.alloc(0)) : randomBytes(below(64)), herald: false };
  }
}

/** Zero to three mutations: a bit, a byte, a cut, a tail, a length field, a type. */
function mutate(datagram: Buffer): Buffer {
  let out = datagram;
  for (let n = below(4); n > 0 && out.length > 0; n--) {
    const at = below(out.length);
    switch (below(6)) {
      case 0:
        out[at] = out[at]! ^ (1 << below(8));
        break;
      case 1:
        out[at] = below(256);
        break;
      case 2:
        out = out.subarray(0, at);
        break;
      case 3:
        out = Buffer.concat([out, randomBytes(below(200))]);
        break;
      case 4:
        if (out.length >= NETDUMP_HEADER_SIZE)
          out.writeUInt32BE(
            below(2) === 0 ? Math.max(0, out.length - NETDUMP_HEADER_SIZE + below(3) - 1) : below(2 ** 32),
            NETDUMP_LEN_OFFSET,
          );
        break;
      default:
        if (out.length >= 4) out.writeUInt32BE(below(8), NETDUMP_TYPE_OFFSET);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const heraldPort = config.heraldPort ?? 20023;
  const sessionPorts = new Map<string, number>();
  const summary: FuzzSummary = { sent: 0, toHerald: 0, toSession: 0, acks: 0 };
  const sockets = await Promise.all(
    config.ips.map(
      (ip) =>
        new Promise<Socket>((resolve, reject) => {
          const socket = createSocket('udp4');
          socket.on('message', (data, remote) => {
            if (remote.address !== config.serverIp || data.length !== 4) return;
            summary.acks++;
            if (remote.port !== heraldPort) sessionPorts.set(ip, remote.port);
          });
          socket.once('error', reject);
          socket.bind(20024, ip, () => resolve(socket));
        }),
    ),
  );
  while (summary.sent < config.count) {
    for (let i = 0; i < BURST && summary.sent < config.count; i++, summary.sent++) {
      const index = below(sockets.length);
      const { datagram, herald } = seedMessage();
      const sessionPort = sessionPorts.get(config.ips[index]!);
      const toHerald = herald || sessionPort === undefined;
      if (toHerald) summary.toHerald++;
      else summary.toSession++;
      sockets[index]!.send(mutate(datagram), toHerald ? heraldPort : sessionPort, config.serverIp);
    }
    await sleep(BURST_PAUSE_MS);
  }
  await sleep(300);
  for (const socket of sockets) socket.close();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`fuzz-sender: ${(error as Error).message}\n`);
  process.exit(1);
});

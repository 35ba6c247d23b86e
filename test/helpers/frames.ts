/** Receiving frames in tests: wait, event-driven, for a frame that matches. */
import type { PacketSocket } from '../../native/index.js';
import {
  ARP_OP_REQUEST,
  ETHERNET_HEADER_SIZE,
  ETHERTYPE_ARP,
  emitArpReplyFrame,
  parseArp,
  ARP_FRAME_SIZE,
  ethernetEtherType,
} from '../../src/wire/index.js';

export interface Station {
  mac: Uint8Array;
  ip: number;
}

/** Answers an ARP who-has for `station`, so the peer kernel can reach our stack. */
export function answerArp(socket: PacketSocket, station: Station, frame: Uint8Array): void {
  if (frame.length < ETHERNET_HEADER_SIZE || ethernetEtherType(frame) !== ETHERTYPE_ARP) return;
  const arp = parseArp(frame.subarray(ETHERNET_HEADER_SIZE));
  if (arp.op !== ARP_OP_REQUEST || arp.targetIp !== station.ip) return;
  const reply = Buffer.alloc(ARP_FRAME_SIZE);
  emitArpReplyFrame({ senderMac: station.mac, senderIp: station.ip, targetMac: arp.senderMac, targetIp: arp.senderIp }, reply);
  socket.send(reply);
}

export interface Reception {
  /** The first frame that matched. */
  frame: Buffer;
  /** Its RxFlag bits. */
  flags: number;
  /** Every frame received while waiting, copied, in order. */
  seen: Buffer[];
}

/**
 * Waits until a received frame satisfies `match`. Every frame is also given
 * to `onFrame` (to answer ARP, say). Rejects with what was seen on timeout.
 */
export function receiveUntil(
  socket: PacketSocket,
  match: (frame: Buffer) => boolean,
  timeoutMs: number,
  onFrame: (frame: Buffer) => void = () => undefined,
): Promise<Reception> {
  const seen: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.stopWatching();
      reject(new Error(`no matching frame within ${timeoutMs} ms; saw ${seen.length}: ${seen.map((f) => f.toString('hex')).join(' ')}`));
    }, timeoutMs);
    const drain = () => {
      const views = socket.recvBatch(64);
      for (let index = 0; index < views.length; index++) {
        const frame = Buffer.from(views[index]!);
        seen.push(frame);
        onFrame(frame);
        if (match(frame)) {
          clearTimeout(timer);
          socket.stopWatching();
          resolve({ frame, flags: socket.rxFlags(index), seen });
          return;
        }
      }
    };
    socket.onReadable(drain);
    drain();
  });
}

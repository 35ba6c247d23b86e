/** Test-side handle on a kernel UDP socket running in a test host's namespace. */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

import type { TestHosts } from '../../scripts/lib/testhosts.js';

export interface PeerEvent {
  event: 'listening' | 'message' | 'sent' | 'error';
  address?: string;
  port?: number;
  data?: string;
  message?: string;
}

const PEER_SCRIPT = fileURLToPath(new URL('./udp-peer-process.js', import.meta.url));

export class UdpPeer {
  private readonly queue: PeerEvent[] = [];
  private waiter: (() => void) | undefined;
  /** False once the peer's process has exited: nothing more will come. */
  alive = true;

  private constructor(private readonly child: ChildProcess) {
    child.once('exit', () => {
      this.alive = false;
      this.waiter?.();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.queue.push(JSON.parse(line) as PeerEvent);
      this.waiter?.();
    });
  }

  /** Starts a UDP socket bound to host:port inside the namespace; resolves once it listens. */
  static async start(hosts: TestHosts, ns: string, bind: string): Promise<UdpPeer> {
    const peer = new UdpPeer(hosts.spawn(ns, process.execPath, [PEER_SCRIPT, bind]));
    const ready = await peer.next(5000);
    if (ready?.event !== 'listening') {
      peer.stop();
      throw new Error(`UDP peer did not start: ${JSON.stringify(ready)}`);
    }
    return peer;
  }

  /** The next event, or undefined if none arrives within the timeout. */
  async next(timeoutMs: number): Promise<PeerEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || !this.alive) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  async nextMessage(timeoutMs: number): Promise<PeerEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(0, deadline - Date.now()));
      if (event === undefined || event.event === 'message') return event;
      if (event.event === 'error') throw new Error(`UDP peer: ${event.message}`);
    }
  }

  send(address: string, port: number, data: Uint8Array): void {
    this.child.stdin!.write(`${JSON.stringify({ address, port, data: Buffer.from(data).toString('hex') })}\n`);
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

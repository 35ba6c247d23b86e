/**
 * A kernel UDP socket in a test host's namespace, driven over stdio by
 * test/helpers/udp-peer.ts: one JSON object per line each way.
 *   out: {"event":"listening","address":"198.18.0.2","port":20023}
 *        {"event":"message","address":"198.18.0.1","port":20024,"data":"<hex>"}
 *   in:  {"address":"198.18.0.1","port":20024,"data":"<hex>"}
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';

const [host = '0.0.0.0', port = '0'] = (process.argv[2] ?? '').split(':');
const socket = createSocket('udp4');

function emit(object: unknown): void {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

socket.on('message', (data, remote) => {
  emit({ event: 'message', address: remote.address, port: remote.port, data: data.toString('hex') });
});
socket.on('error', (error) => {
  emit({ event: 'error', message: error.message });
  process.exit(1);
});
socket.bind(Number(port), host, () => {
  const address = socket.address();
  emit({ event: 'listening', address: address.address, port: address.port });
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line) as { address: string; port: number; data: string };
  socket.send(Buffer.from(request.data, 'hex'), request.port, request.address, (error) => {
    emit(error ? { event: 'error', message: error.message } : { event: 'sent' });
  });
});
process.stdin.on('end', () => process.exit(0));

/** The wire layer: byte layouts only, no I/O, no state. */
export * from './errors.js';
export * from './bytes.js';
export * from './address.js';
export * from './checksum.js';
export { allocateSummableBuffers } from './wasm-sum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './udp.js';
export * from './frame.js';
export * from './netdump.js';
export * from './kerneldumpheader.js';
export * from './kerneldumpkey.js';

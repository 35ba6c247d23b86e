/**
 * zstd's C library compiled to WebAssembly (@bokuweb/zstd-wasm), loaded
 * once per process: calling its init() again while it is in use
 * re-instantiates the module under the calls that follow, and a
 * decompression then fails (ZSTD error 72).
 */
import { compress, decompress, init } from '@bokuweb/zstd-wasm';

let loading: Promise<void> | undefined;

/** Resolves once the module is ready; every caller shares the one load. */
export function zstdReady(): Promise<void> {
  return (loading ??= init());
}

export { compress as zstdCompress, decompress as zstdDecompress };

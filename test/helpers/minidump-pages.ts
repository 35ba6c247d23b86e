/** Reading back what the synthetic minidump generator (src/dump/minidump.ts) writes. */
import { dataPatternMask, fillDataPage, fillerTemplate, PAGE_SIZE } from '../../src/dump/minidump.js';

/** Whether physical page `page` is in the dump: bit k of the bitmap, LSB first. */
export function isPageSet(bitmap: Uint8Array, page: number): boolean {
  return ((bitmap[page >>> 3] ?? 0) & (1 << (page & 7))) !== 0;
}

/** Page `pageNumber`'s expected contents. */
export function expectedDataPage(pageNumber: number, seed = 0): Uint8Array {
  const mask = dataPatternMask(seed);
  const words = new Uint32Array(PAGE_SIZE / 4);
  fillDataPage(words, 0, pageNumber, mask, fillerTemplate(mask));
  return new Uint8Array(words.buffer);
}

/**
 * The physical page number a data page claims to be, or null if the page
 * is not one intact pattern page made with this seed.
 */
export function dataPageNumber(page: Uint8Array, seed = 0): number | null {
  if (page.length !== PAGE_SIZE) return null;
  const mask = dataPatternMask(seed);
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const low = (view.getUint32(0, true) ^ mask.low) >>> 0;
  const high = (view.getUint32(4, true) ^ mask.high) >>> 0;
  if (low % PAGE_SIZE !== 0 || high >= 0x100000) return null;
  const pageNumber = high * 0x100000 + low / PAGE_SIZE;
  return Buffer.from(page.buffer, page.byteOffset, page.byteLength).equals(expectedDataPage(pageNumber, seed)) ? pageNumber : null;
}

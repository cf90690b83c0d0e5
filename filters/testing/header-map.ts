// Header maps: the ABI's pair serialization and the edits Envoy applies to its header maps.
//
// Wire layout (little endian): u32 pair count, then (u32 key length, u32 value length) per pair,
// then every key and value as bytes, each followed by one NUL. Lengths exclude the NUL.

export type HeaderList = [string, string][];

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

export class HeaderMapFormatError extends Error {
  override name = "HeaderMapFormatError";
}

export function encodeHeaderPairs(pairs: HeaderList): Uint8Array {
  const encoded = pairs.map(([key, value]) => [utf8Encoder.encode(key), utf8Encoder.encode(value)] as const);
  let size = 4 + 8 * encoded.length;
  for (const [key, value] of encoded) size += key.length + 1 + value.length + 1;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, encoded.length, true);
  let offset = 4;
  for (const [key, value] of encoded) {
    view.setUint32(offset, key.length, true);
    view.setUint32(offset + 4, value.length, true);
    offset += 8;
  }
  for (const [key, value] of encoded) {
    bytes.set(key, offset);
    offset += key.length + 1;
    bytes.set(value, offset);
    offset += value.length + 1;
  }
  return bytes;
}

/** Throws HeaderMapFormatError when the bytes do not hold the pairs their header announces. */
export function decodeHeaderPairs(bytes: Uint8Array): HeaderList {
  if (bytes.length < 4) {
    throw new HeaderMapFormatError(`header pairs need at least 4 bytes for the count, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  const sizesEnd = 4 + 8 * count;
  if (sizesEnd > bytes.length) {
    throw new HeaderMapFormatError(`${count} pairs need ${sizesEnd} bytes of sizes, got ${bytes.length}`);
  }
  const sizes: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    sizes.push([view.getUint32(4 + 8 * i, true), view.getUint32(8 + 8 * i, true)]);
  }
  const pairs: HeaderList = [];
  let offset = sizesEnd;
  for (const [keySize, valueSize] of sizes) {
    const keyEnd = offset + keySize;
    const valueStart = keyEnd + 1;
    const valueEnd = valueStart + valueSize;
    if (valueEnd + 1 > bytes.length) {
      throw new HeaderMapFormatError(`pair ${pairs.length} runs past the end of the ${bytes.length} bytes`);
    }
    pairs.push([utf8Decoder.decode(bytes.subarray(offset, keyEnd)), utf8Decoder.decode(bytes.subarray(valueStart, valueEnd))]);
    offset = valueEnd + 1;
  }
  return pairs;
}

/** Envoy's reading of module-supplied pairs: a malformed buffer counts as no pairs. */
export function decodeHeaderPairsLeniently(bytes: Uint8Array): HeaderList {
  try {
    return decodeHeaderPairs(bytes);
  } catch (error) {
    if (error instanceof HeaderMapFormatError) return [];
    throw error;
  }
}

// Edits below mutate the list in place, with Envoy's semantics: keys are lower-cased, lookups see
// the first value only, pseudo-headers (":name") stay ahead of regular headers.

function isPseudoHeader(key: string): boolean {
  return key.startsWith(":");
}

export function lowerCaseKeys(pairs: HeaderList): HeaderList {
  return pairs.map(([key, value]) => [key.toLowerCase(), value]);
}

export function getHeaderValue(map: HeaderList, key: string): string | undefined {
  const name = key.toLowerCase();
  return map.find(([k]) => k === name)?.[1];
}

export function addHeaderValue(map: HeaderList, key: string, value: string): void {
  const name = key.toLowerCase();
  if (isPseudoHeader(name)) {
    const firstRegular = map.findIndex(([k]) => !isPseudoHeader(k));
    map.splice(firstRegular === -1 ? map.length : firstRegular, 0, [name, value]);
  } else {
    map.push([name, value]);
  }
}

export function removeHeaderValues(map: HeaderList, key: string): void {
  const name = key.toLowerCase();
  for (let i = map.length - 1; i >= 0; i--) {
    if (map[i]![0] === name) map.splice(i, 1);
  }
}

/** Envoy's `setCopy`: every existing value goes, the new one is appended. */
export function replaceHeaderValue(map: HeaderList, key: string, value: string): void {
  removeHeaderValues(map, key);
  addHeaderValue(map, key, value);
}

export function setHeaderPairs(map: HeaderList, pairs: HeaderList): void {
  map.splice(0, map.length);
  for (const [key, value] of pairs) addHeaderValue(map, key, value);
}

/** Envoy's `byteSize()`: key and value bytes summed, no separators. */
export function headerMapByteSize(map: HeaderList): number {
  let size = 0;
  for (const [key, value] of map) size += utf8Encoder.encode(key).length + utf8Encoder.encode(value).length;
  return size;
}

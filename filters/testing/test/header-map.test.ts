import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  addHeaderValue,
  decodeHeaderPairs,
  decodeHeaderPairsLeniently,
  encodeHeaderPairs,
  headerMapByteSize,
  HeaderMapFormatError,
  replaceHeaderValue,
  removeHeaderValues,
  type HeaderList,
} from "../header-map.ts";

describe("header pair serialization", () => {
  it("encodeHeaderPairs: count, sizes, then NUL-terminated keys and values, little endian", () => {
    const bytes = encodeHeaderPairs([
      [":path", "/a"],
      ["x", ""],
    ]);
    const expected = [
      2, 0, 0, 0,
      5, 0, 0, 0, 2, 0, 0, 0,
      1, 0, 0, 0, 0, 0, 0, 0,
      ...Buffer.from(":path\0/a\0x\0\0"),
    ];
    assert.deepEqual([...bytes], expected);
  });

  it("decodeHeaderPairs: round-trips duplicates, empty values and multi-byte UTF-8", () => {
    const pairs: HeaderList = [
      [":authority", "acme.edgerim.test"],
      ["x-dup", "one"],
      ["x-dup", "two"],
      ["x-empty", ""],
      ["x-utf8", "zürich → 東京"],
    ];
    assert.deepEqual(decodeHeaderPairs(encodeHeaderPairs(pairs)), pairs);
  });

  it("decodeHeaderPairs: zero pairs encode to the count alone", () => {
    assert.deepEqual([...encodeHeaderPairs([])], [0, 0, 0, 0]);
    assert.deepEqual(decodeHeaderPairs(new Uint8Array(4)), []);
  });

  it("decodeHeaderPairs: rejects buffers shorter than their header announces", () => {
    assert.throws(() => decodeHeaderPairs(new Uint8Array(3)), HeaderMapFormatError);
    const tooManyPairs = new Uint8Array([5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    assert.throws(() => decodeHeaderPairs(tooManyPairs), /5 pairs need 44 bytes of sizes, got 12/);
    const truncated = encodeHeaderPairs([["key", "value"]]).subarray(0, 20);
    assert.throws(() => decodeHeaderPairs(truncated), /pair 0 runs past the end/);
  });

  it("decodeHeaderPairsLeniently: a malformed buffer reads as no pairs, as in Envoy", () => {
    assert.deepEqual(decodeHeaderPairsLeniently(new Uint8Array([9, 0, 0, 0])), []);
    assert.deepEqual(decodeHeaderPairsLeniently(encodeHeaderPairs([["a", "b"]])), [["a", "b"]]);
  });
});

describe("header map edits", () => {
  it("replaceHeaderValue: drops every value of the key and appends one lower-cased entry", () => {
    const map: HeaderList = [
      ["x-a", "1"],
      ["x-b", "2"],
      ["x-a", "3"],
      ["x-c", "4"],
    ];
    replaceHeaderValue(map, "X-A", "new");
    assert.deepEqual(map, [
      ["x-b", "2"],
      ["x-c", "4"],
      ["x-a", "new"],
    ]);
  });

  it("addHeaderValue: pseudo-headers go after the last pseudo-header, others at the end", () => {
    const map: HeaderList = [
      [":method", "GET"],
      ["x-a", "1"],
    ];
    addHeaderValue(map, ":Path", "/p");
    addHeaderValue(map, "X-A", "2");
    assert.deepEqual(map, [
      [":method", "GET"],
      [":path", "/p"],
      ["x-a", "1"],
      ["x-a", "2"],
    ]);
  });

  it("removeHeaderValues: removes every value, any case", () => {
    const map: HeaderList = [
      ["x-a", "1"],
      ["x-b", "2"],
      ["x-a", "3"],
    ];
    removeHeaderValues(map, "X-a");
    assert.deepEqual(map, [["x-b", "2"]]);
  });

  it("headerMapByteSize: sums key and value bytes", () => {
    assert.equal(
      headerMapByteSize([
        [":path", "/ab"],
        ["x", "é"],
      ]),
      5 + 3 + 1 + 2,
    );
  });
});

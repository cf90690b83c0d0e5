// A forward-only JSON reader for the plugin configuration and discovery answers: callers walk
// objects and arrays member by member and skip what they do not need. Nothing is built as a tree.

export enum JsonKind { Null, Bool, Number, String, Array, Object }

// Deeper documents are refused so a hostile discovery body cannot exhaust the wasm stack.
const MAX_DEPTH = 16;

export class JsonReader {
  text: string;
  pos: i32 = 0;
  failed: bool = false;
  /** Set by `number()`: the number had no fraction or exponent. */
  integral: bool = false;

  constructor(text: string) {
    this.text = text;
  }

  /** The next character after whitespace, not consumed; -1 at the end. */
  peek(): i32 {
    while (this.pos < this.text.length) {
      let c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return c;
      this.pos++;
    }
    return -1;
  }

  take(c: i32): bool {
    if (this.peek() != c) return false;
    this.pos++;
    return true;
  }

  /** Kind of the next value, judged by its first character. */
  kind(): JsonKind {
    let c = this.peek();
    if (c == 0x22) return JsonKind.String;
    if (c == 0x7b) return JsonKind.Object;
    if (c == 0x5b) return JsonKind.Array;
    if (c == 0x74 || c == 0x66) return JsonKind.Bool;
    if (c == 0x6e) return JsonKind.Null;
    return JsonKind.Number;
  }

  /**
   * Walks the members of an object or the items of an array. Call with `first` true after
   * consuming the opening bracket, false afterwards; false means the container ended.
   */
  more(first: bool, isObject: bool): bool {
    if (this.take(isObject ? 0x7d : 0x5d)) return false;
    if (!first && !this.take(0x2c)) return this.fail();
    if (!isObject) return !this.failed;
    return this.peek() == 0x22 || this.fail();
  }

  /** The key of the next object member, consuming the colon after it. */
  key(): string {
    let key = this.string();
    if (!this.take(0x3a)) this.fail();
    return key;
  }

  fail(): bool {
    this.failed = true;
    return false;
  }

  word(w: string): bool {
    if (!this.text.startsWith(w, this.pos)) return false;
    this.pos += w.length;
    return true;
  }

  digits(): i32 {
    let start = this.pos;
    while (this.pos < this.text.length && <u32>(this.text.charCodeAt(this.pos) - 0x30) < 10) this.pos++;
    return this.pos - start;
  }

  number(): f64 {
    let negative = this.take(0x2d);
    let start = this.pos;
    let count = this.digits();
    if (count == 0 || (count > 1 && this.text.charCodeAt(start) == 0x30)) this.fail();
    let value: f64 = 0;
    for (let i = start; i < this.pos; i++) value = value * 10 + <f64>(this.text.charCodeAt(i) - 0x30);
    this.integral = true;
    if (this.word(".")) {
      if (this.digits() == 0) this.fail();
      this.integral = false;
    }
    if (this.word("e") || this.word("E")) {
      if (!this.word("+")) this.word("-");
      if (this.digits() == 0) this.fail();
      this.integral = false;
    }
    return negative ? -value : value;
  }

  string(): string {
    let text = this.text;
    let out = "";
    if (this.peek() != 0x22) {
      this.fail();
      return out;
    }
    let run = ++this.pos;
    while (this.pos < text.length) {
      let c = text.charCodeAt(this.pos);
      if (c < 0x20) break;
      this.pos++;
      if (c == 0x22) return out + text.substring(run, this.pos - 1);
      if (c != 0x5c) continue;
      out += text.substring(run, this.pos - 1);
      let e = this.pos < text.length ? text.charCodeAt(this.pos++) : 0;
      let code = e == 0x75 ? hex4(text, this.pos) : unescaped(e);
      if (code < 0) break;
      if (e == 0x75) this.pos += 4;
      out += String.fromCharCode(code);
      run = this.pos;
    }
    this.fail();
    return "";
  }

  /** Consumes the next value, whatever it is. */
  skip(depth: i32): void {
    let kind = this.kind();
    if (depth > MAX_DEPTH) {
      this.fail();
    } else if (kind == JsonKind.String) {
      this.string();
    } else if (kind == JsonKind.Object || kind == JsonKind.Array) {
      let isObject = kind == JsonKind.Object;
      this.pos++;
      for (let first = true; this.more(first, isObject); first = false) {
        if (isObject) this.key();
        this.skip(depth + 1);
      }
    } else if (!this.word("true") && !this.word("false") && !this.word("null")) {
      this.number();
    }
  }

  /** True when the whole text was valid JSON and has been consumed. */
  finished(): bool {
    return !this.failed && this.peek() < 0;
  }
}

/** The character a one-letter escape `\e` stands for; -1 if there is no such escape. */
function unescaped(e: i32): i32 {
  if (e == 0x22 || e == 0x5c || e == 0x2f) return e;
  if (e == 0x62) return 0x08;
  if (e == 0x66) return 0x0c;
  if (e == 0x6e) return 0x0a;
  if (e == 0x72) return 0x0d;
  return e == 0x74 ? 0x09 : -1;
}

/** The value of four hex digits at `at`; -1 if they are not there. */
function hex4(text: string, at: i32): i32 {
  if (at + 4 > text.length) return -1;
  let code = 0;
  for (let i = at; i < at + 4; i++) {
    let c = text.charCodeAt(i);
    let letter = c | 0x20;
    let digit = <u32>(c - 0x30) < 10 ? c - 0x30 : <u32>(letter - 0x61) < 6 ? letter - 0x57 : -1;
    if (digit < 0) return -1;
    code = code * 16 + digit;
  }
  return code;
}

/**
 * The shape of a JSON text, read in one linear pass before JSON.parse builds it: how deep it
 * nests and how many values it holds. JSON.parse of a few MiB of `[[],[],…]` builds millions
 * of objects, and a walk of a deeply nested value overflows the stack; kube-apiserver's typed
 * objects have neither shape, so such a body is refused before it costs anything.
 */
import { DigestPinnerError } from '../errors.js';

/** A body nests deeper or holds more values than any Kubernetes object does. */
export class JsonShapeError extends DigestPinnerError {
  readonly code = 'DP_ERR_BODY_SHAPE';
  readonly statusCode = 400;

  constructor(detail: string) {
    super(`invalid AdmissionReview: ${detail}, which no Kubernetes object does`);
  }
}

/** How deep and how large a body's JSON may be. */
export interface JsonShapeLimits {
  readonly jsonDepth: number;
  readonly jsonValues: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
/** JSON's blank bytes (space, tab, line feed, carriage return) are 1. */
const BLANK = new Uint8Array(256);
for (const byte of [0x20, 0x09, 0x0a, 0x0d]) BLANK[byte] = 1;

/**
 * Counts a JSON text's values and tracks its depth, chunk by chunk (a UTF-8 byte stream: every
 * structural byte is ASCII, so a multi-byte character never looks like one), and throws
 * JsonShapeError as soon as either passes its limit. Exact for valid JSON, and for the valid
 * prefix of invalid JSON, which is all JSON.parse builds before it fails.
 */
export class JsonShapeScanner {
  readonly #limits: JsonShapeLimits;
  /** Whether each open container, by depth, is an object (1) or an array (0). */
  readonly #isObject: Uint8Array;
  #depth = 0;
  #values = 0;
  #inString = false;
  #escaped = false;
  /** The next non-blank byte starts a value (a scalar's later bytes do not). */
  #expectValue = true;
  /** The next string is an object's key, not a value. */
  #expectKey = false;

  constructor(limits: JsonShapeLimits) {
    this.#limits = limits;
    this.#isObject = new Uint8Array(limits.jsonDepth + 1);
  }

  /** Values seen so far. */
  get values(): number {
    return this.#values;
  }

  /** Reads the next bytes of the text; throws JsonShapeError once a limit is passed. */
  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#inString) {
        i = this.#skipString(chunk, i);
      } else {
        this.#structuralByte(chunk[i] ?? 0);
        i += 1;
      }
    }
  }

  /**
   * Skips string bytes from `from` (native search for the closing quote, not a byte loop: most of
   * a review is string bytes); returns where scanning goes on. A quote after an odd run of
   * backslashes is escaped.
   */
  #skipString(chunk: Uint8Array, from: number): number {
    let i = from;
    if (this.#escaped) {
      this.#escaped = false;
      i += 1;
    }
    for (;;) {
      const quote = chunk.indexOf(QUOTE, i);
      if (quote < 0) {
        this.#escaped = backslashesBefore(chunk, chunk.length, i) % 2 === 1;
        return chunk.length;
      }
      if (backslashesBefore(chunk, quote, i) % 2 === 0) {
        this.#inString = false;
        return quote + 1;
      }
      i = quote + 1;
    }
  }

  #structuralByte(byte: number): void {
    switch (byte) {
      case QUOTE:
        this.#inString = true;
        if (this.#expectKey) this.#expectKey = false;
        else this.#value();
        return;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        this.#open(byte === OPEN_OBJECT);
        return;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        if (this.#depth > 0) this.#depth -= 1;
        this.#expectValue = false;
        this.#expectKey = false;
        return;
      case COLON:
        this.#expectValue = true;
        return;
      case COMMA:
        if (this.#isObject[this.#depth] === 1) this.#expectKey = true;
        else this.#expectValue = true;
        return;
      default:
        // A scalar's first byte; its later bytes, and blanks, are not values.
        if (this.#expectValue && BLANK[byte] === 0) this.#value();
    }
  }

  #value(): void {
    this.#expectValue = false;
    this.#values += 1;
    if (this.#values > this.#limits.jsonValues) throw new JsonShapeError(`it holds more than ${this.#limits.jsonValues} JSON values`);
  }

  #open(object: boolean): void {
    this.#value();
    if (this.#depth === this.#limits.jsonDepth) throw new JsonShapeError(`it nests deeper than ${this.#limits.jsonDepth} levels`);
    this.#depth += 1;
    this.#isObject[this.#depth] = object ? 1 : 0;
    this.#expectKey = object;
    this.#expectValue = !object;
  }
}

/** How many backslashes immediately precede `end`, looking no further back than `start`. */
function backslashesBefore(chunk: Uint8Array, end: number, start: number): number {
  let i = end;
  while (i > start && chunk[i - 1] === BACKSLASH) i -= 1;
  return end - i;
}

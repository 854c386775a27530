/**
 * The example guest in JavaScript: the same tour and commands as examples/hello_cache/app.py,
 * printing byte for byte what the Python guest prints, so one expected output serves both.
 *
 *     wasmcache run hello_cache_js.wasm                 # a tour of set / get / delete, ttl and errors
 *     wasmcache run hello_cache_js.wasm set KEY VALUE [TTL]
 *     wasmcache run hello_cache_js.wasm get KEY
 *     wasmcache run hello_cache_js.wasm delete KEY
 *
 * Built with `jco componentize` (ComponentizeJS / StarlingMonkey) against the `command` world;
 * `python examples/build.py hello_cache_js` does it. The cache's errors arrive as thrown
 * ComponentError values whose `payload` is the enum case name ("not-found"); throwing out of
 * `run` makes it return err, so the host exits with status 1.
 */

import { getArguments } from 'wasi:cli/environment@0.2.0';
import { delete as cacheDelete, get, set } from 'wasmcache:cache/cache@0.1.0';

import { NOT_PRINTABLE } from './printable.js';

const encoder = new TextEncoder();

/** Why a cache call failed, or undefined when `error` did not come from the cache. */
function errorName(error) {
  return error !== null && typeof error === 'object' && typeof error.payload === 'string'
    ? error.payload
    : undefined;
}

function hex(codePoint, width) {
  return codePoint.toString(16).padStart(width, '0');
}

/** Whether `bytes[i]` is a UTF-8 continuation byte within [low, high]. */
function continuation(bytes, i, low = 0x80, high = 0xbf) {
  return i < bytes.length && bytes[i] >= low && bytes[i] <= high;
}

/**
 * Python's `bytes.decode('utf-8', 'backslashreplace')`: strict UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), every byte outside a valid sequence becomes `\xNN`.
 * Python groups bad bytes into maximal invalid runs, but it writes each of their bytes as its
 * own `\xNN`, so replacing them one at a time gives the same text.
 */
function decodeBackslashReplace(bytes) {
  let text = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let length = 0;
    if (b < 0x80) {
      length = 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
      length = continuation(bytes, i + 1) ? 2 : 0;
    } else if (b >= 0xe0 && b <= 0xef) {
      const low = b === 0xe0 ? 0xa0 : 0x80;
      const high = b === 0xed ? 0x9f : 0xbf;
      length = continuation(bytes, i + 1, low, high) && continuation(bytes, i + 2) ? 3 : 0;
    } else if (b >= 0xf0 && b <= 0xf4) {
      const low = b === 0xf0 ? 0x90 : 0x80;
      const high = b === 0xf4 ? 0x8f : 0xbf;
      length = continuation(bytes, i + 1, low, high) && continuation(bytes, i + 2)
        && continuation(bytes, i + 3) ? 4 : 0;
    }
    if (length === 0) {
      text += `\\x${hex(b, 2)}`;
      i += 1;
      continue;
    }
    let codePoint = length === 1 ? b : b & (0xff >> (length + 1));
    for (let k = 1; k < length; k += 1) {
      codePoint = (codePoint << 6) | (bytes[i + k] & 0x3f);
    }
    text += String.fromCodePoint(codePoint);
    i += length;
  }
  return text;
}

/**
 * Python's str.isprintable() for one code point. StarlingMonkey has no ICU (no \p{...} in
 * regular expressions), and the answer must be the Python guest's (its Unicode version), so
 * printable.js holds the ranges taken from that interpreter by make_printable_table.py.
 */
function isPrintable(codePoint) {
  let low = 0;
  let high = NOT_PRINTABLE.length / 2; // search the pairs low..high-1
  while (low < high) {
    const middle = (low + high) >> 1;
    if (codePoint < NOT_PRINTABLE[2 * middle]) {
      high = middle;
    } else if (codePoint >= NOT_PRINTABLE[2 * middle + 1]) {
      low = middle + 1;
    } else {
      return false;
    }
  }
  return true;
}

/** Python's `repr(text)` for a str: its quote choice, escapes and printable characters. */
function pyRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const codePoint = ch.codePointAt(0);
    if (ch === quote || ch === '\\') {
      out += `\\${ch}`;
    } else if (ch === '\t') {
      out += '\\t';
    } else if (ch === '\n') {
      out += '\\n';
    } else if (ch === '\r') {
      out += '\\r';
    } else if (codePoint < 0x20 || codePoint === 0x7f) {
      out += `\\x${hex(codePoint, 2)}`;
    } else if (isPrintable(codePoint)) {
      out += ch;
    } else if (codePoint <= 0xff) {
      out += `\\x${hex(codePoint, 2)}`;
    } else if (codePoint <= 0xffff) {
      out += `\\u${hex(codePoint, 4)}`;
    } else {
      out += `\\U${hex(codePoint, 8)}`;
    }
  }
  return out + quote;
}

const FAILED = Symbol('failed');

/** Print what `call` did under `label`; FAILED when the cache said no, else its result. */
function show(label, call) {
  let result;
  try {
    result = call();
  } catch (error) {
    const name = errorName(error);
    if (name === undefined) {
      throw error;
    }
    console.log(`${label}: error ${name}`);
    return FAILED;
  }
  // The bindings make their Uint8Array in another realm: `instanceof Uint8Array` is false.
  if (ArrayBuffer.isView(result)) {
    console.log(`${label}: ${pyRepr(decodeBackslashReplace(result))} (${result.length} bytes)`);
  } else {
    console.log(`${label}: ok`);
  }
  return result;
}

/** A decimal integer the way Python's int() reads one (BigInt: no precision to lose). */
function parseInteger(text) {
  const trimmed = text.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) {
    throw new Error(`invalid literal for int() with base 10: ${pyRepr(text)}`);
  }
  return BigInt(trimmed);
}

function tour() {
  show('set greeting', () => set('greeting', encoder.encode('hello from the guest'), undefined));
  show('get greeting', () => get('greeting'));
  show('set unicode key', () => set('caf\u00e9/\u{1F600}', Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]),
    undefined));
  show('get unicode key', () => get('caf\u00e9/\u{1F600}'));
  show('delete greeting', () => cacheDelete('greeting'));
  show('get greeting after delete', () => get('greeting'));
  show('delete missing key', () => cacheDelete('never-set'));
  show('set with ttl 0', () => set('ephemeral', encoder.encode('gone'), 0));
  show('get ttl-0 key', () => get('ephemeral'));
  show('set with ttl 3600', () => set('session', encoder.encode('token'), 3600));
  show('get ttl-3600 key', () => get('session'));
  show('set empty key', () => set('', encoder.encode('x'), undefined));
  show('set 251-byte key', () => set('k'.repeat(251), encoder.encode('x'), undefined));
  show('set 1 MiB + 1 value', () => set('huge', new Uint8Array(1024 * 1024 + 1), undefined));
  let visits;
  try {
    visits = parseInteger(new TextDecoder('utf-8', { fatal: true }).decode(get('visits'))) + 1n;
  } catch (error) {
    if (errorName(error) === undefined) {
      throw error;
    }
    visits = 1n;
  }
  show('set visits', () => set('visits', encoder.encode(String(visits)), undefined));
  console.log(`visits: ${visits}`);
}

/** A fault of the command line: said on stderr, then `run` returns err (exit status 1). */
class UsageError extends Error {}

function command(args) {
  const [op, key, ...rest] = args;
  let outcome;
  if (op === 'set') {
    if (rest.length < 1) {
      throw new UsageError('set needs a VALUE: set KEY VALUE [TTL]');
    }
    let ttl;
    if (rest.length > 1) {
      ttl = parseInteger(rest[1]);
      if (ttl < 0n || ttl > 0xffffffffn) {
        throw new UsageError(`TTL ${rest[1]} is outside 0..4294967295`);
      }
      ttl = Number(ttl);
    }
    outcome = show(`set ${key}`, () => set(key, encoder.encode(rest[0]), ttl));
  } else if (op === 'get') {
    outcome = show(`get ${key}`, () => get(key));
  } else if (op === 'delete') {
    outcome = show(`delete ${key}`, () => cacheDelete(key));
  } else {
    throw new UsageError(`unknown command ${pyRepr(op)}: use set, get or delete`);
  }
  if (outcome === FAILED) {
    throw new UsageError();
  }
}

function main() {
  const args = getArguments().slice(1);
  if (args.length === 0) {
    tour();
  } else if (args.length < 2) {
    throw new UsageError('usage: hello_cache [set KEY VALUE [TTL] | get KEY | delete KEY]');
  } else {
    command(args);
  }
}

export const run = {
  run() {
    try {
      main();
    } catch (error) {
      // StarlingMonkey says nothing about an error thrown out of `run`: say it here.
      if (!(error instanceof UsageError)) {
        console.error(`hello_cache: ${error}`);
      } else if (error.message) {
        console.error(error.message);
      }
      throw error;
    }
  },
};

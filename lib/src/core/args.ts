// The argument checks every entry point uses, and the one way their messages show a bad value. Internal: nothing here
// is exported from the package. A message names the argument, says what was expected and shows what came:
// "Expected `concurrency` to be a whole number >= 1, got 0". A value of the wrong type is a TypeError; a value of the
// right type out of range, a RangeError.

const MAX_SHOWN = 60;

/**
 * @internal A value as an error message shows it, after "got ": numbers as they are (`0`, `NaN`, `-Infinity`),
 * strings quoted (`"ten" (string)`, cut at 60 characters), other primitives with their type (`true (boolean)`, `1n
 * (bigint)`), `null`, `undefined`, and for anything else only its kind (`an array`, `a function`, `an object`).
 *
 * It never calls the value's own methods nor reads its properties (no `toString`, `valueOf`, getter or Proxy trap runs),
 * so a hostile or broken value cannot make the message throw, lie, or run code.
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string': {
      const text = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
      return `${JSON.stringify(text)} (string)`;
    }
    case 'boolean':
      return `${value} (boolean)`;
    case 'bigint':
      return `${value}n (bigint)`;
    case 'symbol':
      return 'a symbol';
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      if (value === null) return 'null';
      try {
        // Array.isArray reads no property; it throws only for a revoked Proxy.
        return Array.isArray(value) ? 'an array' : 'an object';
      } catch {
        return 'an object';
      }
  }
}

/** @internal Whether `v` has a callable `then` (read once): a Promise, a Deferred, or another thenable. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * @internal Whether `signal` can be listened to and let go of: an AbortSignal, of this realm or another (one from a
 * `vm` context or a worker's polyfill is not `instanceof` ours, but has the same API).
 */
export function isAbortSignal(signal: unknown): signal is AbortSignal {
  if (typeof signal !== 'object' || signal === null) return false;
  try {
    const s = signal as Partial<AbortSignal>;
    return (
      typeof s.aborted === 'boolean' &&
      typeof s.addEventListener === 'function' &&
      typeof s.removeEventListener === 'function'
    );
  } catch {
    // A Proxy whose traps throw, or a getter that does, is not a signal one can listen to.
    return false;
  }
}

/** @internal `value`, a number: a TypeError when it is of another type. */
function number(value: unknown, name: string, expected: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`);
  }
  return value;
}

/**
 * @internal A whole number >= `min` (and, with `infinity`, `Infinity` too): a count, a size, a limit.
 * @throws {TypeError} for a value that is not a number; {@link RangeError} for one out of range.
 */
export function checkWhole(value: unknown, name: string, min: number, infinity = false): number {
  const expected = `a whole number >= ${min}${infinity ? ' or Infinity' : ''}`;
  const n = number(value, name, expected);
  if ((infinity && n === Number.POSITIVE_INFINITY) || (Number.isInteger(n) && n >= min)) return n;
  throw new RangeError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`);
}

/**
 * @internal A number >= `min` (and <= `max`): a factor, a share. Infinity passes when `max` allows it; NaN never does.
 * @throws {TypeError} for a value that is not a number; {@link RangeError} for one out of range.
 */
export function checkNumber(
  value: unknown,
  name: string,
  min: number,
  max = Number.POSITIVE_INFINITY,
): number {
  const expected = max === Number.POSITIVE_INFINITY ? `a number >= ${min}` : `a number from ${min} to ${max}`;
  const n = number(value, name, expected);
  if (n >= min && n <= max) return n;
  throw new RangeError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`);
}

/** @internal A finite number (a time on a clock, a position). */
export function checkFiniteNumber(value: unknown, name: string): number {
  const n = number(value, name, 'a finite number');
  if (Number.isFinite(n)) return n;
  throw new RangeError(`Expected \`${name}\` to be a finite number, got ${describe(value)}`);
}

/**
 * @internal A duration in milliseconds: a number >= 0, finite unless `infinity` (then `Infinity` means "never").
 * Any finite length is honoured: the timers of {@link systemClock} wait the whole time, beyond the 2^31-1 ms that one
 * host timer can wait.
 */
export function checkMs(value: unknown, name: string, infinity = false): number {
  const expected = `a number of milliseconds >= 0${infinity ? ' (or Infinity)' : ''}`;
  const n = number(value, name, expected);
  if (n >= 0 && (infinity || n !== Number.POSITIVE_INFINITY)) return n;
  throw new RangeError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`);
}

/** @internal A function. */
export function checkFn<F extends (...args: never[]) => unknown>(value: unknown, name: string): F {
  if (typeof value !== 'function') {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
  return value as F;
}

/** @internal A function, or `undefined`. */
export function checkOptionalFn(value: unknown, name: string): void {
  if (value !== undefined) checkFn(value, name);
}

/** @internal A boolean, or `undefined`. */
export function checkOptionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  }
  return value;
}

/** @internal An object, not null. */
export function checkObject(value: unknown, name: string): void {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
  }
}

/** @internal An AbortSignal of any realm, or `undefined`. */
export function checkSignal(value: unknown, name: string): AbortSignal | undefined {
  if (value !== undefined && !isAbortSignal(value)) {
    throw new TypeError(`Expected \`${name}\` to be an AbortSignal, got ${describe(value)}`);
  }
  return value;
}

/** @internal Something `for...of` or `for await...of` can walk: an iterable, an async iterable or a string. */
export function checkIterable(value: unknown, name: string): void {
  if (typeof value === 'string') return;
  if (
    value === null ||
    typeof value !== 'object' ||
    (typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function' &&
      typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function')
  ) {
    throw new TypeError(
      `Expected \`${name}\` to be an iterable or an async iterable, got ${describe(value)}`,
    );
  }
}

/** @internal A string that is not empty: a name, a host, a path. */
export function checkNonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`Expected \`${name}\` to be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

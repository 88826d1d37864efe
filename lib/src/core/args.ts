// The argument checks every entry point uses, and the one way a bad value is shown in their messages. Internal.

/** @internal */
export function checkFiniteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`Expected \`${name}\` to be a finite number, got ${describe(value)}`);
  }
  return value;
}

/** @internal A value as an error message shows it: its text, and its type when that is not a number. */
export function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  return `${String(value)} (${value === null ? 'null' : typeof value})`;
}

/** @internal */
export function checkWhole(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be a whole number >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** @internal */
export function checkNumber(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be a number >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** @internal */
export function checkFn(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
}

/** @internal */
export function checkObject(value: unknown, name: string): void {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
  }
}

/**
 * @internal Whether `signal` can be listened to and let go of, as getPage and retry() do: an AbortSignal, of this
 * realm or another (one from a `vm` context or a worker's polyfill is not `instanceof` ours, but has the same API).
 */
export function isAbortSignal(signal: unknown): signal is AbortSignal {
  if (signal instanceof AbortSignal) return true;
  if (typeof signal !== 'object' || signal === null) return false;
  const s = signal as Partial<AbortSignal>;
  return (
    typeof s.aborted === 'boolean' &&
    typeof s.addEventListener === 'function' &&
    typeof s.removeEventListener === 'function'
  );
}

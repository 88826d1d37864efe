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

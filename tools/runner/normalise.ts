/**
 * Named normalisers for output text that legitimately changes from run to run. A notebook opts into the ones it
 * needs in its metadata, `"async_batching": {"normalise": ["ports", "durations"]}`, and `--check` applies them to
 * both the recorded and the fresh output before comparing. Nothing else in the runner rewrites output text.
 */

/** A normaliser: a name, what it replaces, and the rewrite itself. */
export interface Normaliser {
  readonly name: string;
  readonly description: string;
  readonly apply: (text: string) => string;
}

const NUMBER = String.raw`\d+(?:[.,]\d+)*`;

/** Every normaliser, by name. */
export const NORMALISERS: Readonly<Record<string, Normaliser>> = {
  ports: {
    name: 'ports',
    description:
      'The port of a loopback address: 127.0.0.1:PORT, localhost:PORT and [::1]:PORT become HOST:<port>.',
    apply: (text) => text.replace(/(?<![\w.])(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}\b/g, '$1:<port>'),
  },
  durations: {
    name: 'durations',
    description:
      'A number followed by a unit of time (ns, µs, us, ms, s, sec, seconds, min, minutes, h) becomes <duration>, ' +
      'e.g. "12.3 ms", "1.2 s", "3s".',
    apply: (text) =>
      text.replace(
        new RegExp(
          String.raw`\b${NUMBER}\s?(?:ns|[µμu]s|ms|s|secs?|seconds?|mins?|minutes?|h)(?![\w/])`,
          'g',
        ),
        '<duration>',
      ),
  },
  memory: {
    name: 'memory',
    description:
      'A number followed by a unit of memory (B, kB, KB, MB, GB, KiB, MiB, GiB, bytes) becomes <memory>, e.g. "12.3 MB".',
    apply: (text) =>
      text.replace(new RegExp(String.raw`\b${NUMBER}\s?(?:[kKMGT]i?B|B|bytes?)\b`, 'g'), '<memory>'),
  },
  rates: {
    name: 'rates',
    description:
      'A number followed by a per-second unit ("1234 requests/s", "56.7 MB/s", "89 ops/sec") becomes <rate>.',
    apply: (text) => text.replace(new RegExp(String.raw`\b${NUMBER}\s?[A-Za-z]*/s(?:ec)?\b`, 'g'), '<rate>'),
  },
  'stack-traces': {
    name: 'stack-traces',
    description:
      'Stack frame lines ("    at fn (file:line:col)") are removed, since they name Node internals and local paths.',
    apply: (text) => text.replace(/^[ \t]+at .*(?:\r?\n|$)/gm, ''),
  },
};

/**
 * Looks up normalisers by name.
 * @throws {RangeError} naming an unknown normaliser and listing the known ones.
 */
export function normalisersFor(names: readonly string[]): Normaliser[] {
  return names.map((name) => {
    const normaliser = Object.hasOwn(NORMALISERS, name) ? NORMALISERS[name] : undefined;
    if (!normaliser) {
      throw new RangeError(
        `Unknown normaliser ${JSON.stringify(name)}; expected one of ${Object.keys(NORMALISERS).join(', ')}`,
      );
    }
    return normaliser;
  });
}

/**
 * Reads a notebook's chosen normalisers from its metadata (`async_batching.normalise`).
 * @throws {TypeError} when the field is not a list of strings.
 * @throws {RangeError} for an unknown name.
 */
export function notebookNormalisers(metadata: Record<string, unknown>): Normaliser[] {
  const own = metadata.async_batching as { normalise?: unknown } | undefined;
  const names = own?.normalise;
  if (names === undefined) return [];
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
    throw new TypeError('Expected `metadata.async_batching.normalise` to be a list of normaliser names');
  }
  return normalisersFor(names);
}

/** Applies normalisers in order. */
export function normalise(text: string, normalisers: readonly Normaliser[]): string {
  return normalisers.reduce((current, normaliser) => normaliser.apply(current), text);
}

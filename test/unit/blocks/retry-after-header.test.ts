// Retry-After is delay-seconds or an RFC 9110 HTTP-date; anything else is ignored (the backoff applies), never read
// by Date.parse's looser rules as a date long past that skips the wait.
import { parseRetryAfter } from 'async-batching';
import { describe, expect, it } from 'vitest';

const now = Date.UTC(2026, 11, 6, 12, 0, 0); // Sun, 06 Dec 2026 12:00:00 GMT

describe('parseRetryAfter reads only delay-seconds or an HTTP-date', () => {
  it('ignores text that is neither, even where Date.parse finds a date', () => {
    for (const text of [
      'soon 5',
      'in 10',
      'Mon 1',
      'soon',
      'Dec 2026',
      '2026-12-06T12:00:05Z',
      '1 day',
      'Mon, 1',
    ]) {
      expect(parseRetryAfter(text, now), text).toBeUndefined();
    }
  });

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
  });

  it('reads the IMF-fixdate', () => {
    expect(parseRetryAfter('Sun, 06 Dec 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Sun, 06 Dec 2026 11:00:00 GMT', now)).toBe(0);
    // Case matters in HTTP-dates, and the zone is GMT alone.
    expect(parseRetryAfter('sun, 06 dec 2026 12:00:05 gmt', now)).toBeUndefined();
    expect(parseRetryAfter('Sun, 06 Dec 2026 12:00:05 +0000', now)).toBeUndefined();
    expect(parseRetryAfter('Sun, 6 Dec 2026 12:00:05 GMT', now)).toBeUndefined();
  });

  it('reads the obsolete RFC 850 and asctime forms, as recipients must', () => {
    expect(parseRetryAfter('Sunday, 06-Dec-26 12:00:07 GMT', now)).toBe(7_000);
    expect(parseRetryAfter('Sun Dec  6 12:00:09 2026', now)).toBe(9_000);
    expect(parseRetryAfter('Sun Dec 06 12:00:09 2026', now)).toBe(9_000);
    // A two-digit year more than 50 years ahead is the last past year with those digits: 1994, long gone.
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(0);
    expect(parseRetryAfter('Sunday, 06-Dec-76 12:00:00 GMT', now)).toBe(Date.UTC(2076, 11, 6, 12) - now);
  });

  it('ignores dates that do not exist', () => {
    expect(parseRetryAfter('Mon, 30 Feb 2026 12:00:05 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Sun, 06 Dec 2026 24:00:05 GMT', now)).toBeUndefined();
  });
});

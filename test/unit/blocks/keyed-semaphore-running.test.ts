import { KeyedSemaphore } from 'async-batching';
import { describe, expect, it } from 'vitest';

describe('KeyedSemaphore.running', () => {
  it('counts every holder of a key, also after perKey was lowered below them', () => {
    const sem = new KeyedSemaphore(3);
    for (let i = 0; i < 3; i++) sem.acquire('host');
    expect(sem.running('host')).toBe(3);
    sem.perKey = 1;
    expect(sem.running('host')).toBe(3);
    sem.release('host');
    expect(sem.running('host')).toBe(2);
    sem.acquire('host');
    expect(sem.waiting('host')).toBe(1);
    sem.release('host');
    expect(sem.running('host')).toBe(1);
    expect(sem.waiting('host')).toBe(1);
    // The last of the old holders leaves: the waiting acquire takes the key's one token.
    sem.release('host');
    expect(sem.running('host')).toBe(1);
    expect(sem.waiting('host')).toBe(0);
    sem.release('host');
    expect(sem.running('host')).toBe(0);
    expect(sem.size).toBe(0);
  });

  it('counts the running jobs of a key after perKey was lowered', () => {
    const sem = new KeyedSemaphore(3);
    const finish: (() => void)[] = [];
    for (let i = 0; i < 3; i++) {
      sem.run('host', () => new Promise<void>((resolve) => finish.push(resolve)));
    }
    sem.perKey = 1;
    expect(sem.running('host')).toBe(3);
    expect(sem.running('other')).toBe(0);
  });
});

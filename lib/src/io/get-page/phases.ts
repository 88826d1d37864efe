/**
 * When getPage delivers: outcomes wait for the event-loop phase in which undici can lend their connection again.
 *
 * Why the socket bound holds — `parallel(urls, 50, getPage)` or a `DeferredSemaphore(50)` never has more than 50
 * sockets open — is the order of two things undici does (undici 8, `lib/dispatcher/client-h1.js`):
 *
 * - A response that ends with the connection kept: undici calls the handler's `onResponseEnd`, then
 *   `setImmediate(client[kResume])`. Until that Immediate runs, the pool still counts the client as busy, so a request
 *   sent before it opens (or waits for) another connection. {@link endedLater} delivers in the same check phase, after
 *   that Immediate.
 * - A connection undici destroys (a request aborted, timed out, cut off, or reset by the server): its socket says
 *   'close' in the close-callbacks phase of the loop turn, after the check phase; only then does its client count
 *   the connection as gone and connect again on demand. {@link afterConnectionClosed} delivers in the check phase of
 *   the turn after.
 *
 * A slot given back sooner lets the caller's next request (parallel() and the semaphore start one at once) find every
 * connection busy and open one more. Pinned by test/integration/io/chaos/sockets.test.ts ("the slot is free only once the socket
 * is": a cancelled running job, and a server that closes keep-alive connections) and test/integration/io/chaos/recipes.test.ts (the
 * server never sees more sockets than the concurrency).
 */

/** What waits for the check phase after a response ended. */
export interface Ending {
  afterEnd(): void;
}

let ended: Ending[] = [];
let ticking = false;

/**
 * Runs `x.afterEnd()` in the check phase after undici's own Immediate for the connection. The Immediate is set from
 * process.nextTick, once undici's parser has returned (and set its Immediate), so it runs after it; one Immediate
 * serves every response undici reported in one read.
 */
export function endedLater(x: Ending): void {
  ended.push(x);
  if (!ticking) {
    ticking = true;
    process.nextTick(afterRead);
  }
}

function afterRead(): void {
  ticking = false;
  const batch = ended;
  ended = [];
  setImmediate(runEnded, batch);
}

function runEnded(batch: Ending[]): void {
  for (const x of batch) {
    try {
      x.afterEnd();
    } catch (e) {
      // Nothing in afterEnd should throw; if something does, the others in the batch still get their results.
      queueMicrotask(() => {
        throw e;
      });
    }
  }
}

/**
 * Runs `fn` once a connection destroyed now has closed and been given back to its pool: an Immediate set from an
 * Immediate runs in the check phase of the next loop turn, after this turn's close callbacks, whichever phase this is
 * called from.
 */
export function afterConnectionClosed(fn: () => void): void {
  setImmediate(setImmediate, fn);
}

// biome-ignore lint/suspicious/noExplicitAny: a constructor of any arity and instance type is what instanceof takes.
type AnyConstructor = abstract new (...args: any[]) => unknown;

/**
 * Whatever was thrown, wrapped so that errbacks can inspect it the way Twisted's errbacks do.
 *
 * A `Failure` travels down a Deferred's errback chain. `await`ing the Deferred rejects with {@link Failure.value},
 * the thing originally thrown, never with the wrapper.
 *
 @remarks
 * What errbacks receive: `value` (what was thrown), `type` (its constructor), `getErrorMessage()`, `check(...types)`
 * (the first matching type or `null`), `trap(...types)` (rethrows when none matches), `raiseException()`.
 *
 * ```ts
 * d.addErrback((failure) => {
 *   failure.trap(HttpError); // anything else goes on down the chain
 *   return { status: (failure.value as HttpError).status };
 * });
 * ```
 */
export class Failure {
  /** The value that was thrown or passed to `errback()`: usually an `Error`, but anything can be thrown. */
  readonly value: unknown;

  constructor(value: unknown) {
    this.value = value instanceof Failure ? value.value : value;
  }

  /** The constructor of {@link value} when it is an object (for example `TypeError`), else `undefined`. */
  get type(): Function | undefined {
    const v = this.value;
    if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
      const ctor = (v as { constructor?: unknown }).constructor;
      return typeof ctor === 'function' ? ctor : undefined;
    }
    return undefined;
  }

  /** The stack of the wrapped error, when it has one. */
  get stack(): string | undefined {
    const v = this.value;
    return v instanceof Error ? v.stack : undefined;
  }

  /** The error's message when {@link value} is an `Error`, else `String(value)`. */
  getErrorMessage(): string {
    const v = this.value;
    if (v instanceof Error) return v.message;
    try {
      return String(v);
    } catch {
      return Object.prototype.toString.call(v);
    }
  }

  /**
   * Returns the first of `types` that {@link value} is an instance of, or `null` when none matches.
   * Typical use in an errback: `if (failure.check(HttpError)) { ... }`.
   */
  check<C extends AnyConstructor[]>(...types: C): C[number] | null {
    for (const t of types) {
      if (typeof t !== 'function') throw new TypeError(`Expected every type passed to check() to be a class`);
      if (this.value instanceof t) return t;
    }
    return null;
  }

  /**
   * Like {@link check}, but when no type matches it rethrows {@link value}, so the errback passes the failure on
   * down the chain untouched. Use it to handle only the errors you expect.
   */
  trap<C extends AnyConstructor[]>(...types: C): C[number] {
    const found = this.check(...types);
    if (found === null) throw this.value;
    return found;
  }

  /** Throws {@link value}, the original error. */
  raiseException(): never {
    throw this.value;
  }

  /** `[Failure TypeError: message]`, for logs. */
  toString(): string {
    const name = this.type?.name ?? typeof this.value;
    return `[Failure ${name}: ${this.getErrorMessage()}]`;
  }
}

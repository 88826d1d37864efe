/** Parsers for the options the notebook commands share (`npm run notebooks`, `npm run notebooks:nbconvert`). */
import { InvalidArgumentError } from 'commander';
import { type KernelName, kernelKind } from './kernels.ts';

/** A parser for an option that takes a positive number (a whole one when `integer`), named `name` in its error. */
export function positiveNumber(name: string, integer: boolean) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0 || (integer && !Number.isInteger(number))) {
      throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'whole number' : 'number'}.`);
    }
    return number;
  };
}

/** Parses `--kernel tslab,deno` into kernel names, each once, in the order given. */
export function kernelList(value: string): KernelName[] {
  try {
    return [...new Set(value.split(',').map((name) => kernelKind(name.trim()).name))];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

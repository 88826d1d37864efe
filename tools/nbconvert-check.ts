/**
 * `npm run notebooks:nbconvert [-- paths...] [--kernel tslab,deno] [--timeout S] [--jobs N]`: runs each notebook
 * through real Jupyter (nbconvert, i.e. nbclient) with the project's kernelspecs into a temporary folder, and fails
 * naming the notebook, kernel and cell when a cell errors that is not tagged `raises-exception`
 * (`tools/runner/nbconvert.ts`). The notebooks in the repository are never written. Exit status 0 when every
 * notebook ran on every kernel, 1 otherwise.
 */
import { join, resolve } from 'node:path';
import {
  NbconvertSetupError,
  nbconvertAll,
  nbconvertNotebooks,
  nbconvertSummary,
  outcomeLine,
  parseNbconvertArgs,
  prepareJupyter,
} from './runner/nbconvert.ts';

const NOTEBOOKS = join(resolve(import.meta.dirname, '..'), 'notebooks');

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseNbconvertArgs(argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const { options } = parsed;
  try {
    const paths = await nbconvertNotebooks(options.paths, NOTEBOOKS);
    if (paths.length === 0) {
      console.log('no notebooks found in notebooks/');
      return 0;
    }
    const jupyter = prepareJupyter(options.kernels);
    const outcomes = await nbconvertAll(jupyter, paths, options, (outcome) =>
      console.log(outcomeLine(outcome, process.cwd())),
    );
    process.stdout.write(nbconvertSummary(outcomes, options.kernels));
    return outcomes.every((outcome) => outcome.ok) ? 0 : 1;
  } catch (error) {
    if (!(error instanceof NbconvertSetupError)) throw error;
    console.error(`error: ${error.message}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);

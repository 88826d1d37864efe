// `npm run typecheck` (last step): type-checks every notebook's code cells with the project's own TypeScript, one
// program per notebook, so a type error names the notebook and the cell (`tools/runner/typecheck.ts`). Exit status 0
// when there is none, 1 otherwise.
import { resolve } from 'node:path';
import { parseTypecheckArgs, typecheckNotebooks } from './runner/typecheck.ts';

const ROOT = resolve(import.meta.dirname, '..');

const parsed = parseTypecheckArgs(process.argv.slice(2));
if ('exitCode' in parsed) {
  process.exitCode = parsed.exitCode;
} else {
  const { checked, errors } = await typecheckNotebooks(ROOT, parsed.notebooks);
  for (const error of errors) console.error(error);
  if (errors.length > 0) {
    console.error(`typecheck-notebooks: ${errors.length} error(s) in ${checked} notebook(s)`);
    process.exitCode = 1;
  } else {
    console.log(`typecheck-notebooks: ${checked} notebooks, no type errors`);
  }
}

/**
 * `npm run export [-- notebooks...] [--format md|html|both] [--target plain|jekyll|hugo] [--out DIR] [--per-notebook]`
 *
 * Writes recorded notebooks as a blog post (`tools/export/cli.ts` has the options, `tools/export/` the conversion).
 * The output folder is replaced whole, all or nothing, so a bad notebook or a failed write leaves the previous export
 * untouched. Exit status 0 when written, 1 on a problem the message names.
 */
import { main } from './export/cli.ts';

process.exitCode = await main(process.argv.slice(2));

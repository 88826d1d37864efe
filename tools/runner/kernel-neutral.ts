/**
 * The form two kernels' outputs share, for comparing a run on Deno's kernel with outputs recorded on tslab. Only
 * `--check` uses it, on both sides of the comparison and on a copy: recorded files always keep what the kernel sent.
 *
 * What differs between the kernels for the same cell, and is therefore not compared:
 * - a cell's last expression: tslab prints it with `console.log` (a `stream`; a string without quotes), Deno sends an
 *   `execute_result` whose `text/plain` is coloured with ANSI escapes (a string in double quotes);
 * - how values are inspected: Node quotes strings in objects with `'`, Deno with `"`;
 * - `console.table`: Node heads the index column `(index)` and aligns every cell left, Deno writes `(idx)` and aligns
 *   numbers right, so the borders differ too. A table is compared cell by cell.
 * Everything else (the order of outputs, every character of text, SVG and HTML) must be the same.
 */
import { stripVTControlCharacters } from 'node:util';
import { joinText, type Output } from '../nbformat/index.ts';

/** A string literal as Deno's inspector writes one: double quotes, backslash escapes. */
const DOUBLE_QUOTED = /"((?:[^"\\\n]|\\.)*)"/g;

/** Node writes a string with single quotes unless it holds one; so does this, for a double-quoted literal. */
function nodeQuotes(text: string): string {
  return text.replace(DOUBLE_QUOTED, (literal, inner: string) =>
    inner.includes("'") ? literal : `'${inner.replaceAll('\\"', '"')}'`,
  );
}

const TABLE_BORDER = /^[┌├└][─┬┼┴┐┤┘]*$/;

/** A `console.table` row as its trimmed cells; border lines go. */
function tableCells(line: string): string | null {
  if (TABLE_BORDER.test(line)) return null;
  if (!line.startsWith('│')) return line;
  const cells = line
    .split('│')
    .slice(1, -1)
    .map((cell) => cell.trim());
  if (cells[0] === '(idx)') cells[0] = '(index)';
  return `| ${cells.join(' | ')} |`;
}

/** Text as both kernels would print it: no colours, Node's quotes, tables by cell. */
export function neutralText(text: string): string {
  return nodeQuotes(stripVTControlCharacters(text))
    .split('\n')
    .map(tableCells)
    .filter((line) => line !== null)
    .join('\n');
}

/** A last-expression result as tslab prints it: a lone string literal unquoted, then a newline. */
function printedResult(text: string): string {
  const plain = stripVTControlCharacters(text);
  if (/^"(?:[^"\\\n]|\\.)*"$/.test(plain)) {
    try {
      return `${JSON.parse(plain) as string}\n`;
    } catch {
      // Not JSON after all (an escape JSON lacks): compare it as written.
    }
  }
  return `${plain}\n`;
}

/**
 * Rewrites outputs into the form both kernels share: a plain-text `execute_result` becomes the `stdout` stream tslab
 * would have printed, adjacent streams of one name merge (as Jupyter shows them), and text loses what
 * {@link neutralText} drops. Rich outputs (SVG, HTML) and errors are kept as they are, colours removed.
 */
export function kernelNeutral(outputs: readonly Output[]): Output[] {
  const neutral: Output[] = [];
  for (const output of outputs) {
    let next: Output = output;
    if (output.output_type === 'execute_result') {
      const mimes = Object.keys(output.data);
      if (mimes.length === 1 && mimes[0] === 'text/plain') {
        next = {
          output_type: 'stream',
          name: 'stdout',
          text: printedResult(joinText(output.data['text/plain'] as string | string[])),
        };
      }
    } else if (output.output_type === 'error') {
      next = {
        ...output,
        ename: stripVTControlCharacters(output.ename),
        evalue: stripVTControlCharacters(output.evalue),
        traceback: output.traceback.map((line) => stripVTControlCharacters(line)),
      };
    }
    const last = neutral.at(-1);
    if (next.output_type === 'stream' && last?.output_type === 'stream' && last.name === next.name) {
      neutral[neutral.length - 1] = { ...last, text: joinText(last.text) + joinText(next.text) };
    } else {
      neutral.push(next);
    }
  }
  return neutral.map((output) =>
    output.output_type === 'stream' ? { ...output, text: neutralText(joinText(output.text)) } : output,
  );
}

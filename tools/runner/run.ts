/**
 * Executes one notebook in a fresh kernel (tslab or Deno's) and returns the notebook with its new outputs, or the reason it did
 * not run to completion. Honours the cell tags `raises-exception` and `skip-execution`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  type Cell,
  type CodeCell,
  cellTags,
  joinText,
  type Notebook,
  type Output,
  parseNotebook,
} from '../nbformat/index.ts';
import {
  type ExecuteReply,
  Kernel,
  KernelDiedError,
  type KernelMessage,
  KernelTimeoutError,
} from './kernel.ts';
import { type KernelName, kernelspecMetadata } from './kernels.ts';
import { type Normaliser, notebookNormalisers } from './normalise.ts';
import { OutputRecorder } from './outputs.ts';

/** The tag of a cell that is expected to fail; its error is recorded and the notebook goes on. */
export const RAISES_EXCEPTION = 'raises-exception';
/** The tag of a cell that is not run; its recorded outputs are kept. */
export const SKIP_EXECUTION = 'skip-execution';
/** nbval's tag for a cell whose output `--check` does not compare (timings). */
export const IGNORE_OUTPUT = 'nbval-ignore-output';

/** Options for {@link runNotebook}. */
export interface RunOptions {
  /** The kernel to run on (default `tslab`, whose outputs are the recorded ones). */
  kernel?: KernelName;
  /** Time allowed for one cell, in ms (default 60 000). */
  cellTimeoutMs?: number;
  /** Time allowed for the whole notebook including kernel start-up, in ms (default 600 000). */
  notebookTimeoutMs?: number;
  /** Time allowed for the kernel to become ready, in ms (default 120 000). */
  startupTimeoutMs?: number;
  /** Record failing cells and go on instead of stopping at the first one. */
  allowErrors?: boolean;
  /** Told before each code cell runs. */
  onCell?: (cellNumber: number, cellCount: number) => void;
}

/** Why a notebook did not run to completion, or a cell error that was allowed. */
export interface CellProblem {
  /** 1-based position of the cell in the notebook (markdown cells count), or `null` for the notebook as a whole. */
  cellNumber: number | null;
  kind:
    | 'error'
    | 'unexpected-success'
    | 'timeout'
    | 'notebook-timeout'
    | 'kernel-died'
    | 'startup'
    | 'format'
    | 'protocol';
  ename: string;
  evalue: string;
}

/** The outcome of {@link runNotebook}. */
export interface RunResult {
  path: string;
  /** The kernel it ran on. */
  kernel: KernelName;
  /** The notebook as read from disk (`null` when it could not be read). */
  original: Notebook | null;
  /** The file's text when the run started, to tell whether it changed on disk meanwhile (`null` when unread). */
  originalText: string | null;
  /** The executed notebook; only meaningful when `failure` is `null`. */
  notebook: Notebook | null;
  /** The normalisers the notebook opted into. */
  normalisers: Normaliser[];
  /** Why the run stopped, or `null` when every cell ran. */
  failure: CellProblem | null;
  /** Cell errors that were recorded and allowed (`raises-exception` or `--allow-errors`). */
  allowedErrors: CellProblem[];
  /** What the cell named in `failure` had printed when the run stopped (empty when no cell was running). */
  failedCellOutputs: Output[];
  /** Milliseconds from start to end. */
  durationMs: number;
}

const ERROR_LINE = /^((?:[A-Z][\w$]*)?(?:Error|Exception)|AbortError)(?: \[[\w-]+\])?: (.*)$/m;
const DIAGNOSTIC_LINE = /^(?:\S+ )?\d+:\d+ - (.*)$/m;

/** Names the error of a failed cell from its outputs: an `error` output, else what tslab printed to stderr. */
export function describeError(outputs: CodeCell['outputs']): { ename: string; evalue: string } {
  const error = outputs.find((output) => output.output_type === 'error');
  if (error) return { ename: error.ename, evalue: error.evalue };
  const stderr = outputs
    .filter((output) => output.output_type === 'stream' && output.name === 'stderr')
    .map((output) => (output.output_type === 'stream' ? joinText(output.text) : ''))
    .join('');
  const thrown = ERROR_LINE.exec(stderr);
  if (thrown) return { ename: thrown[1], evalue: thrown[2] };
  const diagnostic = DIAGNOSTIC_LINE.exec(stderr);
  if (diagnostic) return { ename: 'TypeScript', evalue: diagnostic[1] };
  const firstLine = stderr.split('\n').find((line) => line.trim() !== '');
  return { ename: 'Error', evalue: firstLine?.trim() ?? 'the cell failed without printing an error' };
}

function isCode(cell: Cell): cell is CodeCell {
  return cell.cell_type === 'code';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// tslab refuses (status "abort") every request that arrives within 200 ms after a failed one
// (KernelKind.abortsAfterErrorMs); such a request never ran, so it is sent again a little later.
const ABORT_RETRIES = 8;

/** What a run needs to know about time: its own limits and the notebook's deadline. */
interface Timing {
  cellTimeoutMs: number;
  notebookTimeoutMs: number;
  deadline: number;
}

/**
 * Setup (nbclient's `setup_kernel`): reads and parses the notebook, then starts a kernel in its folder.
 * @returns the parsed notebook and the kernel, or the problem that stopped it.
 */
async function setup(
  path: string,
  result: RunResult,
  startupTimeoutMs: number,
): Promise<{ kernel: Kernel } | { problem: CellProblem }> {
  try {
    const text = await readFile(path, 'utf8');
    result.originalText = text;
    result.original = parseNotebook(text, path);
    result.normalisers = notebookNormalisers(result.original.metadata);
  } catch (error) {
    const message = (error as Error).message;
    // The caller names the notebook already.
    const evalue = message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
    return { problem: { cellNumber: null, kind: 'format', ename: (error as Error).name, evalue } };
  }
  try {
    return {
      kernel: await Kernel.start({ cwd: dirname(resolve(path)), startupTimeoutMs, kernel: result.kernel }),
    };
  } catch (error) {
    const { name, message } = error as Error;
    return { problem: { cellNumber: null, kind: 'startup', ename: name, evalue: message } };
  }
}

/**
 * Execute one cell (nbclient's `execute_cell` and its polling): sends it, feeds every iopub message to `recorder`,
 * and sends it again when the kernel refused it ("abort") because the previous cell failed just before (tslab).
 * @returns the reply, or the problem that stopped the cell (timeout, dead kernel, broken protocol).
 */
async function executeCell(
  kernel: Kernel,
  source: string,
  cellNumber: number,
  recorder: OutputRecorder,
  timing: Timing,
): Promise<{ reply: ExecuteReply } | { problem: CellProblem }> {
  try {
    for (let attempt = 0; ; attempt++) {
      const remaining = timing.deadline - Date.now();
      if (remaining <= 0) throw new KernelTimeoutError('notebook');
      const reply = await kernel.execute(source, {
        timeoutMs: Math.min(timing.cellTimeoutMs, remaining),
        onIopub: (message: KernelMessage) => recorder.handle(message),
      });
      const refusesFor = kernel.kind.abortsAfterErrorMs;
      if (!reply.status.startsWith('abort') || refusesFor === 0 || attempt >= ABORT_RETRIES) return { reply };
      await sleep(refusesFor + 50);
    }
  } catch (error) {
    if (error instanceof KernelTimeoutError) {
      const whole = Date.now() >= timing.deadline;
      return {
        problem: {
          cellNumber,
          kind: whole ? 'notebook-timeout' : 'timeout',
          ename: 'Timeout',
          evalue: whole
            ? `the notebook did not finish within ${timing.notebookTimeoutMs / 1000} s`
            : `the cell did not finish within ${timing.cellTimeoutMs / 1000} s`,
        },
      };
    }
    const { name, message } = error as Error;
    // A dead kernel, a malformed message, a handler that threw: this notebook fails, the others go on.
    const kind = error instanceof KernelDiedError ? 'kernel-died' : 'protocol';
    return { problem: { cellNumber, kind, ename: name ?? 'Error', evalue: message ?? String(error) } };
  }
}

/**
 * Collect outputs (nbclient's `output_from_msg` step, done): stores the recorded outputs and execution count in the
 * cell and judges the reply against the cell's tags.
 * @returns `null` when the run goes on, `{ allowed }` for a recorded error it may go on after, or the failure.
 */
function collectOutputs(
  cell: CodeCell,
  cellNumber: number,
  recorder: OutputRecorder,
  reply: ExecuteReply,
  allowErrors: boolean,
): { failure: CellProblem } | { allowed: CellProblem } | null {
  cell.outputs = recorder.outputs;
  cell.execution_count = reply.executionCount;
  for (const output of cell.outputs) {
    if (output.output_type === 'execute_result') output.execution_count ??= reply.executionCount;
  }
  const expectsError = cellTags(cell).has(RAISES_EXCEPTION);
  if (reply.status === 'error') {
    const problem: CellProblem = { cellNumber, kind: 'error', ...describeError(cell.outputs) };
    return expectsError || allowErrors ? { allowed: problem } : { failure: problem };
  }
  if (reply.status !== 'ok') {
    const evalue = `the kernel answered with status ${JSON.stringify(reply.status)}`;
    return { failure: { cellNumber, kind: 'error', ename: 'KernelError', evalue } };
  }
  if (expectsError) {
    const evalue = `the cell is tagged ${RAISES_EXCEPTION} but did not fail`;
    return { failure: { cellNumber, kind: 'unexpected-success', ename: 'UnexpectedSuccess', evalue } };
  }
  return null;
}

/**
 * Runs every code cell of the notebook at `path` in order, in a new kernel whose working directory is the
 * notebook's folder. Never writes anything; the caller decides what to do with the result. The kernel is always
 * ended before this resolves: shut down politely after a clean run, killed otherwise.
 */
export async function runNotebook(path: string, options: RunOptions = {}): Promise<RunResult> {
  const cellTimeoutMs = options.cellTimeoutMs ?? 60_000;
  const notebookTimeoutMs = options.notebookTimeoutMs ?? 600_000;
  for (const [name, value] of Object.entries({ cellTimeoutMs, notebookTimeoutMs })) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`Expected \`${name}\` to be a positive number of milliseconds, got ${value}`);
    }
  }
  const started = Date.now();
  const timing: Timing = { cellTimeoutMs, notebookTimeoutMs, deadline: started + notebookTimeoutMs };
  const result: RunResult = {
    path,
    kernel: options.kernel ?? 'tslab',
    original: null,
    originalText: null,
    notebook: null,
    normalisers: [],
    failure: null,
    allowedErrors: [],
    failedCellOutputs: [],
    durationMs: 0,
  };
  const finish = (failure: CellProblem | null = null): RunResult => {
    result.failure = failure;
    result.durationMs = Date.now() - started;
    return result;
  };

  const startupTimeoutMs = Math.min(
    options.startupTimeoutMs ?? 120_000,
    Math.max(1, timing.deadline - started),
  );
  const ready = await setup(path, result, startupTimeoutMs);
  if ('problem' in ready) return finish(ready.problem);
  const { kernel } = ready;
  const notebook = structuredClone(result.original) as Notebook;

  let clean = false;
  try {
    const failure = await runCells(kernel, notebook, result, timing, options);
    if (failure) return finish(failure);
    clean = true;
    result.notebook = notebook;
    return finish();
  } finally {
    // A kernel that is still busy (a timeout) gets killed at once; a finished one may shut down politely.
    if (clean) await kernel.shutdown();
    else await kernel.kill();
  }
}

/**
 * Runs the code cells of `notebook` (a copy of `result.original`) in order, recording their outputs in it and the
 * allowed errors in `result`.
 * @returns the problem that stopped the run (with `result.failedCellOutputs` set), or `null` when every cell ran.
 */
async function runCells(
  kernel: Kernel,
  notebook: Notebook,
  result: RunResult,
  timing: Timing,
  options: RunOptions,
): Promise<CellProblem | null> {
  // The metadata Jupyter itself writes when it opens the notebook on this kernel: the kernelspec as registered
  // (`npm run kernel:install`) and `language_info` as the kernel reports it. Recorded the same way, opening the
  // notebook changes nothing; a notebook run on Deno (into --out) says so, and reopens on Deno.
  notebook.metadata.kernelspec = kernelspecMetadata(kernel.kind);
  if (kernel.languageInfo) notebook.metadata.language_info = kernel.languageInfo;
  const recorder = new OutputRecorder();
  for (const [index, cell] of notebook.cells.entries()) {
    if (!isCode(cell)) continue;
    const number = index + 1;
    const source = joinText(cell.source);
    if (cellTags(cell).has(SKIP_EXECUTION) || source.trim() === '') continue;
    options.onCell?.(number, notebook.cells.length);
    recorder.beginCell();
    const executed = await executeCell(kernel, source, number, recorder, timing);
    if ('problem' in executed) {
      result.failedCellOutputs = recorder.outputs;
      return executed.problem;
    }
    const verdict = collectOutputs(cell, number, recorder, executed.reply, options.allowErrors ?? false);
    if (verdict && 'failure' in verdict) {
      result.failedCellOutputs = cell.outputs;
      return verdict.failure;
    }
    if (verdict) result.allowedErrors.push(verdict.allowed);
  }
  return null;
}

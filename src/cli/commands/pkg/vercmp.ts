import { Option, type Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { vercmp, vercmpWarnings, type VercmpResult, type VersionFormat } from '../../../codecs/version/index.js';
import type { Rendered } from '../../output.js';
import { action } from '../../util.js';

interface Opts {
  format: VersionFormat;
  stdin?: boolean;
}

interface One {
  result: VercmpResult;
  warnings?: string[];
}

interface LineResult {
  result: VercmpResult | 'error';
  error?: Record<string, unknown>;
}

/** Compares one pair; a version the format rejects becomes `error` with the error's JSON. */
function compareLine(format: VersionFormat, a: string, b: string): LineResult {
  try {
    return { result: vercmp(format, a, b) };
  } catch (e) {
    if (e instanceof IngotError && e.code === 'VERSION_INVALID') return { result: 'error', error: e.toJSON() };
    throw e;
  }
}

/**
 * Reads `A<TAB>B` lines from standard input. Bytes are taken one for one (latin1), so both
 * formats compare exactly the bytes rpm and dpkg would see, whatever the encoding.
 */
async function compareStdin(format: VersionFormat): Promise<LineResult[]> {
  const out: LineResult[] = [];
  let pending = '';
  let lineNo = 0;
  const handle = (line: string): void => {
    lineNo++;
    const tab = line.indexOf('\t');
    if (tab < 0 || line.indexOf('\t', tab + 1) >= 0) {
      throw new IngotError('VERCMP_INPUT_INVALID', `standard input line ${lineNo}: expected two versions separated by one tab`, {
        hint: 'give one pair per line: VERSION<TAB>VERSION',
        data: { line: lineNo },
      });
    }
    out.push(compareLine(format, line.slice(0, tab), line.slice(tab + 1)));
  };
  for await (const chunk of process.stdin) {
    pending += (chunk as Buffer).toString('latin1');
    let start = 0;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
      handle(pending.slice(start, nl));
      start = nl + 1;
    }
    pending = pending.slice(start);
  }
  if (pending !== '') handle(pending);
  return out;
}

function text(d: One | LineResult[]): string {
  return Array.isArray(d) ? d.map((r) => r.result + '\n').join('') : d.result;
}

export function register(pkg: Command): void {
  pkg
    .command('vercmp')
    .description('compare two package versions as rpm or dpkg does; prints <, = or >')
    .addOption(new Option('--format <format>', 'version format').choices(['rpm', 'deb']).makeOptionMandatory())
    .option('--stdin', 'read VERSION<TAB>VERSION lines from standard input; print one answer per line (error for a rejected version)')
    .argument('[a]', 'first version')
    .argument('[b]', 'second version')
    .action(
      action(async (a: string | undefined, b: string | undefined, opts: Opts): Promise<Rendered<One | LineResult[]>> => {
        if (opts.stdin) {
          if (a !== undefined || b !== undefined) {
            throw new IngotError('USAGE', 'pkg vercmp takes either two versions or --stdin, not both');
          }
          const results = await compareStdin(opts.format);
          return { data: results, text };
        }
        if (a === undefined || b === undefined) {
          throw new IngotError('USAGE', 'pkg vercmp needs two versions (or --stdin)', {
            hint: "e.g. ingot pkg vercmp --format rpm 1.0~rc1 1.0 (put '--' before a version that starts with '-')",
          });
        }
        const result = vercmp(opts.format, a, b);
        const warnings = vercmpWarnings(opts.format, a, b);
        return { data: warnings.length ? { result, warnings } : { result }, text };
      }),
    );
}

/**
 * The reference docs follow the code: every code in the error registry has its own section in
 * docs/errors.md stating the exit status the registry gives it (and no section names a code
 * that does not exist), and the CLI reference (docs/cli.md and the docs/cli-*.md pages of later
 * areas) has a section for every verb of every group and every top-level command, mentioning
 * each of its options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { ERROR_CODES } from '../../src/core/codes.js';
import { buildProgram } from '../../src/cli/main.js';
import { ROOT } from '../helpers.js';

function readDoc(name: string): string {
  return fs.readFileSync(path.join(ROOT, 'docs', name), 'utf8');
}

/** The CLI reference: docs/cli.md followed by each area's docs/cli-*.md page. */
function cliReference(): string {
  const pages = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => /^cli-.*\.md$/.test(f)).sort();
  return ['cli.md', ...pages].map(readDoc).join('\n');
}

/** Splits markdown into sections keyed by heading text, for headings of exactly `level`. */
function sections(md: string, level: number): Map<string, string> {
  const out = new Map<string, string>();
  const heading = /^(#{1,6})\s+(.*?)\s*$/;
  let current: string | null = null;
  let body: string[] = [];
  let inFence = false;
  const flush = (): void => {
    if (current !== null) out.set(current, body.join('\n'));
  };
  for (const line of md.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const m = inFence ? null : heading.exec(line);
    if (m && m[1]!.length <= level) {
      flush();
      current = m[1]!.length === level ? m[2]!.replace(/`/g, '') : null;
      body = [];
    } else if (current !== null) {
      body.push(line);
    }
  }
  flush();
  return out;
}

/** True when `text` names the option `--flag` as a whole word (not `--flag-more`). */
function mentions(text: string, flag: string): boolean {
  const at = (i: number): boolean => i >= 0 && !/[\w-]/.test(text[i + flag.length] ?? '');
  for (let i = text.indexOf(flag); i >= 0; i = text.indexOf(flag, i + 1)) if (at(i)) return true;
  return false;
}


/**
 * The commands the CLI reference must cover, with their long options: `ingot GROUP VERB` for every
 * verb of the groups above, and `ingot NAME` for every top-level command without verbs.
 */
async function commands(): Promise<{ name: string; options: string[] }[]> {
  const visible = (c: Command): boolean => c.name() !== 'help';
  const longOptions = (c: Command): string[] =>
    c.options.map((o) => o.long).filter((l): l is string => l !== undefined && l !== '--help');
  const program = await buildProgram();
  const out: { name: string; options: string[] }[] = [];
  for (const c of program.commands.filter(visible)) {
    const verbs = c.commands.filter(visible);
    if (verbs.length === 0) out.push({ name: `ingot ${c.name()}`, options: longOptions(c) });
    else {
      for (const verb of verbs) out.push({ name: `ingot ${c.name()} ${verb.name()}`, options: longOptions(verb) });
    }
  }
  return out;
}

test('docs/errors.md documents every error code with its exit status', () => {
  const docs = sections(readDoc('errors.md'), 3);
  const problems: string[] = [];
  for (const [code, { exit }] of Object.entries(ERROR_CODES)) {
    const body = docs.get(code);
    if (body === undefined) {
      problems.push(`${code}: no '### \`${code}\`' section`);
      continue;
    }
    const m = /^Exit status: (\d+)\s*$/m.exec(body);
    if (!m) problems.push(`${code}: the section has no 'Exit status: N' line`);
    else if (Number(m[1]) !== exit) problems.push(`${code}: documented exit status ${m[1]}, the registry says ${exit}`);
  }
  assert.deepEqual(problems, []);
});

test('docs/errors.md documents no code that the registry lacks', () => {
  const unknown = [...sections(readDoc('errors.md'), 3).keys()].filter((h) => !(h in ERROR_CODES) && /^[A-Z][A-Z0-9_]*$/.test(h));
  assert.deepEqual(unknown, []);
});

test('the CLI reference documents every command and each of its options', async () => {
  const docs = sections(cliReference(), 2);
  const cmds = await commands();
  assert.ok(cmds.some((c) => c.name === 'ingot repo commit'), 'buildProgram() should register the repo verbs');
  const problems: string[] = [];
  for (const { name, options } of cmds) {
    const body = docs.get(name);
    if (body === undefined) {
      problems.push(`${name}: no '## ${name}' section`);
      continue;
    }
    for (const o of options) {
      if (!mentions(body, o)) problems.push(`${name}: option ${o} is not mentioned`);
    }
  }
  assert.deepEqual(problems, []);
});

test('docs/cli.md documents the global options', async () => {
  const md = readDoc('cli.md');
  const globals = (await buildProgram())
    .options.map((o) => o.long)
    .filter((l): l is string => l !== undefined);
  assert.ok(globals.includes('--json'), 'the program should have the global --json option');
  assert.deepEqual(
    globals.filter((o) => !mentions(md, o)),
    [],
  );
});

/**
 * `ingot demo`: the main job on embedded defaults, in a fresh temporary folder, printed step
 * by step. Each later capability adds its steps here.
 */
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IngotError } from '../../core/errors.js';
import { Repo } from '../../repo/repo.js';
import { writeCommit } from '../../repo/commit.js';
import { checkout } from '../../repo/checkout.js';
import { diff, log } from '../../repo/inspect.js';
import { fsck } from '../../repo/fsck.js';

export interface DemoOptions {
  dir?: string;
  out?: (line: string) => void;
}

function writeSampleTree(root: string): void {
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/share/doc/hello'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/bin/hello'), '#!/bin/sh\necho "hello from ingot v1"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'usr/share/doc/hello/README'), 'A sample tree committed by ingot demo.\n');
  fs.writeFileSync(path.join(root, 'etc/hello.conf'), 'greeting=hello\n');
  fs.symlinkSync('hello', path.join(root, 'usr/bin/hi'));
}

export async function runDemo(opts: DemoOptions = {}): Promise<{ dir: string; commits: string[] }> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + '\n'));
  if (opts.dir && fs.existsSync(opts.dir) && fs.readdirSync(opts.dir).length > 0) {
    throw new IngotError('PATH_INVALID', `'${opts.dir}' is not empty`, {
      hint: 'give the demo a new or empty folder, or leave out --dir for a temporary one',
      data: { path: opts.dir },
    });
  }
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ingot-demo-'));
  const t0 = Date.now();
  out(`ingot demo in ${dir}`);
  const repo = Repo.init(path.join(dir, 'repo'), 'archive');
  out(`1. initialised an archive repository (OSTree format) at repo/`);

  const tree = path.join(dir, 'tree');
  writeSampleTree(tree);
  const c1 = await writeCommit(repo, tree, { branch: 'demo/x86_64/stable', subject: 'First version', metadataStrings: [['version', '1.0']] });
  out(`2. committed tree/ (3 files, 1 symlink) to demo/x86_64/stable: ${c1.commit.slice(0, 12)}`);

  fs.writeFileSync(path.join(tree, 'usr/bin/hello'), '#!/bin/sh\necho "hello from ingot v2"\n', { mode: 0o755 });
  fs.rmSync(path.join(tree, 'usr/share/doc/hello/README'));
  fs.writeFileSync(path.join(tree, 'etc/motd'), 'Welcome to the demo system.\n');
  const c2 = await writeCommit(repo, tree, { branch: 'demo/x86_64/stable', subject: 'Second version', metadataStrings: [['version', '2.0']] });
  out(`3. changed one file, removed one, added one; committed again: ${c2.commit.slice(0, 12)} (parent ${c1.commit.slice(0, 12)})`);

  const history = log(repo, 'demo/x86_64/stable');
  out(`4. log: ${history.commits.map((c) => `${c.checksum.slice(0, 12)} "${c.subject}" (version ${c.version})`).join(' <- ')}`);

  const d = diff(repo, c1.commit, c2.commit);
  out(`5. diff: ${[...d.modified.map((p) => `M ${p}`), ...d.removed.map((p) => `D ${p}`), ...d.added.map((p) => `A ${p}`)].join(', ')}`);

  const co1 = await checkout(repo, c1.commit, path.join(dir, 'checkout-v1'));
  const co2 = await checkout(repo, 'demo/x86_64/stable', path.join(dir, 'checkout-v2'));
  const v1 = fs.readFileSync(path.join(dir, 'checkout-v1/usr/bin/hello'), 'utf8').split('\n')[1];
  const v2 = fs.readFileSync(path.join(dir, 'checkout-v2/usr/bin/hello'), 'utf8').split('\n')[1];
  out(`6. checked out both: checkout-v1 (${co1.files} files) says '${v1}', checkout-v2 (${co2.files} files) says '${v2}'`);

  const f = await fsck(repo);
  out(`7. fsck: ${f.commits} commits, ${f.objects} objects, ${f.problems.length === 0 ? 'no problems' : `${f.problems.length} PROBLEMS`}`);
  out(`done in ${((Date.now() - t0) / 1000).toFixed(2)} s; try: ostree --repo=${path.join(dir, 'repo')} log demo/x86_64/stable`);
  if (f.problems.length) process.exitCode = 3;
  return { dir, commits: [c1.commit, c2.commit] };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('show the main job on built-in sample data, in a fresh temporary folder')
    .option('--dir <dir>', 'use this (new) folder instead of a temporary one')
    .action(async (opts: { dir?: string }) => {
      await runDemo(opts.dir ? { dir: opts.dir } : {});
    });
}

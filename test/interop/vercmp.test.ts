/**
 * Version ordering against the real tools: tens of thousands of generated pairs (random
 * versions, near-identical pairs made by small edits, hand-picked edge cases, invalid strings)
 * are compared by ingot and by rpm's Lua `rpm.vercmp` (one `rpm --eval` for all pairs) and by
 * `dpkg --compare-versions` (one looping shell per CPU, so no Node spawn per pair). Zero
 * mismatches allowed. Then the CLI's `pkg vercmp --stdin` must give the tools' answers for a
 * few hundred pairs in one process, and the argument form must print one symbol.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { vercmp, type VersionFormat } from '../../src/codecs/version/index.js';
import { isIngotError } from '../../src/core/errors.js';
import { cleanup, ingot, runOk, tmpdir } from '../helpers.js';
import { prng } from '../helpers.js';

type Answer = '<' | '=' | '>' | 'error';
type Pair = [string, string];

const RPM_PAIRS = 20000;
const DEB_PAIRS = 10000;


class Gen {
  readonly rand: () => number;
  constructor(seed: number) {
    this.rand = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  digits(): string {
    const r = this.rand();
    if (r < 0.08) return this.pick(['0', '00', '000', '007', '010', '0001']);
    if (r < 0.12) {
      // Beyond 2^64, sometimes with leading zeros.
      return this.pick(['18446744073709551615', '18446744073709551616', '99999999999999999999', '340282366920938463463374607431768211457', '000018446744073709551617']);
    }
    if (r < 0.15) return String(this.int(10)).repeat(15 + this.int(20));
    const n = 1 + this.int(this.chance(0.8) ? 2 : 8);
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(10));
    return s;
  }

  letters(): string {
    if (this.chance(0.5)) return this.pick(['a', 'b', 'z', 'A', 'Z', 'rc', 'RC', 'beta', 'alpha', 'git', 'p', 'el', 'fc', 'deb', 'ubuntu', 'xyz', 'pre', 'dev']);
    const n = 1 + this.int(3);
    let s = '';
    for (let i = 0; i < n; i++) s += this.pick(['a', 'b', 'c', 'x', 'y', 'z', 'A', 'B', 'Z']);
    return s;
  }

  separator(): string {
    const common = ['.', '.', '.', '', '_', '+', '~', '^', '-'];
    const odd = ['..', '~~', '^^', '~^', '^~', '.~', '+~', ':', '%', '@', '!', '/', ',', '=', ' ', '\u00e9', '\u{1f600}', '\ue000', '\r', '\x7f', '#', '*'];
    return this.chance(0.85) ? this.pick(common) : this.pick(odd);
  }

  /** A version-ish string: segments of digits or letters between separators. */
  upstream(): string {
    let s = this.chance(0.9) ? this.digits() : this.chance(0.5) ? this.letters() : this.separator();
    const n = this.int(6);
    for (let i = 0; i < n; i++) {
      s += this.separator();
      s += this.chance(0.6) ? this.digits() : this.letters();
    }
    if (this.chance(0.08)) s += this.pick(['~', '^', '.', '~rc1', '^git1', '+b1', '-']);
    return s;
  }

  version(): string {
    let s = '';
    const r = this.rand();
    if (r < 0.2) s += this.digits() + ':';
    else if (r < 0.23) s += this.pick([':', '0:', '00:', '2147483647:', '2147483648:', '+1:', '-0:', '-1:', 'a:', '1a:', ' 1:', '\u000b1:']);
    s += this.upstream();
    if (this.chance(0.45)) s += '-' + (this.chance(0.85) ? this.upstream() : this.pick(['', '0', '1', '1.el8', '1.el8_1', '1+deb12u1', '0ubuntu1~22.04']));
    if (this.chance(0.02)) s = this.pick([' ', '  ']) + s;
    if (this.chance(0.02)) s += ' ';
    return s;
  }

  /** A small edit: the interesting comparisons are between nearly equal versions. */
  mutate(version: string): string {
    const v = Array.from(version); // code points: an edit never splits a surrogate pair
    const r = this.rand();
    const chars = ['~', '^', '.', '0', '1', '9', 'a', 'Z', '-', ':', '_', '+', '', '\u00e9'];
    if (r < 0.25) {
      return version + this.pick(['~', '^', '.0', '0', 'a', '-1', '~rc1', '^git1', '.', '+b1', '-0', '~~', '.1', '_1', 'A']);
    }
    if (r < 0.5 && v.length > 0) {
      const i = this.int(v.length);
      return [...v.slice(0, i), this.pick(chars), ...v.slice(i + 1)].join('');
    }
    if (r < 0.65) {
      const i = this.int(v.length + 1);
      return [...v.slice(0, i), this.pick(chars), ...v.slice(i)].join('');
    }
    if (r < 0.75) return this.pick(['0:', '1:', '', ':']) + version;
    if (r < 0.85) return version.replace(/\d+/, (d) => (this.chance(0.5) ? '0' + d : String(BigInt(d) + 1n)));
    if (r < 0.92) return version.replace(/[._+]/g, () => this.pick(['.', '_', '+', '..', '']));
    return version;
  }

  pair(): Pair {
    const r = this.rand();
    const a = this.version();
    if (r < 0.35) return [a, this.version()];
    if (r < 0.93) {
      let b = this.mutate(a);
      if (this.chance(0.3)) b = this.mutate(b);
      return this.chance(0.5) ? [a, b] : [b, a];
    }
    return [a, a];
  }
}

const RPM_EDGES: Pair[] = [
  ['1.0', '1.0'], ['1.0', '2.0'], ['1.0', '1.0~rc1'], ['1.0~rc1', '1.0~rc2'], ['1.0~~', '1.0~'], ['1.0^', '1.0'],
  ['1.0^git1', '1.0.1'], ['1.0^git1', '1.0~rc1'], ['2.0-1.el8', '2.0-1.el8_1'], ['a', '1'], ['1.0', '1.0.0'], ['1.0', '1.0a'],
  ['1.0a', '1.0.1'], ['1.01', '1.1'], ['1..0', '1.0'], ['1.0_1', '1.0.1'], ['A', 'a'], ['1:1.0', '2.0'], ['0:1.0', '1.0'],
  [':1.0', '1.0'], ['00:1', '1'], ['010:1', '10:1'], ['1.0-', '1.0'], ['1.0', '1.0-0'], ['1.0-', '1.0-0'], ['', '1'], ['1', ''], ['', ''],
  ['-1', '0'], ['-', '-'], ['-', '~'], [':', ':'], [':', '0'], ['1:', '1'], ['1:', '0:'], ['1-2-3', '1-2.3'], ['1-2-3', '1.2-3'],
  ['18446744073709551616', '18446744073709551615'], ['18446744073709551616:1', '18446744073709551615:2'], ['99999999999999999999999999', '1'],
  ['0000000000000000000001', '1'], ['~', '^'], ['^', '~'], ['^', '.'], ['1~', '1^'], ['1^~', '1^'], ['1~^', '1~'], ['1^', '1^^'],
  ['1.0\u00e9', '1.0'], ['1.0\u00e9', '1.0\u00ea'], ['1.0+2', '1.0_2'], ['1.0 2', '1.0.2'], ['%', '_'], ['1a', '1A'], ['1.a', '1a'],
  ['a1', 'a.1'], ['1.0a1', '1.0.a.1'], ['5.5p1', '5.5p10'], ['10xyz', '10.1xyz'], ['xyz.4', '8'], ['6.0.rc1', '6.0'],
  ['1.0^20160101^git1', '1.0^20160102'], ['1:1.0-1', '1:1.0'], ['1:1.0~rc1-1', '1:1.0-0'], ['2:0-0', '1:99-99'],
];

const DEB_EDGES: Pair[] = [
  ['1.0', '1.0'], ['1.0~rc1', '1.0'], ['1.0a', '1.0+'], ['1.0+b1', '1.0'], ['1.0.0', '1.0'], ['1.0a', '1.0.1'],
  ['2.30-1+deb12u1', '2.30-1'], ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12'], ['1.0', '1.0-0'], ['1.0-00', '1.0'],
  ['', '1.0'], ['1.0', ''], ['', ''], ['<unknown>', '0'], ['<unknown>', ''], ['0', '<unknown>'], [' ', '1'], ['1', '  '],
  ['1.0-', '1.0'], [':1.0', '1'], ['a:1', '1'], ['1a:1', '1'], ['1:', '1'], ['1:-1', '1'], ['-1', '1'], ['1.0 1', '1'],
  [' 1.0 ', '1.0'], ['\t1.0', '1.0'], ['1.0\t', '1.0'], ['+1:1.0', '1:1.0'], ['-0:1', '1'], ['-1:1', '1'], ['2147483647:1', '1'],
  ['2147483648:1', '1'], ['99999999999999999999:1', '1'], ['00000000000000000002147483647:1', '2147483647:1'], ['a1', '1'],
  ['1.0_1', '1.0.1'], ['1.0-1_2', '1.0-1.2'], ['1:1.0:2', '1:1.0'], ['1.0:2', '1'], ['1:1.0-2:3', '1:1.0-2'], ['~', ''],
  ['~~', '~'], ['~', '0'], ['1.0~', '1.0'], ['1.0\u00e9', '1.0'], ['1.0\u{1f600}', '1.0\ue000'], ['1.0\u00e9', '1.0z'],
  ['18446744073709551616', '18446744073709551615'], ['1.0000000000000000000000001', '1.1'], ['\r1:2', '1:2'], ['\u000b1:2', '1:2'],
  ['1:2\r', '1:2'], ['1-2-3', '1-2.3'], ['--', '1'], ['-', '1'], ['0:0', '0'], ['0', '00'], ['1.0-0.0', '1.0'], ['A', 'a'],
  ['1.0-~', '1.0'], ['1.0+~', '1.0+'], ['1.2.3', '1.2-3'], ['3:0', '2:9'],
];

/** Ingot's answer, with a rejected version as 'error'. */
function ours(format: VersionFormat, [a, b]: Pair): Answer {
  try {
    return vercmp(format, a, b);
  } catch (e) {
    if (isIngotError(e, 'VERSION_INVALID')) return 'error';
    throw e;
  }
}

function pairsFor(n: number, edges: Pair[], seed: number): Pair[] {
  const g = new Gen(seed);
  const pairs: Pair[] = [...edges, ...edges.map(([a, b]): Pair => [b, a])];
  while (pairs.length < n + edges.length * 2) pairs.push(g.pair());
  for (const [a, b] of pairs) assert.ok(!/[\n\0]/.test(a + b), 'versions are written one per line');
  return pairs;
}

/** Both versions of every pair, one per line (no version contains a newline). */
function writePairs(file: string, pairs: Pair[]): void {
  fs.writeFileSync(file, pairs.map(([a, b]) => `${a}\n${b}\n`).join(''));
}

const CMP_LUA = `
local inp = assert(io.open(INPUT, 'rb'))
local out = assert(io.open(OUTPUT, 'wb'))
while true do
  local a = inp:read('l')
  if a == nil then break end
  local b = assert(inp:read('l'))
  local ok, r = pcall(rpm.vercmp, a, b)
  if ok then out:write(tostring(r), '\\n') else out:write('error\\n') end
end
out:close()
inp:close()
`;

/** rpm's answers: one `rpm --eval` running a Lua loop over all pairs. */
function rpmAnswers(dir: string, pairs: Pair[]): Answer[] {
  const input = path.join(dir, 'rpm-pairs.txt');
  const output = path.join(dir, 'rpm-answers.txt');
  const script = path.join(dir, 'cmp.lua');
  writePairs(input, pairs);
  fs.writeFileSync(script, `local INPUT, OUTPUT = ${JSON.stringify(input)}, ${JSON.stringify(output)}\n${CMP_LUA}`);
  runOk('rpm', ['--eval', `%{lua: dofile(${JSON.stringify(script)})}`]);
  const map: Record<string, Answer> = { '-1': '<', '0': '=', '1': '>', error: 'error' };
  const lines = fs.readFileSync(output, 'utf8').split('\n').slice(0, -1);
  assert.equal(lines.length, pairs.length, 'rpm answered every pair');
  return lines.map((l) => {
    const a = map[l];
    assert.ok(a, `unexpected rpm output line '${l}'`);
    return a;
  });
}

/**
 * dpkg's answers. `dpkg --compare-versions` has no batch mode: each shell loops over its share
 * of the pairs calling `lt`, then `gt` when that is false (exit status 2: a rejected version).
 * `--` keeps versions that start with '-' from being read as options.
 */
const DPKG_LOOP = `
while IFS= read -r a && IFS= read -r b; do
  dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null
  r=$?
  if [ $r -eq 0 ]; then echo '<'
  elif [ $r -eq 1 ]; then
    dpkg --compare-versions -- "$a" gt "$b" 2>/dev/null
    r=$?
    if [ $r -eq 0 ]; then echo '>'; elif [ $r -eq 1 ]; then echo '='; else echo "status $r"; fi
  elif [ $r -eq 2 ]; then echo error
  else echo "status $r"
  fi
done < "$1"
`;

async function dpkgAnswers(dir: string, pairs: Pair[]): Promise<Answer[]> {
  const script = path.join(dir, 'dpkg-loop.sh');
  fs.writeFileSync(script, DPKG_LOOP);
  const shells = Math.max(2, Math.min(8, os.availableParallelism()));
  const per = Math.ceil(pairs.length / shells);
  const runs: Promise<string>[] = [];
  for (let k = 0; k < shells; k++) {
    const input = path.join(dir, `dpkg-pairs-${k}.txt`);
    writePairs(input, pairs.slice(k * per, (k + 1) * per));
    runs.push(
      new Promise((resolve, reject) => {
        const child = spawn('bash', [script, input], { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        child.on('error', reject);
        child.on('close', (code) => {
          if (code !== 0) reject(new Error(`dpkg loop exited ${code}: ${Buffer.concat(err).toString()}`));
          else resolve(Buffer.concat(out).toString('utf8'));
        });
      }),
    );
  }
  const lines = (await Promise.all(runs)).flatMap((s) => s.split('\n').slice(0, -1));
  assert.equal(lines.length, pairs.length, 'dpkg answered every pair');
  return lines.map((l) => {
    assert.ok(l === '<' || l === '=' || l === '>' || l === 'error', `unexpected dpkg loop output '${l}'`);
    return l as Answer;
  });
}

function show(s: string): string {
  return JSON.stringify(s);
}

function assertSame(tool: string, pairs: Pair[], theirs: Answer[], mine: Answer[]): void {
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < pairs.length; i++) {
    if (theirs[i] !== mine[i]) {
      count++;
      if (bad.length < 25) bad.push(`${show(pairs[i]![0])} vs ${show(pairs[i]![1])}: ${tool} ${theirs[i]}, ingot ${mine[i]}`);
    }
  }
  assert.equal(count, 0, `${count} mismatches with ${tool} out of ${pairs.length} pairs:\n${bad.join('\n')}`);
}

/** Every answer kind occurs, so the generator cannot silently collapse to one case. */
function assertVariety(t: TestContext, answers: Answer[], kinds: Answer[]): void {
  const counts = new Map<Answer, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  t.diagnostic(`${answers.length} pairs: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  for (const k of kinds) assert.ok((counts.get(k) ?? 0) >= 50, `only ${counts.get(k) ?? 0} '${k}' answers: ${JSON.stringify([...counts])}`);
}

/** A few hundred pairs spread over the whole set, edge cases first, through one CLI process. */
function assertCliStdin(format: VersionFormat, pairs: Pair[], theirs: Answer[]): void {
  const idx: number[] = [];
  for (let i = 0; i < pairs.length && idx.length < 400; i += i < 150 ? 1 : 97) {
    if (!(pairs[i]![0] + pairs[i]![1]).includes('\t')) idx.push(i);
  }
  const input = idx.map((i) => `${pairs[i]![0]}\t${pairs[i]![1]}\n`).join('');
  const r = ingot(['pkg', 'vercmp', '--format', format, '--stdin'], { input });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').slice(0, -1);
  assert.equal(lines.length, idx.length);
  assertSame(`${format} tool (CLI --stdin)`, idx.map((i) => pairs[i]!), idx.map((i) => theirs[i]!), lines as Answer[]);
  const j = ingot(['--json', 'pkg', 'vercmp', '--format', format, '--stdin'], { input });
  assert.equal(j.status, 0, j.stderr);
  assert.deepEqual(
    (JSON.parse(j.stdout) as { result: Answer }[]).map((x) => x.result),
    lines,
  );
}

test('rpmvercmp and EVR order match rpm.vercmp (rpm Lua) on 20,000+ pairs', (t) => {
  const dir = tmpdir('ingot-vercmp-');
  try {
    const pairs = pairsFor(RPM_PAIRS, RPM_EDGES, 0x5eed_0001);
    const theirs = rpmAnswers(dir, pairs);
    const mine = pairs.map((p) => ours('rpm', p));
    assertVariety(t, theirs, ['<', '=', '>']);
    assert.ok(theirs.includes('error'), 'some pairs are rejected by rpm');
    assertSame('rpm', pairs, theirs, mine);
    assertCliStdin('rpm', pairs, theirs);
  } finally {
    cleanup(dir);
  }
});

test('dpkg version parsing and order match dpkg --compare-versions on 10,000+ pairs', async (t) => {
  const dir = tmpdir('ingot-vercmp-');
  try {
    const pairs = pairsFor(DEB_PAIRS, DEB_EDGES, 0x5eed_0002);
    const theirs = await dpkgAnswers(dir, pairs);
    const mine = pairs.map((p) => ours('deb', p));
    // Ask dpkg twice more about any disagreement; only an answer dpkg repeats counts. (Once, on
    // a busy machine, one of ~16,000 dpkg runs gave an answer that dpkg never gave again.)
    const differ = pairs.map((_, i) => i).filter((i) => theirs[i] !== mine[i]);
    if (differ.length > 0 && differ.length <= 100) {
      const again = [await dpkgAnswers(dir, differ.map((i) => pairs[i]!)), await dpkgAnswers(dir, differ.map((i) => pairs[i]!))];
      differ.forEach((i, k) => {
        if (again[0]![k] === again[1]![k] && again[0]![k] !== theirs[i]) {
          t.diagnostic(`dpkg changed its answer for ${show(pairs[i]![0])} vs ${show(pairs[i]![1])}: ${theirs[i]}, then ${again[0]![k]} twice`);
          theirs[i] = again[0]![k]!;
        }
      });
    }
    assertVariety(t, theirs, ['<', '=', '>', 'error']);
    assertSame('dpkg', pairs, theirs, mine);
    assertCliStdin('deb', pairs, theirs);
  } finally {
    cleanup(dir);
  }
});

test('pkg vercmp prints one symbol, --json an object, and fails with VERSION_INVALID on a rejected version', () => {
  const cases: [string, string, string, string][] = [
    ['rpm', '1.0', '1.0~rc1', '>'],
    ['rpm', '1:1.0', '2.0', '>'],
    ['rpm', '1.0^git1', '1.0.1', '<'],
    ['deb', '1.0~rc1', '1.0', '<'],
    ['deb', '1.0', '1.0-0', '='],
    ['deb', '2.30-1+deb12u1', '2.30-1', '>'],
  ];
  for (const [format, a, b, want] of cases) {
    const r = ingot(['pkg', 'vercmp', '--format', format, a, b]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${want}\n`, `${format} ${a} ${b}`);
    const j = ingot(['--json', 'pkg', 'vercmp', '--format', format, a, b]);
    assert.equal(j.status, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout), { result: want });
  }
  const bad = ingot(['--json', 'pkg', 'vercmp', '--format', 'deb', '1.0-', '1.0']);
  assert.equal(bad.status, 1);
  assert.equal((JSON.parse(bad.stderr) as { error: { code: string } }).error.code, 'VERSION_INVALID');
  const dash = ingot(['pkg', 'vercmp', '--format', 'rpm', '--', '-1', '0']);
  assert.equal(dash.stdout, '<\n', dash.stderr);
  const malformed = ingot(['pkg', 'vercmp', '--format', 'rpm', '--stdin'], { input: '1.0\t2.0\nno tab here\n' });
  assert.equal(malformed.status, 1);
  assert.match(malformed.stderr, /VERCMP_INPUT_INVALID/);
});

/**
 * The layer rule of DESIGN.md, enforced: a module may import only from the layers listed for
 * its own layer; codecs stay pure (no file system, processes, network, clock or randomness);
 * only platform may use node:child_process and the network modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers.js';

const ALLOWED: Record<string, string[]> = {
  cli: ['compose', 'sysroot', 'oci', 'inventory', 'transport', 'sources', 'repo', 'platform', 'codecs', 'core'],
  compose: ['sources', 'repo', 'transport', 'platform', 'codecs', 'core'],
  sysroot: ['repo', 'platform', 'codecs', 'core'],
  oci: ['repo', 'sources', 'platform', 'codecs', 'core'],
  inventory: ['repo', 'codecs', 'platform', 'core'],
  transport: ['repo', 'platform', 'codecs', 'core'],
  sources: ['platform', 'codecs', 'core'],
  repo: ['platform', 'codecs', 'core'],
  platform: ['core'],
  codecs: ['core'],
  core: [],
};

const IMPURE_FOR_CODECS = /^node:(fs|fs\/promises|child_process|http|https|net|dgram|worker_threads|os|process)$/;
const PLATFORM_ONLY = /^node:(child_process|http|https|net|dgram|tls)$/;

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function layerOf(file: string): string {
  const rel = path.relative(path.join(ROOT, 'src'), file).split(path.sep);
  return rel.length === 1 ? 'cli' : rel[0]!; // src/index.ts, src/version.ts export everything
}

test('every import respects the layer rule', () => {
  const src = path.join(ROOT, 'src');
  const violations: string[] = [];
  for (const file of listTs(src)) {
    const layer = layerOf(file);
    assert.ok(layer in ALLOWED, `unknown layer '${layer}' for ${file}: add it to DESIGN.md and this test`);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      const rel = path.relative(ROOT, file);
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec);
        const tl = layerOf(target.replace(/\.js$/, '.ts'));
        if (tl !== layer && !ALLOWED[layer]!.includes(tl)) violations.push(`${rel}: ${layer} imports ${tl} (${spec})`);
      } else if (layer === 'codecs' && IMPURE_FOR_CODECS.test(spec)) {
        violations.push(`${rel}: codecs must stay pure but imports ${spec}`);
      } else if (PLATFORM_ONLY.test(spec) && layer !== 'platform') {
        violations.push(`${rel}: only platform may import ${spec}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

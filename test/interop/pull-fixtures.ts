/**
 * Helpers for the pull tests (not a test file): running ingot without blocking the event loop
 * (the fixture HTTP server runs in the test process), ed25519 keys and signatures made with
 * node:crypto in ostree's layout, and listings of what a repository holds.
 */
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serialize } from '../../src/codecs/gvariant/serialize.js';
import { parse } from '../../src/codecs/gvariant/parse.js';
import { variant, type GValue, type VarDict } from '../../src/codecs/gvariant/value.js';
import { INGOT, type RunResult } from '../helpers.js';

/** Runs `ingot ARGS` asynchronously; never rejects on a non-zero exit. */
export function ingotAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [INGOT, ...args], { env: { ...process.env, INGOT_NO_PROGRESS: '1', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

export async function ingotAsyncOk(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await ingotAsync(args, env);
  if (r.status !== 0) throw new Error(`ingot ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface KeyPair {
  seed: Buffer;
  /** Raw 32-byte public key. */
  pub: Buffer;
  /** base64 public key, as ostree key files and verification-ed25519-key hold it. */
  pubB64: string;
}

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function keyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32));
  const pub = Buffer.from(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
  // Round trip: the seed alone makes the same public key.
  const again = Buffer.from(createPublicKey(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' }).subarray(-32));
  if (!again.equals(pub)) throw new Error('ed25519 key derivation mismatch');
  return { seed, pub, pubB64: pub.toString('base64') };
}

export function signBytes(data: Buffer, k: KeyPair): Buffer {
  return sign(null, data, createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, k.seed]), format: 'der', type: 'pkcs8' }));
}

/** Appends an `ostree.sign.ed25519` signature to an a{sv} (or makes one), as ostree's signer does. */
export function appendEd25519(existing: Buffer | null, sig: Buffer): Buffer {
  const dict: VarDict = existing && existing.length ? (parse('a{sv}', existing) as VarDict) : [];
  const i = dict.findIndex(([k]) => k === 'ostree.sign.ed25519');
  const sigs: GValue[] = i >= 0 ? [...(dict[i]![1].value as Uint8Array[])] : [];
  sigs.push(sig);
  const e: [string, ReturnType<typeof variant>] = ['ostree.sign.ed25519', variant('aay', sigs)];
  if (i >= 0) dict[i] = e;
  else dict.push(e);
  return serialize('a{sv}', dict as unknown as GValue);
}

export function objectFile(repo: string, checksum: string, ext: string): string {
  return path.join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${ext}`);
}

/** Signs commit `checksum` of repository `repo` with `k` (the detached metadata file). */
export function signCommit(repo: string, checksum: string, k: KeyPair): void {
  const commit = fs.readFileSync(objectFile(repo, checksum, 'commit'));
  const metaPath = objectFile(repo, checksum, 'commitmeta');
  const existing = fs.existsSync(metaPath) ? fs.readFileSync(metaPath) : null;
  fs.writeFileSync(metaPath, appendEd25519(existing, signBytes(commit, k)));
}

/** Signs the repository's summary (summary.sig). */
export function signSummary(repo: string, k: KeyPair): void {
  const summary = fs.readFileSync(path.join(repo, 'summary'));
  const p = path.join(repo, 'summary.sig');
  fs.writeFileSync(p, appendEd25519(fs.existsSync(p) ? fs.readFileSync(p) : null, signBytes(summary, k)));
}

/** Every file under objects/ (relative names), refs and state, for "nothing changed" checks. */
export function repoListing(repo: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      if (fs.lstatSync(p).isDirectory()) walk(p, r);
      else out.push(r);
    }
  };
  for (const top of ['objects', 'refs', 'state']) if (fs.existsSync(path.join(repo, top))) walk(path.join(repo, top), top);
  return out;
}

/** Pull stagings left in tmp/. */
export function pullStagings(repo: string): string[] {
  return fs.readdirSync(path.join(repo, 'tmp')).filter((n) => n.startsWith('ingot-pull-'));
}

/** `CHECKSUM.EXT` of every object in the pull stagings of `repo` (laid out as objects/: `XX/REST.EXT`). */
export function stagedObjects(repo: string): Set<string> {
  const out = new Set<string>();
  for (const s of pullStagings(repo)) {
    const dir = path.join(repo, 'tmp', s);
    for (const pre of fs.readdirSync(dir)) {
      if (!/^[0-9a-f]{2}$/.test(pre)) continue;
      for (const n of fs.readdirSync(path.join(dir, pre))) if (/^[0-9a-f]{62}\.[a-z]+$/.test(n)) out.add(pre + n);
    }
  }
  return out;
}

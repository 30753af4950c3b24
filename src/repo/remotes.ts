/**
 * Remotes: `[remote "NAME"]` sections of the repository config, with the keys ostree reads
 * (`url`, `contenturl`, `gpg-verify`, `sign-verify`, `sign-verify-summary`,
 * `verification-ed25519-key`, `verification-ed25519-file`), and the ed25519 keys a pull from
 * a remote verifies against.
 *
 * Contract:
 * - `addRemote` writes what `ostree remote add --no-gpg-verify` writes (`url=`, `gpg-verify=false`;
 *   ingot does not verify OpenPGP signatures on commits), then `sign-verify=true` and the
 *   verification key or key file when given, so that ostree reads the same remote.
 * - Signature checking is on when `sign-verify` is true, or when it is absent and the remote
 *   names a verification key or key file; `sign-verify=false` turns it off.
 * - Trusted keys: the inline key and the key file of the remote; with sign-verify on and
 *   neither given, ostree's system trust files (`/etc/ostree/trusted.ed25519`, `.d/*`, and the
 *   same under `/usr/share/ostree`). Revoked keys: ostree's system `revoked.ed25519` files
 *   plus any the caller adds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError } from '../core/errors.js';
import type { Repo } from './repo.js';
import { parsePublicKey, readPublicKeysFile, type SignKeys } from './sign.js';

export interface RemoteConfig {
  name: string;
  url: string;
  contentUrl: string | null;
  /** Verify ed25519 signatures of commits. */
  signVerify: boolean;
  /** Require a verified summary.sig. */
  signVerifySummary: boolean;
  verificationKey: string | null;
  verificationFile: string | null;
  gpgVerify: boolean;
}

export interface AddRemoteOptions {
  signVerify?: boolean;
  signVerifySummary?: boolean;
  /** base64 ed25519 public key. */
  verificationKey?: string;
  /** File of base64 public keys, one per line. */
  verificationFile?: string;
  contentUrl?: string;
  /** Replace an existing remote of the same name. */
  force?: boolean;
}

const NAME = /^[A-Za-z0-9_][-._A-Za-z0-9]*$/;

export function assertRemoteName(name: string): void {
  if (!NAME.test(name)) {
    throw new IngotError('INVALID_ARGUMENT', `invalid remote name '${name}'`, {
      hint: "a remote name is letters, digits, '_', '-' and '.', not starting with '-' or '.'",
      data: { remote: name },
    });
  }
}

function assertUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new IngotError('INVALID_ARGUMENT', `'${url}' is not a URL`, { hint: 'give http://HOST/PATH, https://... or file:///PATH', data: { url } });
  }
  if (!['http:', 'https:', 'file:'].includes(u.protocol)) {
    throw new IngotError('INVALID_ARGUMENT', `unsupported URL scheme in '${url}'`, { hint: 'use http://, https:// or file://', data: { url } });
  }
}

const group = (name: string): string => `remote "${name}"`;

function boolKey(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return v === 'true' || v === '1' || v.split(';').some((s) => s.trim() === 'ed25519');
}

export function readRemote(repo: Repo, name: string): RemoteConfig {
  const g = group(name);
  const url = repo.config.get(g, 'url');
  if (url === undefined) {
    throw new IngotError('REMOTE_NOT_FOUND', `no remote '${name}' in ${path.join(repo.path, 'config')}`, {
      hint: "add it with 'ingot remote add --repo DIR NAME URL'",
      data: { remote: name },
    });
  }
  const key = repo.config.get(g, 'verification-ed25519-key') ?? null;
  const file = repo.config.get(g, 'verification-ed25519-file') ?? null;
  const sv = boolKey(repo.config.get(g, 'sign-verify'));
  return {
    name,
    url,
    contentUrl: repo.config.get(g, 'contenturl') ?? null,
    signVerify: sv ?? (key !== null || file !== null),
    signVerifySummary: boolKey(repo.config.get(g, 'sign-verify-summary')) ?? false,
    verificationKey: key,
    verificationFile: file,
    gpgVerify: repo.config.getBool(g, 'gpg-verify', true),
  };
}

export function listRemotes(repo: Repo): RemoteConfig[] {
  const out: RemoteConfig[] = [];
  for (const g of repo.config.groups) {
    const m = /^remote "(.*)"$/.exec(g.name);
    if (m && repo.config.get(g.name, 'url') !== undefined) out.push(readRemote(repo, m[1]!));
  }
  return out;
}

export function addRemote(repo: Repo, name: string, url: string, opts: AddRemoteOptions = {}): RemoteConfig {
  assertRemoteName(name);
  assertUrl(url);
  if (opts.contentUrl) assertUrl(opts.contentUrl);
  if (opts.verificationKey !== undefined) parsePublicKey(opts.verificationKey, '--verification-key');
  if (opts.verificationFile !== undefined) {
    const keys = readPublicKeysFile(opts.verificationFile);
    if (keys.length === 0) {
      throw new IngotError('SIGN_KEY_INVALID', `'${opts.verificationFile}' holds no base64 ed25519 public key`, {
        hint: "give the .pub file that 'ingot keygen' wrote",
        data: { path: opts.verificationFile },
      });
    }
  }
  const g = group(name);
  if (repo.config.group(g)) {
    if (!opts.force) {
      throw new IngotError('REMOTE_EXISTS', `remote '${name}' already exists in ${repo.path}`, {
        hint: "delete it first with 'ingot remote delete', or choose another name",
        data: { remote: name },
      });
    }
    repo.config.deleteGroup(g);
  }
  repo.config.set(g, 'url', url);
  if (opts.contentUrl) repo.config.set(g, 'contenturl', opts.contentUrl);
  repo.config.set(g, 'gpg-verify', 'false');
  const verify = opts.signVerify || opts.verificationKey !== undefined || opts.verificationFile !== undefined;
  if (verify) repo.config.set(g, 'sign-verify', 'true');
  if (opts.signVerifySummary) repo.config.set(g, 'sign-verify-summary', 'true');
  if (opts.verificationKey !== undefined) repo.config.set(g, 'verification-ed25519-key', opts.verificationKey.trim());
  if (opts.verificationFile !== undefined) repo.config.set(g, 'verification-ed25519-file', path.resolve(opts.verificationFile));
  repo.saveConfig();
  return readRemote(repo, name);
}

/** Deletes the remote's config section (refs under refs/remotes/NAME stay, as with ostree). */
export function deleteRemote(repo: Repo, name: string, opts: { ifExists?: boolean } = {}): boolean {
  const g = group(name);
  if (!repo.config.deleteGroup(g)) {
    if (opts.ifExists) return false;
    throw new IngotError('REMOTE_NOT_FOUND', `no remote '${name}' in ${repo.path}`, {
      hint: "list remotes with 'ingot remote list'",
      data: { remote: name },
    });
  }
  repo.saveConfig();
  return true;
}

/** The system trust directories ostree's ed25519 verifier reads (in this order). */
export const SYSTEM_KEY_DIRS = ['/etc/ostree', '/usr/share/ostree'];

function readKeyFiles(base: string): Buffer[] {
  const out: Buffer[] = [];
  if (fs.existsSync(base)) out.push(...readPublicKeysFile(base));
  const d = `${base}.d`;
  let names: string[] = [];
  try {
    names = fs.readdirSync(d).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const p = path.join(d, n);
    if (fs.statSync(p).isFile()) out.push(...readPublicKeysFile(p));
  }
  return out;
}

/** The keys a pull from `remote` verifies against (`extraRevoked`: more revoked key files). */
export function remoteSignKeys(remote: RemoteConfig, opts: { extraTrusted?: string[]; extraRevoked?: string[]; systemDirs?: string[] } = {}): SignKeys {
  const trusted: Buffer[] = [];
  if (remote.verificationKey) trusted.push(parsePublicKey(remote.verificationKey, `remote '${remote.name}' verification-ed25519-key`));
  if (remote.verificationFile) trusted.push(...readPublicKeysFile(remote.verificationFile));
  for (const f of opts.extraTrusted ?? []) trusted.push(...readPublicKeysFile(f));
  const dirs = opts.systemDirs ?? SYSTEM_KEY_DIRS;
  if (trusted.length === 0) for (const d of dirs) trusted.push(...readKeyFiles(path.join(d, 'trusted.ed25519')));
  const revoked: Buffer[] = [];
  for (const d of dirs) revoked.push(...readKeyFiles(path.join(d, 'revoked.ed25519')));
  for (const f of opts.extraRevoked ?? []) revoked.push(...readPublicKeysFile(f));
  return { trusted, revoked };
}

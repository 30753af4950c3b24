/**
 * Compose manifests: YAML (or JSON, which YAML 1.2 reads as well) naming the repositories, the
 * packages and the extra content of a composed tree. Key names follow rpm-ostree's treefile
 * where the concept is the same (`ref`, `packages`, `exclude-packages`, `recommends`,
 * `add-files`, `remove-files`, `postprocess`, `postprocess-script`, `add-commit-metadata`,
 * `metadata`, `automatic-version-prefix`, `automatic-version-suffix`, `include`);
 * docs/cli.md ("Compose manifests") is the reference.
 *
 * Contract:
 * - Every problem is reported with file, line and column (1-based) taken from the YAML node;
 *   all problems of a file are collected before MANIFEST_INVALID is thrown. An unknown key
 *   gets the nearest known key as a "did you mean" suggestion (optimal string alignment
 *   distance, case-insensitive).
 * - `include` (a path or a list, relative to the including file) inherits: includes are
 *   applied in order, then the including file on top. Lists concatenate (`packages`,
 *   `exclude-packages`, `include-priority` and `remove-files` without duplicates; `repos` and
 *   `add-files` replace an inherited entry of the same name or destination in place); maps
 *   merge by key; scalars of a later layer override earlier ones, so the including file wins.
 *   A cycle is MANIFEST_INCLUDE_CYCLE; including one file twice is MANIFEST_INVALID (as
 *   rpm-ostree rules).
 * - The flattened manifest has a canonical JSON form (sorted keys, defaults filled in, paths
 *   that were written relative made relative to the top manifest's folder, the `mirror`
 *   placeholder kept unresolved) so that the same manifest gives the same input hash on any
 *   machine and in any checkout.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LineCounter, isAlias, isMap, isNode, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { isValidRefName } from '../codecs/ostree/refs.js';
import type { PackageFamily } from '../sources/package.js';
import type { RepoType } from '../sources/repos.js';
import { parseRequest } from '../sources/resolve/deps.js';

/** Where a value was written. Line and column are 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

export interface ManifestRepo {
  name: string;
  type: RepoType;
  /** Absolute URL (http, https or file); a path in the manifest becomes a file: URL. Absent when `mirror` is used. */
  url?: string;
  /** A placeholder for a mirror of this machine: `debian` is the Debian mirror of its apt sources. */
  mirror?: 'debian';
  /** Absolute paths of OpenPGP keyrings. */
  keyring: string[];
  gpgcheck: boolean;
  priority: number;
  suites: string[];
  components: string[];
}

export interface ManifestFile {
  /** Absolute path of the source file. */
  source: string;
  /** Absolute path inside the tree. */
  destination: string;
  /** Hex SHA-256 of the source content. */
  sha256: string;
  size: number;
}

export type CommitMetadataValue = string | boolean | bigint;

/** A flattened manifest (includes applied, defaults filled in). */
export interface Manifest {
  ref: string | null;
  /** Target architecture in the family's naming; null for this machine's. */
  arch: string | null;
  repos: ManifestRepo[];
  /** Request items: `bash`, `bash >= 5`, `bash=5.2.15-3`. */
  packages: string[];
  /** Package names (globs `*` `?` allowed) never to install. */
  excludePackages: string[];
  /** Install weak dependencies (Recommends). Default false. */
  recommends: boolean;
  /** Debian: add every `Essential: yes` package. Default false. */
  includeEssential: boolean;
  /** Debian: add every package of these priorities (`required`, `important`, ...). */
  includePriority: string[];
  addFiles: ManifestFile[];
  /** Absolute paths inside the tree. */
  removeFiles: string[];
  /** Inline scripts, run in the finished tree in this order. */
  postprocess: string[];
  /** A script file run after `postprocess`. */
  postprocessScript: { path: string; sha256: string; size: number } | null;
  /** Commit metadata: `s`, `b` or `x` values. */
  addCommitMetadata: [string, CommitMetadataValue][];
  /** Free-form data for other tools (rpm-ostree's `metadata`); not written into commits. */
  metadata: Record<string, unknown>;
  automaticVersionPrefix: string | null;
  automaticVersionSuffix: string;
  /** Container image settings (`image:`), for `compose image`; not part of the commit or its input hash. */
  image: ManifestImage;
}

/** The `image:` section: the OCI config of images built from the manifest. */
export interface ManifestImage {
  entrypoint?: string[];
  cmd?: string[];
  /** `KEY=VALUE` entries, in manifest order. */
  env?: string[];
  workingDir?: string;
  user?: string;
  /** `PORT/PROTO` entries. */
  exposedPorts?: string[];
  volumes?: string[];
  labels?: Record<string, string>;
  stopSignal?: string;
}

export const IMAGE_KEYS = ['entrypoint', 'cmd', 'env', 'working-dir', 'user', 'exposed-ports', 'volumes', 'labels', 'stop-signal'] as const;

export interface LoadedManifest {
  /** Absolute path of the top manifest. */
  path: string;
  /** Every manifest file read, absolute, the top one first. */
  files: string[];
  manifest: Manifest;
  /** The package family the repositories give. */
  family: PackageFamily;
  /** Canonical JSON of the flattened manifest: the manifest part of the input hash. */
  canonical: string;
  /**
   * Where a value came from: `ref`, `repos:NAME`, `packages:TEXT`, `add-files:DEST`,
   * `add-commit-metadata:KEY`, or a top-level key.
   */
  positions: ReadonlyMap<string, SourcePos>;
}

/** File access for manifest loading; tests pass an in-memory one. */
export interface ManifestFs {
  /** The text of a file, or null when it does not exist. */
  readText(abs: string): string | null;
  /** Digest and size of a regular file; null when missing, 'not-a-file' for anything else. */
  digest(abs: string): { sha256: string; size: number } | null | 'not-a-file';
  exists(abs: string): boolean;
}

export const nodeManifestFs: ManifestFs = {
  readText(abs) {
    try {
      return fs.readFileSync(abs, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
      throw ioError(e, 'cannot read', abs);
    }
  },
  digest(abs) {
    let fd: number;
    try {
      fd = fs.openSync(abs, 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
      throw ioError(e, 'cannot read', abs);
    }
    try {
      if (!fs.fstatSync(fd).isFile()) return 'not-a-file';
      const h = createHash('sha256');
      const buf = Buffer.allocUnsafe(1 << 20);
      let size = 0;
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        size += n;
      }
      return { sha256: h.digest('hex'), size };
    } finally {
      fs.closeSync(fd);
    }
  },
  exists(abs) {
    return fs.existsSync(abs);
  },
};

// ---------------------------------------------------------------------------------------------
// Keys

/** Top-level keys, in documentation order. */
export const MANIFEST_KEYS = [
  'ref',
  'arch',
  'include',
  'repos',
  'packages',
  'exclude-packages',
  'recommends',
  'include-essential',
  'include-priority',
  'add-files',
  'remove-files',
  'postprocess',
  'postprocess-script',
  'add-commit-metadata',
  'metadata',
  'automatic-version-prefix',
  'automatic-version-suffix',
  'image',
] as const;

export const REPO_KEYS = ['name', 'type', 'url', 'mirror', 'keyring', 'gpgcheck', 'priority', 'suites', 'components'] as const;

/** rpm-ostree treefile keys that ingot does not implement: named as such rather than "unknown". */
const RPM_OSTREE_ONLY = new Set([
  'edition', 'gpg-key', 'gpg_key', 'selinux', 'ignore-devices', 'ima', 'boot-location', 'boot_location',
  'etc-group-members', 'install-langs', 'mutate-os-release', 'documentation', 'repo-packages', 'ostree-layers',
  'ostree-override-layers', 'container-cmd', 'bootstrap_packages', 'units', 'default-target', 'default_target',
  'initramfs-args', 'rpmdb', 'rpmdb-normalize', 'selinux-label-version', 'cliwrap', 'cliwrap-binaries',
  'readonly-executables', 'remove-from-packages', 'preserve-passwd', 'check-passwd', 'check-groups',
  'ignore-removed-users', 'ignore-removed-groups', 'releasever', 'arch-include', 'conditional-include', 'container',
  'tmp-is-dir', 'machineid-compat', 'platform-module', 'variables', 'repo_metadata', 'lockfile-repos', 'repovars',
  'opt-usrlocal',
]);

export const DEB_PRIORITIES = ['required', 'important', 'standard', 'optional', 'extra'] as const;
export const MIRRORS = ['debian'] as const;

/** Keys a manifest may not set through add-commit-metadata: ingot writes them. */
const RESERVED_METADATA = /^(version$|ingot\.|ostree\.|rpmostree\.)/;

// ---------------------------------------------------------------------------------------------
// Did you mean

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate nearest to `word`, when it is near enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.max(1, Math.floor(Math.max(word.length, best.length) / 3)) ? best : undefined;
}

// ---------------------------------------------------------------------------------------------
// Date tags of automatic-version-prefix

const DATE_TAG = /<date:([^<>]*)>/g;
const DATE_FIELDS = new Set(['Y', 'y', 'm', 'd', 'e', 'H', 'M', 'S', 'j', '%']);

/** The first problem with the `<date:FORMAT>` tags of a version prefix, or null. */
export function checkVersionPrefix(prefix: string): string | null {
  for (const m of prefix.matchAll(DATE_TAG)) {
    const fmt = m[1]!;
    for (let i = 0; i < fmt.length; i++) {
      if (fmt[i] !== '%') continue;
      const f = fmt[i + 1];
      if (f === undefined || !DATE_FIELDS.has(f)) {
        return `'${m[0]}' uses '%${f ?? ''}'; supported: %Y %y %m %d %e %H %M %S %j %%`;
      }
      i++;
    }
  }
  if (/<date:/.test(prefix.replace(DATE_TAG, ''))) return "a '<date:' tag is not closed with '>'";
  return null;
}

/** Replaces each `<date:FORMAT>` tag with `now` (UTC) formatted; `dated` tells whether there was one. */
export function renderVersionPrefix(prefix: string, now: Date): { text: string; dated: boolean } {
  let dated = false;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const text = prefix.replace(DATE_TAG, (_all, fmt: string) => {
    dated = true;
    const start = Date.UTC(now.getUTCFullYear(), 0, 1);
    const yday = Math.floor((now.getTime() - start) / 86_400_000) + 1;
    return fmt.replace(/%(.)/g, (_m, f: string) => {
      switch (f) {
        case 'Y':
          return String(now.getUTCFullYear());
        case 'y':
          return p2(now.getUTCFullYear() % 100);
        case 'm':
          return p2(now.getUTCMonth() + 1);
        case 'd':
          return p2(now.getUTCDate());
        case 'e':
          return String(now.getUTCDate()).padStart(2, ' ');
        case 'H':
          return p2(now.getUTCHours());
        case 'M':
          return p2(now.getUTCMinutes());
        case 'S':
          return p2(now.getUTCSeconds());
        case 'j':
          return String(yday).padStart(3, '0');
        default:
          return f;
      }
    });
  });
  return { text, dated };
}

// ---------------------------------------------------------------------------------------------
// Parsing one file

interface Problem {
  pos: SourcePos;
  message: string;
  key?: string;
  suggestion?: string;
  hint?: string;
}

/** One value of a layer: the parsed value, its canonical JSON fragment, and where it was written. */
interface Item {
  /** Identity for set, keyed and map merges. */
  key?: string;
  value: unknown;
  canon: unknown;
  pos: SourcePos;
}

type Kind = 'scalar' | 'list' | 'set' | 'keyed' | 'map';

const KIND: Record<(typeof MANIFEST_KEYS)[number], Kind> = {
  ref: 'scalar',
  arch: 'scalar',
  include: 'list',
  repos: 'keyed',
  packages: 'set',
  'exclude-packages': 'set',
  recommends: 'scalar',
  'include-essential': 'scalar',
  'include-priority': 'set',
  'add-files': 'keyed',
  'remove-files': 'set',
  postprocess: 'list',
  'postprocess-script': 'scalar',
  'add-commit-metadata': 'map',
  metadata: 'map',
  'automatic-version-prefix': 'scalar',
  'automatic-version-suffix': 'scalar',
  image: 'map',
};

type Layer = Map<string, Item[]>;

class FileCtx {
  readonly problems: Problem[] = [];
  readonly dir: string;

  constructor(
    /** The file as shown in messages. */
    readonly file: string,
    readonly abs: string,
    /** Folder of the top manifest: canonical paths are relative to it. */
    readonly topDir: string,
    readonly lc: LineCounter,
    readonly doc: Document,
    readonly mfs: ManifestFs,
  ) {
    this.dir = path.dirname(abs);
  }

  pos(node: YamlNode | null | undefined): SourcePos {
    const off = node?.range?.[0] ?? 0;
    const p = this.lc.linePos(off);
    return { file: this.file, line: p.line, column: p.col };
  }

  fail(node: YamlNode | null | undefined, message: string, extra: Partial<Problem> = {}): undefined {
    this.problems.push({ pos: this.pos(node), message, ...extra });
    return undefined;
  }

  deref(node: unknown): YamlNode | null {
    if (isAlias(node)) return (node.resolve(this.doc) as YamlNode | undefined) ?? null;
    return (node as YamlNode | null) ?? null;
  }

  /** A path as written → absolute path and canonical form (relative to the top folder when written relative). */
  pathValue(written: string): { abs: string; canon: string } {
    if (path.isAbsolute(written)) return { abs: path.normalize(written), canon: path.normalize(written) };
    const abs = path.resolve(this.dir, written);
    return { abs, canon: path.relative(this.topDir, abs).split(path.sep).join('/') || '.' };
  }
}

function describe(node: YamlNode | null): string {
  if (node === null) return 'empty';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return 'a string';
    if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
    if (typeof v === 'boolean') return 'a boolean';
  }
  return 'an unsupported value';
}

function readString(c: FileCtx, raw: unknown, what: string): string | undefined {
  const node = c.deref(raw);
  if (isScalar(node)) {
    if (typeof node.value === 'string') return node.value;
    // A plain number is taken as written: `22.10` stays "22.10".
    if ((typeof node.value === 'number' || typeof node.value === 'bigint') && node.type === 'PLAIN' && typeof node.source === 'string') {
      return node.source;
    }
  }
  return c.fail(node, `${what} must be a string, not ${describe(node)}`);
}

function readNonEmptyString(c: FileCtx, raw: unknown, what: string): string | undefined {
  const s = readString(c, raw, what);
  if (s !== undefined && s.trim() === '') return c.fail(c.deref(raw), `${what} must not be empty`);
  return s;
}

function readBool(c: FileCtx, raw: unknown, what: string): boolean | undefined {
  const node = c.deref(raw);
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  return c.fail(node, `${what} must be true or false, not ${describe(node)}`);
}

function readInt(c: FileCtx, raw: unknown, what: string): number | undefined {
  const node = c.deref(raw);
  if (isScalar(node) && typeof node.value === 'number' && Number.isSafeInteger(node.value)) return node.value;
  return c.fail(node, `${what} must be an integer, not ${describe(node)}`);
}

/** A list of strings; with `single`, one string is taken as a list of one. */
function readStringList(c: FileCtx, raw: unknown, what: string, opts: { single?: boolean } = {}): { value: string; node: YamlNode | null }[] | undefined {
  const node = c.deref(raw);
  if (opts.single && isScalar(node) && typeof node.value === 'string') return [{ value: node.value, node }];
  if (!isSeq(node)) return c.fail(node, `${what} must be a list${opts.single ? ' or a string' : ''} of strings, not ${describe(node)}`);
  const out: { value: string; node: YamlNode | null }[] = [];
  for (const it of node.items) {
    const s = readNonEmptyString(c, it, `an entry of ${what}`);
    if (s !== undefined) out.push({ value: s, node: c.deref(it) });
  }
  return out;
}

/** The pairs of a map with string keys. */
function readMap(c: FileCtx, raw: unknown, what: string): { key: string; keyNode: YamlNode | null; value: unknown }[] | undefined {
  const node = c.deref(raw);
  if (!isMap(node)) return c.fail(node, `${what} must be a map, not ${describe(node)}`);
  const out: { key: string; keyNode: YamlNode | null; value: unknown }[] = [];
  for (const pair of node.items) {
    const keyNode = c.deref(pair.key);
    if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
      c.fail(keyNode, `a key of ${what} must be a string, not ${describe(keyNode)}`);
      continue;
    }
    out.push({ key: String(keyNode.value), keyNode, value: pair.value });
  }
  return out;
}

function unknownKey(c: FileCtx, keyNode: YamlNode | null, key: string, known: readonly string[], where: string): void {
  if (where === 'manifest' && (RPM_OSTREE_ONLY.has(key) || /^packages-/.test(key))) {
    c.fail(keyNode, `'${key}' is an rpm-ostree treefile key that ingot does not support`, { key });
    return;
  }
  const s = didYouMean(key, known);
  c.fail(keyNode, `unknown key '${key}' in ${where}${s ? `; did you mean '${s}'?` : ''}`, { key, ...(s && { suggestion: s }) });
}

const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

function parseRepo(c: FileCtx, raw: unknown): Item | undefined {
  const node = c.deref(raw);
  const pairs = readMap(c, raw, 'a repository entry');
  if (!pairs) return undefined;
  const before = c.problems.length;
  const got = new Map<string, { keyNode: YamlNode | null; value: unknown }>();
  for (const p of pairs) {
    if (!(REPO_KEYS as readonly string[]).includes(p.key)) unknownKey(c, p.keyNode, p.key, REPO_KEYS, 'a repository entry');
    else got.set(p.key, p);
  }
  const name = got.has('name') ? readNonEmptyString(c, got.get('name')!.value, 'repos: name') : c.fail(node, "a repository entry needs a 'name'");
  if (name !== undefined && !REPO_NAME.test(name)) c.fail(c.deref(got.get('name')!.value), `repository name '${name}' may hold only letters, digits, '.', '_' and '-'`);
  const label = name ? `repository '${name}'` : 'a repository';
  let type: RepoType | undefined;
  if (!got.has('type')) c.fail(node, `${label} needs a 'type' (apt or rpm-md)`);
  else {
    const t = readString(c, got.get('type')!.value, `${label}: type`);
    if (t !== undefined) {
      if (t === 'apt' || t === 'rpm-md') type = t;
      else {
        const s = didYouMean(t, ['apt', 'rpm-md']);
        c.fail(c.deref(got.get('type')!.value), `${label}: type must be 'apt' or 'rpm-md', not '${t}'${s ? `; did you mean '${s}'?` : ''}`);
      }
    }
  }
  const repo: ManifestRepo = { name: name ?? '', type: type ?? 'apt', keyring: [], gpgcheck: true, priority: 0, suites: [], components: [] };
  const canon: Record<string, unknown> = { name, type };
  if (got.has('url') && got.has('mirror')) c.fail(c.deref(got.get('mirror')!.keyNode), `${label}: give 'url' or 'mirror', not both`);
  else if (!got.has('url') && !got.has('mirror')) c.fail(node, `${label} needs a 'url' (or 'mirror: debian')`);
  if (got.has('url')) {
    const unode = c.deref(got.get('url')!.value);
    const u = readNonEmptyString(c, unode, `${label}: url`);
    if (u !== undefined) {
      const scheme = URL_SCHEME.exec(u)?.[1]?.toLowerCase();
      if (scheme !== undefined && scheme.length > 1) {
        if (!['http', 'https', 'file'].includes(scheme)) c.fail(unode, `${label}: url scheme '${scheme}:' is not supported (http, https, file)`);
        repo.url = u.replace(/\/+$/, '');
        canon['url'] = repo.url;
      } else {
        // A path: relative to this manifest.
        const p = c.pathValue(u);
        repo.url = pathToFileURL(p.abs).href.replace(/\/+$/, '');
        canon['url'] = p.canon;
      }
    }
  }
  if (got.has('mirror')) {
    const mnode = c.deref(got.get('mirror')!.value);
    const m = readString(c, mnode, `${label}: mirror`);
    if (m !== undefined) {
      if (!(MIRRORS as readonly string[]).includes(m)) c.fail(mnode, `${label}: unknown mirror '${m}' (known: ${MIRRORS.join(', ')})`);
      else if (type === 'rpm-md') c.fail(mnode, `${label}: 'mirror: ${m}' names a Debian mirror; an rpm-md repository needs a 'url'`);
      else {
        repo.mirror = m as 'debian';
        canon['mirror'] = m;
      }
    }
  }
  if (got.has('keyring')) {
    const list = readStringList(c, got.get('keyring')!.value, `${label}: keyring`, { single: true });
    const canonList: string[] = [];
    for (const k of list ?? []) {
      const p = c.pathValue(k.value);
      if (!c.mfs.exists(p.abs)) c.fail(k.node, `${label}: keyring '${k.value}' does not exist (${p.abs})`);
      repo.keyring.push(p.abs);
      canonList.push(p.canon);
    }
    canon['keyring'] = canonList;
  } else canon['keyring'] = [];
  if (got.has('gpgcheck')) repo.gpgcheck = readBool(c, got.get('gpgcheck')!.value, `${label}: gpgcheck`) ?? true;
  canon['gpgcheck'] = repo.gpgcheck;
  if (got.has('priority')) repo.priority = readInt(c, got.get('priority')!.value, `${label}: priority`) ?? 0;
  canon['priority'] = repo.priority;
  for (const k of ['suites', 'components'] as const) {
    if (!got.has(k)) continue;
    if (type === 'rpm-md') {
      c.fail(c.deref(got.get(k)!.keyNode), `${label}: '${k}' applies to apt repositories only`);
      continue;
    }
    repo[k] = (readStringList(c, got.get(k)!.value, `${label}: ${k}`, { single: true }) ?? []).map((x) => x.value);
  }
  if (type === 'apt') {
    if (repo.suites.length === 0 && !got.has('suites')) c.fail(node, `${label} (apt) needs 'suites', e.g. [bookworm]`);
    if (repo.components.length === 0) repo.components = ['main'];
    canon['suites'] = repo.suites;
    canon['components'] = repo.components;
  }
  if (c.problems.length > before) return undefined;
  return { key: repo.name, value: repo, canon, pos: c.pos(node) };
}

/** Normalizes an absolute tree path; null when it is not absolute or has `.`/`..` components. */
function treePath(p: string, leadingSlashOptional: boolean): string | null {
  let s = p;
  if (!s.startsWith('/')) {
    if (!leadingSlashOptional) return null;
    s = `/${s}`;
  }
  const parts = s.split('/').filter((x) => x !== '');
  if (parts.some((x) => x === '.' || x === '..')) return null;
  return `/${parts.join('/')}`;
}

/** Parses the value of one top-level key into layer items. */
function parseKey(c: FileCtx, key: (typeof MANIFEST_KEYS)[number], raw: unknown, keyNode: YamlNode | null): Item[] | undefined {
  const node = c.deref(raw);
  const pos = c.pos(node ?? keyNode);
  const one = (value: unknown, canon: unknown = value): Item[] => [{ value, canon, pos }];
  switch (key) {
    case 'ref': {
      const s = readNonEmptyString(c, raw, 'ref');
      if (s === undefined) return undefined;
      if (!isValidRefName(s)) {
        return c.fail(node, `ref '${s}' is not a valid OSTree ref ('/'-separated fragments of letters, digits, '_', '-' and '.', not starting with '-' or '.')`);
      }
      return one(s);
    }
    case 'arch': {
      const s = readNonEmptyString(c, raw, 'arch');
      if (s === undefined) return undefined;
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(s)) return c.fail(node, `arch '${s}' is not an architecture name`);
      return one(s);
    }
    case 'recommends':
    case 'include-essential': {
      const b = readBool(c, raw, key);
      return b === undefined ? undefined : one(b);
    }
    case 'include': {
      const list = readStringList(c, raw, 'include', { single: true });
      return list?.map((x) => {
        const p = c.pathValue(x.value);
        return { value: p.abs, canon: p.canon, pos: c.pos(x.node), key: x.value };
      });
    }
    case 'repos': {
      if (!isSeq(node)) return c.fail(node, `repos must be a list of repository entries, not ${describe(node)}`);
      const out: Item[] = [];
      const seen = new Map<string, SourcePos>();
      for (const it of node.items) {
        const r = parseRepo(c, it);
        if (!r) continue;
        const prev = seen.get(r.key!);
        if (prev) c.fail(c.deref(it), `repository '${r.key}' is defined twice (first at line ${prev.line})`);
        seen.set(r.key!, r.pos);
        out.push(r);
      }
      return out;
    }
    case 'packages':
    case 'exclude-packages':
    case 'remove-files':
    case 'postprocess': {
      const list = readStringList(c, raw, key);
      if (!list) return undefined;
      const out: Item[] = [];
      for (const x of list) {
        let v = key === 'postprocess' ? x.value : x.value.trim();
        if (key === 'remove-files') {
          const t = treePath(v, true);
          if (t === null || t === '/') {
            c.fail(x.node, `remove-files entry '${v}' must be a path inside the tree without '.' or '..' components`);
            continue;
          }
          v = t;
        }
        out.push({ key: v, value: v, canon: v, pos: c.pos(x.node) });
      }
      return out;
    }
    case 'include-priority': {
      const list = readStringList(c, raw, key, { single: true });
      if (!list) return undefined;
      const out: Item[] = [];
      for (const x of list) {
        if (!(DEB_PRIORITIES as readonly string[]).includes(x.value)) {
          const s = didYouMean(x.value, DEB_PRIORITIES);
          c.fail(x.node, `include-priority: unknown priority '${x.value}' (${DEB_PRIORITIES.join(', ')})${s ? `; did you mean '${s}'?` : ''}`);
          continue;
        }
        out.push({ key: x.value, value: x.value, canon: x.value, pos: c.pos(x.node) });
      }
      return out;
    }
    case 'add-files': {
      if (!isSeq(node)) return c.fail(node, `add-files must be a list of [source, destination] pairs, not ${describe(node)}`);
      const out: Item[] = [];
      for (const it of node.items) {
        const pair = c.deref(it);
        if (!isSeq(pair) || pair.items.length !== 2) {
          c.fail(pair, `an add-files entry must be a [source, destination] pair, not ${isSeq(pair) ? `a list of ${pair.items.length}` : describe(pair)}`);
          continue;
        }
        const src = readNonEmptyString(c, pair.items[0], 'add-files: source');
        const dst = readNonEmptyString(c, pair.items[1], 'add-files: destination');
        if (src === undefined || dst === undefined) continue;
        const srcNode = c.deref(pair.items[0]);
        if (path.isAbsolute(src)) {
          c.fail(srcNode, `add-files source '${src}' must be relative to the manifest`, {});
          continue;
        }
        const dest = treePath(dst, false);
        if (dest === null || dest === '/') {
          c.fail(c.deref(pair.items[1]), `add-files destination '${dst}' must be an absolute path in the tree without '.' or '..' components`);
          continue;
        }
        const p = c.pathValue(src);
        const d = c.mfs.digest(p.abs);
        if (d === null) {
          c.fail(srcNode, `add-files source '${src}' does not exist (${p.abs})`);
          continue;
        }
        if (d === 'not-a-file') {
          c.fail(srcNode, `add-files source '${src}' is not a regular file (${p.abs})`);
          continue;
        }
        const f: ManifestFile = { source: p.abs, destination: dest, sha256: d.sha256, size: d.size };
        out.push({ key: dest, value: f, canon: [p.canon, dest], pos: c.pos(pair) });
      }
      return out;
    }
    case 'postprocess-script': {
      const s = readNonEmptyString(c, raw, key);
      if (s === undefined) return undefined;
      const p = c.pathValue(s);
      const d = c.mfs.digest(p.abs);
      if (d === null) return c.fail(node, `postprocess-script '${s}' does not exist (${p.abs})`);
      if (d === 'not-a-file') return c.fail(node, `postprocess-script '${s}' is not a regular file (${p.abs})`);
      return one({ path: p.abs, sha256: d.sha256, size: d.size }, p.canon);
    }
    case 'add-commit-metadata': {
      const pairs = readMap(c, raw, key);
      if (!pairs) return undefined;
      const out: Item[] = [];
      for (const p of pairs) {
        if (p.key === '' || RESERVED_METADATA.test(p.key)) {
          c.fail(p.keyNode, `add-commit-metadata: key '${p.key}' is ${p.key === '' ? 'empty' : 'written by ingot and cannot be set here'}`);
          continue;
        }
        const v = c.deref(p.value);
        let value: CommitMetadataValue | undefined;
        if (isScalar(v) && typeof v.value === 'string') value = v.value;
        else if (isScalar(v) && typeof v.value === 'boolean') value = v.value;
        else if (isScalar(v) && typeof v.value === 'number' && Number.isSafeInteger(v.value)) value = BigInt(v.value);
        else if (isScalar(v) && typeof v.value === 'bigint') value = v.value;
        if (value === undefined) {
          c.fail(v, `add-commit-metadata: '${p.key}' must be a string, a boolean or an integer, not ${describe(v)}`);
          continue;
        }
        out.push({ key: p.key, value: [p.key, value], canon: typeof value === 'bigint' ? { int: value.toString() } : value, pos: c.pos(p.keyNode) });
      }
      return out;
    }
    case 'metadata': {
      const pairs = readMap(c, raw, key);
      if (!pairs) return undefined;
      return pairs.map((p) => {
        const v = c.deref(p.value);
        const js: unknown = isNode(v) ? v.toJS(c.doc, { maxAliasCount: 100 }) : null;
        const value = jsonSafe(js);
        return { key: p.key, value: [p.key, value], canon: value, pos: c.pos(p.keyNode) };
      });
    }
    case 'automatic-version-prefix': {
      const s = readNonEmptyString(c, raw, key);
      if (s === undefined) return undefined;
      const err = checkVersionPrefix(s);
      if (err) return c.fail(node, `automatic-version-prefix: ${err}`);
      return one(s);
    }
    case 'image':
      return parseImageSection(c, raw);
    case 'automatic-version-suffix': {
      const s = readString(c, raw, key);
      if (s === undefined) return undefined;
      if (!/^[\x21-\x7e]$/.test(s) || /[0-9]/.test(s)) return c.fail(node, `automatic-version-suffix must be one printable ASCII character other than a digit, not '${s}'`);
      return one(s);
    }
  }
}

/** The `image:` map: each key one item (maps of included manifests merge key by key). */
function parseImageSection(c: FileCtx, raw: unknown): Item[] | undefined {
  const pairs = readMap(c, raw, 'image');
  if (!pairs) return undefined;
  const out: Item[] = [];
  for (const p of pairs) {
    const k = p.key as (typeof IMAGE_KEYS)[number];
    if (!(IMAGE_KEYS as readonly string[]).includes(p.key)) {
      unknownKey(c, p.keyNode, p.key, IMAGE_KEYS, 'image');
      continue;
    }
    let value: unknown;
    if (k === 'working-dir' || k === 'user' || k === 'stop-signal') value = readNonEmptyString(c, p.value, `image.${k}`);
    else if (k === 'env' || k === 'labels') {
      const m = readMap(c, p.value, `image.${k}`);
      if (m) {
        const kv: [string, string][] = [];
        for (const e of m) {
          const v = c.deref(e.value);
          if (!isScalar(v) || v.value === null || typeof v.value === 'object') {
            c.fail(v, `image.${k}: '${e.key}' must be a string, number or boolean, not ${describe(v)}`);
            continue;
          }
          if (k === 'env' && (e.key === '' || e.key.includes('='))) c.fail(e.keyNode, `image.env: '${e.key}' is not a variable name`);
          kv.push([e.key, String(v.value)]);
        }
        value = k === 'env' ? kv.map(([a, b]) => `${a}=${b}`) : Object.fromEntries(kv);
      }
    } else {
      const list = isSeq(c.deref(p.value)) ? (c.deref(p.value) as { items: unknown[] }).items.map((i) => c.deref(i)) : null;
      if (!list || !list.every((i) => isScalar(i) && (typeof i.value === 'string' || typeof i.value === 'number'))) {
        c.fail(c.deref(p.value), `image.${k} must be a list of strings`);
        continue;
      }
      const strs = list.map((i) => String((i as { value: unknown }).value));
      if (k === 'exposed-ports') {
        const bad = strs.find((x) => !/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(x));
        if (bad !== undefined) c.fail(c.deref(p.value), `image.exposed-ports: '${bad}' is not PORT or PORT/tcp|udp|sctp`);
        value = strs.map((x) => (x.includes('/') ? x : `${x}/tcp`));
      } else value = strs;
    }
    if (value === undefined) continue;
    const field = k === 'working-dir' ? 'workingDir' : k === 'exposed-ports' ? 'exposedPorts' : k === 'stop-signal' ? 'stopSignal' : k;
    out.push({ key: p.key, value: [field, value], canon: value, pos: c.pos(p.keyNode) });
  }
  return out;
}

/** Plain JSON data (YAML's extra scalar types turned into strings). */
function jsonSafe(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonSafe(x)]));
  return String(v);
}

function parseLayer(text: string, file: string, abs: string, topDir: string, mfs: ManifestFs): { layer: Layer; problems: Problem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const c = new FileCtx(file, abs, topDir, lc, doc, mfs);
  const layer: Layer = new Map();
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    c.problems.push({ pos: { file, line: p.line, column: p.col }, message: e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').replace(/\s+$/, ''), hint: 'the file is not valid YAML (or JSON) at that position' });
  }
  if (c.problems.length > 0) return { layer, problems: c.problems };
  const root = c.deref(doc.contents);
  if (root === null || (isScalar(root) && root.value === null)) {
    c.fail(root, 'the manifest is empty');
    return { layer, problems: c.problems };
  }
  const pairs = readMap(c, root, 'the manifest');
  for (const p of pairs ?? []) {
    if (!(MANIFEST_KEYS as readonly string[]).includes(p.key)) {
      unknownKey(c, p.keyNode, p.key, MANIFEST_KEYS, 'manifest');
      continue;
    }
    const key = p.key as (typeof MANIFEST_KEYS)[number];
    const items = parseKey(c, key, p.value, p.keyNode);
    if (items) layer.set(key, items);
  }
  return { layer, problems: c.problems };
}

// ---------------------------------------------------------------------------------------------
// Includes and flattening

function mergeLayers(a: Layer, b: Layer): Layer {
  const out: Layer = new Map(a);
  for (const [key, items] of b) {
    const kind = KIND[key as (typeof MANIFEST_KEYS)[number]];
    const prev = out.get(key) ?? [];
    if (kind === 'scalar') out.set(key, items);
    else if (kind === 'list') out.set(key, [...prev, ...items]);
    else if (kind === 'set') {
      const seen = new Set(prev.map((i) => i.key));
      out.set(key, [...prev, ...items.filter((i) => !seen.has(i.key) && (seen.add(i.key), true))]);
    } else {
      const merged = [...prev];
      for (const it of items) {
        const i = merged.findIndex((m) => m.key === it.key);
        if (i >= 0) merged[i] = it;
        else merged.push(it);
      }
      out.set(key, merged);
    }
  }
  return out;
}

function invalid(problems: Problem[]): IngotError {
  const fmt = (p: Problem): string => `${p.pos.file}:${p.pos.line}:${p.pos.column}: ${p.message}`;
  const first = problems[0]!;
  const message = problems.length === 1 ? fmt(first) : `${problems.length} problems in the manifest:\n  ${problems.map(fmt).join('\n  ')}`;
  return new IngotError('MANIFEST_INVALID', message, {
    hint: first.hint ?? (first.suggestion ? `did you mean '${first.suggestion}'? The manifest keys are listed in docs/cli.md (Compose manifests)` : 'the manifest keys and their types are listed in docs/cli.md (Compose manifests)'),
    data: {
      file: first.pos.file,
      line: first.pos.line,
      column: first.pos.column,
      ...(first.key !== undefined && { key: first.key }),
      ...(first.suggestion !== undefined && { suggestion: first.suggestion }),
      problems: problems.map((p) => ({ ...p.pos, message: p.message, ...(p.suggestion && { suggestion: p.suggestion }) })),
    },
  });
}

interface LoadState {
  topDir: string;
  mfs: ManifestFs;
  /** Every file loaded so far. */
  seen: Map<string, SourcePos | null>;
  files: string[];
}

function loadTree(abs: string, display: string, stack: { abs: string; display: string }[], st: LoadState, text: string): Layer {
  st.files.push(abs);
  const { layer: own, problems } = parseLayer(text, display, abs, st.topDir, st.mfs);
  if (problems.length) throw invalid(problems);
  let merged: Layer = new Map();
  for (const inc of own.get('include') ?? []) {
    const incAbs = inc.value as string;
    const incDisplay = path.isAbsolute(inc.key!) ? path.normalize(inc.key!) : path.normalize(path.join(path.dirname(display), inc.key!));
    const chain = [...stack, { abs, display }];
    const cycleAt = chain.findIndex((s) => s.abs === incAbs);
    if (cycleAt >= 0) {
      const names = [...chain.slice(cycleAt).map((s) => s.display), incDisplay];
      throw new IngotError('MANIFEST_INCLUDE_CYCLE', `${inc.pos.file}:${inc.pos.line}:${inc.pos.column}: include cycle: ${names.join(' → ')}`, {
        hint: 'remove one of the includes so that no manifest includes itself, directly or through others',
        data: { file: inc.pos.file, line: inc.pos.line, column: inc.pos.column, cycle: names },
      });
    }
    const before = st.seen.get(incAbs);
    if (before !== undefined) {
      throw invalid([{ pos: inc.pos, message: `'${inc.key}' is included a second time${before ? ` (first at ${before.file}:${before.line}:${before.column})` : ''}; a manifest may be included once` }]);
    }
    const incText = st.mfs.readText(incAbs);
    if (incText === null) throw invalid([{ pos: inc.pos, message: `included manifest '${inc.key}' does not exist (${incAbs})` }]);
    st.seen.set(incAbs, inc.pos);
    merged = mergeLayers(merged, loadTree(incAbs, incDisplay, chain, st, incText));
  }
  own.delete('include');
  return mergeLayers(merged, own);
}

/** JSON with object keys sorted at every level and no whitespace; bigints as numbers. */
export function canonicalJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

function requestName(item: string): string {
  return /^[^\s<>=(!]+/.exec(item.trim())?.[0]?.replace(/:[A-Za-z0-9_-]+$/, '') ?? item.trim();
}

function globTest(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(name);
}

/**
 * Loads a manifest and everything it includes, validates it and flattens it. Throws
 * PATH_NOT_FOUND when `file` does not exist, MANIFEST_INVALID (with file, line and column)
 * and MANIFEST_INCLUDE_CYCLE.
 */
export function loadManifest(file: string, opts: { fs?: ManifestFs } = {}): LoadedManifest {
  const mfs = opts.fs ?? nodeManifestFs;
  const abs = path.resolve(file);
  const text = mfs.readText(abs);
  if (text === null) {
    throw new IngotError('PATH_NOT_FOUND', `manifest '${file}' does not exist`, { hint: 'give the path of a YAML or JSON manifest', data: { path: abs } });
  }
  const st: LoadState = { topDir: path.dirname(abs), mfs, seen: new Map([[abs, null]]), files: [] };
  const layer = loadTree(abs, file, [], st, text);
  return finish(abs, file, st.files, layer);
}

function finish(abs: string, display: string, files: string[], layer: Layer): LoadedManifest {
  const items = (k: string): Item[] => layer.get(k) ?? [];
  const scalar = <T>(k: string): T | null => (items(k)[0]?.value as T | undefined) ?? null;
  const top: SourcePos = { file: display, line: 1, column: 1 };
  const problems: Problem[] = [];
  const positions = new Map<string, SourcePos>();
  for (const [k, list] of layer) {
    if (list[0]) positions.set(k, list[0].pos);
    if (KIND[k as (typeof MANIFEST_KEYS)[number]] !== 'scalar') for (const it of list) if (it.key !== undefined) positions.set(`${k}:${it.key}`, it.pos);
  }

  const m: Manifest = {
    ref: scalar<string>('ref'),
    arch: scalar<string>('arch'),
    repos: items('repos').map((i) => i.value as ManifestRepo),
    packages: items('packages').map((i) => i.value as string),
    excludePackages: items('exclude-packages').map((i) => i.value as string),
    recommends: scalar<boolean>('recommends') ?? false,
    includeEssential: scalar<boolean>('include-essential') ?? false,
    includePriority: items('include-priority').map((i) => i.value as string),
    addFiles: items('add-files').map((i) => i.value as ManifestFile),
    removeFiles: items('remove-files').map((i) => i.value as string),
    postprocess: items('postprocess').map((i) => i.value as string),
    postprocessScript: scalar<Manifest['postprocessScript']>('postprocess-script'),
    addCommitMetadata: items('add-commit-metadata').map((i) => i.value as [string, CommitMetadataValue]),
    metadata: Object.fromEntries(items('metadata').map((i) => i.value as [string, unknown])),
    automaticVersionPrefix: scalar<string>('automatic-version-prefix'),
    automaticVersionSuffix: scalar<string>('automatic-version-suffix') ?? '.',
    image: Object.fromEntries(items('image').map((i) => i.value as [string, unknown])) as ManifestImage,
  };

  // Rules across keys, checked on the flattened result.
  if (m.repos.length === 0) problems.push({ pos: top, message: "no repositories: add a 'repos' list (here or in an included manifest)" });
  const firstType = m.repos[0]?.type;
  for (const it of items('repos').slice(1)) {
    const r = it.value as ManifestRepo;
    if (r.type !== firstType) {
      problems.push({ pos: it.pos, message: `repository '${r.name}' is ${r.type} but '${m.repos[0]!.name}' is ${firstType}: one manifest composes one package family` });
    }
  }
  const family: PackageFamily = firstType === 'rpm-md' ? 'rpm' : 'deb';
  if (family === 'rpm') {
    for (const k of ['include-essential', 'include-priority']) {
      const it = items(k)[0];
      if (it && (k === 'include-priority' || it.value === true)) problems.push({ pos: it.pos, message: `${k} applies to Debian (apt) repositories only` });
    }
  }
  for (const it of items('packages')) {
    const text = it.value as string;
    if (m.repos.length) {
      try {
        parseRequest(text, family);
      } catch (e) {
        if (!(e instanceof IngotError)) throw e;
        problems.push({ pos: it.pos, message: `packages entry '${text}' is not a package request: ${e.message}` });
        continue;
      }
    }
    const name = requestName(text);
    const ex = m.excludePackages.find((p) => globTest(p, name));
    if (ex !== undefined) {
      const exPos = positions.get(`exclude-packages:${ex}`);
      problems.push({ pos: it.pos, message: `package '${name}' is both requested and excluded (exclude-packages '${ex}'${exPos ? ` at ${exPos.file}:${exPos.line}:${exPos.column}` : ''})` });
    }
  }
  if (problems.length) throw invalid(problems);

  const canon: Record<string, unknown> = {
    'add-commit-metadata': Object.fromEntries(items('add-commit-metadata').map((i) => [i.key!, i.canon])),
    'add-files': items('add-files').map((i) => i.canon),
    arch: m.arch ?? undefined,
    'automatic-version-prefix': m.automaticVersionPrefix ?? undefined,
    'automatic-version-suffix': m.automaticVersionSuffix,
    'exclude-packages': m.excludePackages,
    'include-essential': m.includeEssential,
    'include-priority': m.includePriority,
    metadata: Object.fromEntries(items('metadata').map((i) => [i.key!, i.canon])),
    packages: m.packages,
    postprocess: m.postprocess,
    'postprocess-script': items('postprocess-script')[0]?.canon ?? undefined,
    recommends: m.recommends,
    ref: m.ref ?? undefined,
    'remove-files': m.removeFiles,
    repos: items('repos').map((i) => i.canon),
  };
  return { path: abs, files, manifest: m, family, canonical: canonicalJson(canon), positions };
}

/** The flattened manifest's `ref`, or MANIFEST_INVALID naming the top file. */
export function requireRef(lm: LoadedManifest): string {
  if (lm.manifest.ref) return lm.manifest.ref;
  throw invalid([{ pos: { file: path.relative(process.cwd(), lm.path) || lm.path, line: 1, column: 1 }, message: "no 'ref': name the branch to commit to, e.g. ref: os/x86_64/stable" }]);
}

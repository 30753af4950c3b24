/**
 * RPM package files on disk: the thin I/O side of codecs/rpm (open, stream, close) and the
 * mapping of an RpmPackage to the family-neutral PackageInfo / PackageFile.
 *
 * - `readRpmFile` reads the lead and both headers only and checks the header digests (and, with
 *   a keyring, the header signatures); the payload is not read.
 * - `verifyRpmFile` checks everything `rpm -K` checks, reading the file once.
 * - `rpmFileEntries` streams the payload's members with their header metadata, verifying file
 *   digests and, at the end, the payload digests.
 *
 * PackageInfo mapping: Requires with PREREQ, SCRIPT_PRE or PRETRANS (`Requires(pre)`,
 * `Requires(pretrans)`) are preDepends, the other Requires depends, except the `rpmlib(...)`
 * capabilities rpm itself provides, which go to extra.rpmlib; a rich dependency keeps its text
 * in `rich` and its tree in `richTree`, and `anyOf` lists its atoms only when it is a plain
 * disjunction (`(a or b)`), otherwise it is empty; Supplements, Enhances, triggers, the
 * changelog and the remaining header fields go to `extra`. PackageFile.mode holds the
 * permission bits (the type is in `type`); in a hardlink set every link but the first (in
 * header order) is a 'hardlink' whose target is the first.
 */
import * as fs from 'node:fs';
import { ioError } from '../core/errors.js';
import {
  assertDigestsPresent,
  assertVerified,
  FILEFLAG,
  headerDigestChecks,
  nevra,
  readRpm,
  readRpmPayload,
  rpmPackage,
  SENSE,
  signatureCheck,
  SIGNATURE_TAGS,
  signatureInfo,
  verifyRpm,
  verifySignature,
  type RichDep,
  type RpmCheck,
  type RpmDependency,
  type RpmHead,
  type RpmKeyring,
  type RpmPackage,
  type RpmPayloadEntry,
  type RpmSignatureInfo,
} from '../codecs/rpm/index.js';
import type { DepAtom, Dependency, PackageFile, PackageInfo, Scriptlet } from './package.js';

export interface RpmFileOptions {
  /** Check header signatures against these keys. */
  keyring?: RpmKeyring;
  /** Fail unless a signature verifies with the keyring (RPM_UNSIGNED / RPM_SIGNATURE_INVALID). */
  requireSignature?: boolean;
}

export interface RpmFileHead {
  head: RpmHead;
  pkg: RpmPackage;
  /** The OpenPGP signatures the package carries (not verified unless a keyring was given). */
  signatures: RpmSignatureInfo[];
  /** Header digest (and, with a keyring, header signature) checks; all passed. */
  checks: RpmCheck[];
}

function openStream(path: string): fs.ReadStream {
  try {
    fs.accessSync(path, fs.constants.R_OK);
    return fs.createReadStream(path, { highWaterMark: 1024 * 1024 });
  } catch (e) {
    throw ioError(e, 'cannot read', path);
  }
}

/** Node stream errors (EIO, EISDIR) surface from the iteration; give them the path. */
async function* guarded(stream: fs.ReadStream, path: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (e) {
    throw ioError(e, 'cannot read', path);
  } finally {
    stream.destroy();
  }
}

/**
 * Header digests and, with a keyring, header signatures (signature first, as rpm -K lists
 * them); also describes every signature the package carries.
 */
async function headerChecks(head: RpmHead, keyring: RpmKeyring | undefined): Promise<{ checks: RpmCheck[]; signatures: RpmSignatureInfo[] }> {
  const checks = headerDigestChecks(head);
  const signatures: RpmSignatureInfo[] = [];
  for (const t of SIGNATURE_TAGS) {
    const packet = head.signature.bin(t.tag);
    if (!packet) continue;
    if (keyring && t.range === 'header') {
      const c = signatureCheck(await verifySignature(t.tag, packet, head.header.bytes, keyring, new Date()));
      signatures.push(c.signature!);
      checks.unshift(c);
    } else {
      signatures.push(await signatureInfo(t.tag, packet));
    }
  }
  return { checks, signatures };
}

/** The lead and headers of an RPM file, with header digests (and signatures) checked. */
export async function readRpmFile(path: string, opts: RpmFileOptions = {}): Promise<RpmFileHead> {
  if (opts.requireSignature && !opts.keyring) throw new Error('readRpmFile: requireSignature needs a keyring');
  const stream = openStream(path);
  try {
    const { head, close } = await readRpm(guarded(stream, path), { label: path });
    await close();
    const { checks, signatures } = await headerChecks(head, opts.keyring);
    assertVerified(checks, { label: path, requireSignature: !!opts.requireSignature });
    return { head, pkg: rpmPackage(head.header), signatures, checks };
  } finally {
    stream.destroy();
  }
}

/** Everything `rpm -K -v` checks, in its order; the caller decides what a failure means. */
export async function verifyRpmFile(path: string, keyring?: RpmKeyring): Promise<RpmCheck[]> {
  const stream = openStream(path);
  try {
    const { checks } = await verifyRpm(guarded(stream, path), { label: path, ...(keyring ? { keyring, date: new Date() } : {}) });
    return checks;
  } finally {
    stream.destroy();
  }
}

/**
 * The payload's members in archive order (header metadata, data stream). As rpm before an
 * install, the package must carry digests over header and payload; header digests (and, with
 * a keyring, signatures) are checked first, file and payload digests while streaming (see
 * codecs/rpm/payload.ts).
 */
export async function* rpmFileEntries(path: string, opts: RpmFileOptions & { fileDigests?: boolean } = {}): AsyncGenerator<RpmPayloadEntry> {
  if (opts.requireSignature && !opts.keyring) throw new Error('rpmFileEntries: requireSignature needs a keyring');
  const stream = openStream(path);
  try {
    const { head, payload, close } = await readRpm(guarded(stream, path), { label: path });
    try {
      assertDigestsPresent(head, path);
      const { checks } = await headerChecks(head, opts.keyring);
      assertVerified(checks, { label: path, requireSignature: !!opts.requireSignature });
      yield* readRpmPayload(head, payload, { label: path, ...(opts.fileDigests !== undefined ? { fileDigests: opts.fileDigests } : {}) });
    } finally {
      await close();
    }
  } finally {
    stream.destroy();
  }
}

const PRE = SENSE.PREREQ | SENSE.SCRIPT_PRE | SENSE.PRETRANS;

function atom(d: RpmDependency): DepAtom {
  const a: DepAtom = { name: d.name };
  if (d.op) {
    a.op = d.op;
    a.version = d.version;
  }
  return a;
}

function dependency(d: RpmDependency): Dependency {
  if (!d.rich) return { anyOf: [atom(d)] };
  const tree: RichDep = d.rich;
  const anyOf: DepAtom[] = tree.op === 'atom' ? [tree.atom] : tree.op === 'or' && tree.args.every((x) => x.op === 'atom') ? tree.args.map((x) => (x as { atom: DepAtom }).atom) : [];
  return { anyOf, rich: d.name, richTree: tree };
}

/** The Requires rpm itself satisfies (`rpmlib(...)`), which no package provides. */
export function isRpmlibDependency(d: RpmDependency): boolean {
  return (d.flags & SENSE.RPMLIB) !== 0 || d.name.startsWith('rpmlib(');
}

/** Maps an RPM package to the family-neutral view. */
export function rpmToPackageInfo(pkg: RpmPackage, signatures: RpmSignatureInfo[] = []): PackageInfo {
  const requires = pkg.requires.filter((d) => !isRpmlibDependency(d));
  const scriptlets: Scriptlet[] = pkg.scriptlets.map((s) => ({ name: s.name, interpreter: s.interpreter.length ? s.interpreter.join(' ') : '/bin/sh', body: s.body }));
  const info: PackageInfo = {
    family: 'rpm',
    name: pkg.name,
    epoch: pkg.epoch ?? 0,
    version: pkg.version,
    release: pkg.release,
    arch: pkg.arch,
    depends: requires.filter((d) => !(d.flags & PRE)).map(dependency),
    preDepends: requires.filter((d) => d.flags & PRE).map(dependency),
    recommends: pkg.recommends.map(dependency),
    suggests: pkg.suggests.map(dependency),
    provides: pkg.provides.map(atom),
    conflicts: pkg.conflicts.map(dependency),
    breaks: [],
    replaces: [],
    obsoletes: pkg.obsoletes.map(atom),
    scriptlets,
  };
  if (pkg.summary) info.summary = pkg.summary;
  if (pkg.description) info.description = pkg.description;
  if (pkg.license) info.license = pkg.license;
  if (pkg.sourceName !== undefined) info.sourceName = pkg.sourceName;
  if (pkg.sourceVersion !== undefined) info.sourceVersion = pkg.sourceVersion;
  if (pkg.size !== undefined) info.installedSize = pkg.size;
  if (pkg.group) info.section = pkg.group;
  const extra: Record<string, unknown> = {
    nevra: nevra(pkg),
    hasEpoch: pkg.epoch !== undefined,
    os: pkg.os,
    group: pkg.group,
    url: pkg.url,
    bugUrl: pkg.bugUrl,
    vendor: pkg.vendor,
    packager: pkg.packager,
    buildHost: pkg.buildHost,
    buildTime: pkg.buildTime,
    sourceRpm: pkg.sourceRpm,
    isSource: pkg.isSource,
    payload: { format: pkg.payloadFormat, compressor: pkg.payloadCompressor, flags: pkg.payloadFlags },
    fileDigestAlgo: pkg.fileDigestAlgo,
    fileCount: pkg.files.length,
    rpmlib: pkg.requires.filter(isRpmlibDependency).map(atom),
    requires: pkg.requires,
    supplements: pkg.supplements.map(dependency),
    enhances: pkg.enhances.map(dependency),
    triggers: pkg.triggers,
    changelog: pkg.changelog,
    signatures,
  };
  if (pkg.modularityLabel !== undefined) extra['modularityLabel'] = pkg.modularityLabel;
  if (pkg.distTag) extra['distTag'] = pkg.distTag;
  if (pkg.prefixes.length) extra['prefixes'] = pkg.prefixes;
  info.extra = extra;
  return info;
}

const S_IFMT = 0o170000;
const TYPES: Record<number, PackageFile['type']> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink' };

/** A listed file: PackageFile plus the mtime and link count that `rpm -qlv` shows. */
export type RpmListedFile = PackageFile & { mtime: number; nlink: number };

/** Maps the header's file list to PackageFile entries (header order, which is path order). */
export function rpmToPackageFiles(pkg: RpmPackage): RpmListedFile[] {
  return pkg.files.map((f) => {
    let type: PackageFile['type'] = TYPES[f.mode & S_IFMT] ?? 'other';
    const out: RpmListedFile = { path: f.path, type, mode: f.mode & 0o7777, user: f.user, group: f.group, size: f.size, mtime: f.mtime, nlink: f.hardlinks?.length ?? 1 };
    if (f.hardlinks && f.hardlinks[0] !== f.index) {
      type = out.type = 'hardlink';
      out.target = pkg.files[f.hardlinks[0]!]!.path;
    }
    if (f.digest) {
      out.digest = f.digest;
      out.digestAlgo = pkg.fileDigestAlgo;
    }
    if (type === 'symlink') out.target = f.linkTo;
    const flags: NonNullable<PackageFile['flags']> = {};
    if (f.flags & FILEFLAG.CONFIG) flags.config = true;
    if (f.flags & FILEFLAG.GHOST) flags.ghost = true;
    if (f.flags & FILEFLAG.DOC) flags.doc = true;
    if (f.flags & FILEFLAG.LICENSE) flags.license = true;
    if (f.flags & FILEFLAG.MISSINGOK) flags.missingok = true;
    if (f.flags & FILEFLAG.NOREPLACE) flags.noreplace = true;
    if (Object.keys(flags).length) out.flags = flags;
    return out;
  });
}

/** `pkg info` for an RPM file (headers only; header digests checked). */
export async function readRpmInfo(path: string): Promise<PackageInfo> {
  const { pkg, signatures } = await readRpmFile(path);
  return rpmToPackageInfo(pkg, signatures);
}

/** `pkg contents` for an RPM file: the header's file list (ghosts included, as rpm -ql shows them). */
export async function listRpmContents(path: string): Promise<RpmListedFile[]> {
  const { pkg } = await readRpmFile(path);
  return rpmToPackageFiles(pkg);
}

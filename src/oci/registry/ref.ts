/**
 * Registry image references: `docker://HOST[:PORT]/NAME[:TAG|@DIGEST]` (the `docker://` prefix
 * is optional). The host is always explicit: ingot never guesses a default registry, so a first
 * component that cannot be a host (no dot, no port, not `localhost`, not a bracketed IPv6
 * address) is refused rather than sent to some public registry. Grammar of names and tags:
 * distribution-spec ("Pulling manifests"); a reference without tag or digest means `latest`.
 */
import { IngotError } from '../../core/errors.js';

export interface RegistryRef {
  /** `host` or `host:port` (IPv6 in brackets), as it appears in URLs and credential files. */
  host: string;
  /** Repository name, e.g. `team/base`. */
  repository: string;
  /** The tag, or null when the reference names a digest. */
  tag: string | null;
  /** `algorithm:encoded`, or null. */
  digest: string | null;
}

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::\d{1,5})?$/;

function invalid(s: string, why: string): IngotError {
  return new IngotError('REGISTRY_REF_INVALID', `invalid registry reference '${s}': ${why}`, {
    hint: 'write docker://HOST[:PORT]/NAME[:TAG] or docker://HOST[:PORT]/NAME@sha256:HEX, e.g. docker://127.0.0.1:5000/team/base:1.0',
    data: { ref: s },
  });
}

/** True when a digest follows the grammar, and sha256/sha512 digests have their exact hex form. */
export function isValidDigest(d: string): boolean {
  if (!DIGEST.test(d)) return false;
  const [alg, enc] = d.split(':') as [string, string];
  if (alg === 'sha256') return /^[0-9a-f]{64}$/.test(enc);
  if (alg === 'sha512') return /^[0-9a-f]{128}$/.test(enc);
  return true;
}

export function parseRegistryRef(input: string): RegistryRef {
  let s = input;
  if (s.startsWith('docker://')) s = s.slice('docker://'.length);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) throw invalid(input, 'only the docker:// transport names a registry');
  const slash = s.indexOf('/');
  if (slash <= 0) throw invalid(input, 'no registry host (the part before the first /)');
  const host = s.slice(0, slash);
  const firstIsHost = host.includes('.') || host.includes(':') || host === 'localhost' || host.startsWith('[');
  if (!firstIsHost || !HOST.test(host)) {
    throw invalid(input, `'${host}' is not a registry host (ingot has no default registry: name one with a dot, a port or localhost)`);
  }
  const port = /:(\d+)$/.exec(host.startsWith('[') ? host.slice(host.indexOf(']')) : host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw invalid(input, `port ${port} is out of range`);
  let rest = s.slice(slash + 1);
  let digest: string | null = null;
  let tag: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isValidDigest(digest)) throw invalid(input, `'${digest}' is not a digest (sha256: and 64 lowercase hex digits)`);
  }
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `'${tag}' is not a valid tag`);
  }
  if (rest === '') throw invalid(input, 'no repository name');
  for (const c of rest.split('/')) {
    if (!NAME_COMPONENT.test(c)) throw invalid(input, `repository name '${rest}' has an invalid component '${c}' (lowercase letters, digits and . _ __ - between them)`);
  }
  if (host.length + 1 + rest.length > 255) throw invalid(input, 'the name is longer than 255 characters');
  if (tag === null && digest === null) tag = 'latest';
  // NAME:TAG@DIGEST pins the digest; the tag is then only a label and is not used.
  if (digest !== null) tag = null;
  return { host, repository: rest, tag, digest };
}

export function formatRegistryRef(r: RegistryRef): string {
  return `docker://${r.host}/${r.repository}${r.digest ? `@${r.digest}` : `:${r.tag ?? 'latest'}`}`;
}

/** Hosts that get plain HTTP unless told otherwise: the loopback interface. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

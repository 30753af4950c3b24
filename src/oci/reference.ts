/**
 * Image references as skopeo writes them: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
 * `docker-archive:FILE[:TAG]` and `docker://HOST[:PORT]/NAME[:TAG|@DIGEST]`. A path may itself
 * hold colons; the tag is what follows the last colon when that text is a valid tag and holds
 * no `/`. A missing tag means: for `oci:`, the only image in the layout (or `latest` when
 * writing); for archives, the only image in the file.
 */
import { IngotError } from '../core/errors.js';

export type ImageRef =
  | { transport: 'oci'; path: string; tag: string | null }
  | { transport: 'oci-archive'; path: string; tag: string | null }
  | { transport: 'docker-archive'; path: string; tag: string | null }
  | { transport: 'docker'; /** everything after `docker://` */ reference: string };

const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** docker-archive tags are `name:tag` references (RepoTags). */
const DOCKER_ARCHIVE_TAG = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/;

function invalid(s: string, why: string): IngotError {
  return new IngotError('IMAGE_REF_INVALID', `invalid image reference '${s}': ${why}`, {
    hint: 'write oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://HOST[:PORT]/NAME[:TAG]',
    data: { ref: s },
  });
}

function splitPathTag(s: string, rest: string, tagRe: RegExp, transport: string): { path: string; tag: string | null } {
  if (transport === 'docker-archive') {
    // FILE:NAME[:TAG]: the first colon after which a valid `name[:tag]` follows.
    const parts = rest.split(':');
    for (let i = 1; i < parts.length; i++) {
      const cand = parts.slice(i).join(':');
      const p = parts.slice(0, i).join(':');
      if (p !== '' && tagRe.test(cand)) return { path: p, tag: cand.includes(':') ? cand : `${cand}:latest` };
    }
    if (rest === '') throw invalid(s, 'no file name');
    return { path: rest, tag: null };
  }
  const colon = rest.lastIndexOf(':');
  if (colon > 0) {
    const tag = rest.slice(colon + 1);
    if (!tag.includes('/')) {
      if (!tagRe.test(tag)) throw invalid(s, `'${tag}' is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
      return { path: rest.slice(0, colon), tag };
    }
  }
  if (rest === '') throw invalid(s, 'no path');
  return { path: rest, tag: null };
}

export function parseImageRef(s: string): ImageRef {
  if (s.startsWith('docker://')) {
    const reference = s.slice('docker://'.length);
    if (reference === '') throw invalid(s, 'no registry host and name after docker://');
    return { transport: 'docker', reference };
  }
  const m = /^(oci|oci-archive|docker-archive):(.*)$/s.exec(s);
  if (!m) throw invalid(s, 'unknown transport (oci:, oci-archive:, docker-archive: or docker://)');
  const transport = m[1] as 'oci' | 'oci-archive' | 'docker-archive';
  const { path, tag } = splitPathTag(s, m[2]!, transport === 'docker-archive' ? DOCKER_ARCHIVE_TAG : TAG, transport);
  if (path.includes('\0')) throw invalid(s, 'the path contains a NUL byte');
  return { transport, path, tag };
}

export function formatImageRef(r: ImageRef): string {
  if (r.transport === 'docker') return `docker://${r.reference}`;
  return `${r.transport}:${r.path}${r.tag !== null ? `:${r.tag}` : ''}`;
}

/**
 * A fast reader for apt `Packages` indexes (tens of megabytes, ~63,000 stanzas for Debian
 * main): one pass over the text with indexOf, keeping the raw value of the fields that
 * resolution and download need; relationship fields are parsed later, only for the packages a
 * resolution actually looks at.
 */
import { IngotError } from '../../core/errors.js';

/** Fields kept from each stanza (others are skipped without being copied). */
const KEEP = new Set([
  'Package',
  'Version',
  'Architecture',
  'Multi-Arch',
  'Essential',
  'Priority',
  'Section',
  'Source',
  'Installed-Size',
  'Filename',
  'Size',
  'SHA256',
  'Depends',
  'Pre-Depends',
  'Recommends',
  'Suggests',
  'Provides',
  'Conflicts',
  'Breaks',
  'Replaces',
  'Protected',
]);

export interface IndexStanza {
  /** Raw field values (continuation lines joined with a space), by field name as written. */
  fields: Record<string, string>;
}

/** Splits a Packages file into stanzas keeping the useful fields. Throws on a stanza without Package. */
export function parsePackagesIndex(text: string, label = 'Packages'): IndexStanza[] {
  const out: IndexStanza[] = [];
  const n = text.length;
  let pos = 0;
  let lineNo = 1;
  while (pos < n) {
    // Skip blank lines between stanzas.
    while (pos < n && text.charCodeAt(pos) === 10) {
      pos++;
      lineNo++;
    }
    if (pos >= n) break;
    // A plain literal, not Object.create(null): V8 keeps it in fast mode with a hidden class
    // shared by the stanzas (their fields come in the same order), about 90 MB less for Debian
    // main than dictionary-mode objects. Only KEEP's names are ever stored in it.
    const fields: Record<string, string> = {};
    const stanzaLine = lineNo;
    let lastKey: string | null = null;
    while (pos < n && text.charCodeAt(pos) !== 10) {
      let eol = text.indexOf('\n', pos);
      if (eol < 0) eol = n;
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 9) {
        // Continuation line.
        if (lastKey !== null) fields[lastKey] += ' ' + text.slice(pos, eol).trim();
      } else if (c !== 35) {
        const colon = text.indexOf(':', pos);
        if (colon < 0 || colon > eol) {
          throw new IngotError('DEB_CONTROL_INVALID', `${label}: line ${lineNo}: expected 'Field: value'`, {
            data: { line: lineNo, file: label },
          });
        }
        const key = text.slice(pos, colon);
        if (KEEP.has(key)) {
          fields[key] = text.slice(colon + 1, eol).trim();
          lastKey = key;
        } else {
          lastKey = null;
        }
      }
      pos = eol + 1;
      lineNo++;
    }
    if (fields['Package'] === undefined) {
      throw new IngotError('DEB_CONTROL_INVALID', `${label}: stanza at line ${stanzaLine} has no Package field`, {
        data: { line: stanzaLine, file: label },
      });
    }
    out.push({ fields });
  }
  return out;
}

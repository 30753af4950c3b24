/**
 * The 96-byte lead that opens every RPM file. rpm uses it only to recognise the file (magic,
 * major version 3 or 4, signature type 5); its name and architecture are never trusted.
 */
import { IngotError } from '../../core/errors.js';

export const LEAD_SIZE = 96;
export const LEAD_MAGIC = Uint8Array.of(0xed, 0xab, 0xee, 0xdb);
/** RPMSIGTYPE_HEADERSIG: the signature is a header (the only kind since rpm 3). */
const HEADERSIG = 5;

export interface RpmLead {
  major: number;
  minor: number;
  /** 0 binary, 1 source. */
  type: number;
  archnum: number;
  /** N-V-R as the builder wrote it (informational only). */
  name: string;
  osnum: number;
  signatureType: number;
}

/** True when `bytes` starts with the RPM lead magic. */
export function isRpm(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && LEAD_MAGIC.every((b, i) => bytes[i] === b);
}

function bad(msg: string, offset: number, label?: string): IngotError {
  return new IngotError('RPM_INVALID', `${label ?? 'RPM file'}: ${msg} (byte ${offset})`, {
    hint: 'the file is not an RPM package, or it is truncated',
    data: { offset },
  });
}

/** Parses and checks the lead as rpm's rpmLeadCheck does. */
export function parseLead(b: Uint8Array, label?: string): RpmLead {
  if (b.length < LEAD_SIZE) throw bad(`the file ends inside the lead (${b.length} of ${LEAD_SIZE} bytes)`, b.length, label);
  if (!isRpm(b)) throw bad('bad lead magic (expected ed ab ee db): not an RPM package', 0, label);
  const dv = new DataView(b.buffer, b.byteOffset, LEAD_SIZE);
  const nameField = b.subarray(10, 76);
  const nul = nameField.indexOf(0);
  const lead: RpmLead = {
    major: b[4]!,
    minor: b[5]!,
    type: dv.getUint16(6),
    archnum: dv.getUint16(8),
    name: new TextDecoder('latin1').decode(nul < 0 ? nameField : nameField.subarray(0, nul)),
    osnum: dv.getUint16(76),
    signatureType: dv.getUint16(78),
  };
  if (lead.signatureType !== HEADERSIG) throw bad(`illegal signature type ${lead.signatureType} (expected ${HEADERSIG})`, 78, label);
  if (lead.major < 3 || lead.major > 4) throw bad(`unsupported RPM package version ${lead.major}`, 4, label);
  return lead;
}

/**
 * The structure of an RPM file: `lead (96 B) | signature header | zero padding to 8 |
 * main header | payload`. The signature header is read with rpm's limits (32 entries, 64 MiB),
 * the main header with its own (65535 entries, 256 MiB) and must be one immutable region, as
 * rpm 4.18 reads package files (lib/package.c). The payload is everything after the main
 * header; it is not read here.
 */
import { IngotError } from '../../core/errors.js';
import { ChunkReader } from '../archive/cpio.js';
import { headerSize, parseHeader, type ParseHeaderOptions, type RpmHeader } from './header.js';
import { LEAD_SIZE, parseLead, type RpmLead } from './lead.js';
import { HEADER_IMMUTABLE, HEADER_SIGNATURES } from './tags.js';

export interface RpmHead {
  lead: RpmLead;
  signature: RpmHeader;
  header: RpmHeader;
  /** File offsets: signature header start (96) and end, main header start and end (= payload start). */
  signatureStart: number;
  signatureEnd: number;
  headerStart: number;
  headerEnd: number;
}

export interface ReadRpmOptions {
  /** What is read, for messages (usually the file name). */
  label?: string;
}

function truncated(what: string, offset: number, label?: string): IngotError {
  return new IngotError('RPM_INVALID', `${label ?? 'RPM file'}: the file ends inside the ${what} (byte ${offset})`, {
    hint: 'the package is truncated; fetch it again',
    data: { offset },
  });
}

async function readHeaderFrom(r: ChunkReader, opts: ParseHeaderOptions, what: string, label?: string): Promise<RpmHeader> {
  const start = r.offset;
  const intro = await r.read(16);
  if (intro.length < 16) throw truncated(`${what} intro`, r.offset, label);
  const size = headerSize(intro, { ...opts, base: start });
  const rest = await r.read(size - 16);
  if (rest.length < size - 16) throw truncated(what, r.offset, label);
  const bytes = new Uint8Array(size);
  bytes.set(intro);
  bytes.set(rest, 16);
  return parseHeader(bytes, { ...opts, base: start });
}

/** Reads the lead and both headers from `r`, leaving it at the first payload byte. */
export async function readRpmHead(r: ChunkReader, opts: ReadRpmOptions = {}): Promise<RpmHead> {
  const label = opts.label;
  const leadBytes = await r.read(LEAD_SIZE);
  const lead = parseLead(leadBytes, label);
  const signatureStart = r.offset;
  const signature = await readHeaderFrom(
    r,
    { regionTag: HEADER_SIGNATURES, label: `${label ?? 'RPM file'}: signature header` },
    'signature header',
    label,
  );
  const signatureEnd = r.offset;
  const pad = (8 - (signatureEnd % 8)) % 8;
  if (pad && (await r.read(pad)).length < pad) throw truncated('signature header padding', r.offset, label);
  const headerStart = r.offset;
  const header = await readHeaderFrom(
    r,
    { regionTag: HEADER_IMMUTABLE, exact: true, requireRegion: true, label: `${label ?? 'RPM file'}: main header` },
    'main header',
    label,
  );
  return { lead, signature, header, signatureStart, signatureEnd, headerStart, headerEnd: r.offset };
}

/**
 * Reads an RPM from a stream of chunks: the head is parsed, `payload` yields the (compressed)
 * payload bytes that follow. Read `payload` at most once.
 */
export async function readRpm(source: AsyncIterable<Uint8Array>, opts: ReadRpmOptions = {}): Promise<{ head: RpmHead; payload: AsyncIterable<Uint8Array>; close: () => Promise<void> }> {
  const r = new ChunkReader(source);
  try {
    const head = await readRpmHead(r, opts);
    return { head, payload: r.rest(), close: () => r.close() };
  } catch (e) {
    await r.close();
    throw e;
  }
}

/** The buffered form: parses an RPM held in memory; `payload` is a view of the payload bytes. */
export async function parseRpm(bytes: Uint8Array, opts: ReadRpmOptions = {}): Promise<{ head: RpmHead; payload: Uint8Array }> {
  const { head } = await readRpm(
    (async function* () {
      yield bytes;
    })(),
    opts,
  );
  return { head, payload: bytes.subarray(head.headerEnd) };
}

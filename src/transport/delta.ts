/**
 * OSTree static deltas (../shared/specs/ostree-format.md §3.3): the format, shared by the
 * generator (delta-generate.ts) and the applier (delta-apply.ts).
 *
 * Interface for pullers (re-exported here):
 *
 *   parseSuperblock(bytes, what) -> Superblock
 *     Parses a `superblock` file (also a signed one: `OSTSGNDT` wrapper, its signatures in
 *     `signatures`). Validates sizes, checksums and the embedded commit (its sha256 must be
 *     `to`). Throws DELTA_INVALID.
 *   superblock.parts[i]: { checksum (hex sha256 of the part FILE), size (bytes of the part file),
 *     usize, objects: [{type, checksum}] } — a part whose objects are all present can be skipped.
 *   superblock.fallbacks: objects to fetch one by one (as normal objects) after the parts.
 *   superblock.inlineParts: part index -> part file bytes carried inside the superblock.
 *   superblock.detachedMetadata: the target commit's `.commitmeta` bytes (signatures), or null.
 *
 *   deltaRelDir({from, to}), superblockRelPath(d), partRelPath(d, i): paths under the repo URL.
 *
 *   writeDeltaCommit(repo, stagingDir, sb) — stages the target commit (and its detached
 *     metadata if the superblock carries it) after checking the commit hashes to `to`. Verify
 *     signatures (repo/sign.ts verifyCommitSignature(sb.commit, sb.detachedMetadata, ...))
 *     BEFORE applying any part.
 *   applyDeltaPart(repo, stagingDir, sb, partIndex, partBytes) -> { objects, written }
 *     Verifies the part file (size and sha256 against the header), decompresses it (none or
 *     xz), runs its opcodes, and stages every object into `stagingDir` (a Transaction's `dir`),
 *     each one checksum-verified before it is staged; objects already in the repository are
 *     skipped. Nothing becomes visible until the caller's `Transaction.publish()`. Needs the
 *     `from` commit's objects for parts that read from existing objects (`r`/`w` opcodes).
 *     bsdiff (`B`) is not supported: DELTA_UNSUPPORTED-like failure reported as DELTA_INVALID
 *     with a hint to pull without deltas.
 *   applyLocalDelta(repo, deltaDir, opts) — applies a whole delta from a directory (tests, local
 *     use): superblock, every part, then publishes; fallbacks must already be present.
 */
export { parseSuperblock, superblockRelPath, partRelPath, type Superblock, type PartHeader, type FallbackEntry, SUPERBLOCK_TYPE, PART_PAYLOAD_TYPE } from './delta-format.js';
export { deltaRelDir, deltaNameString, parseDeltaName, listStaticDeltas, type DeltaName, type DeltaEnds } from '../repo/delta-index.js';
export { applyDeltaPart, writeDeltaCommit, applyLocalDelta, type ApplyPartResult } from './delta-apply.js';
export { generateStaticDelta, type GenerateDeltaOptions, type GenerateDeltaResult } from './delta-generate.js';

/** ingot's library API. The CLI is a thin layer over these functions. */
export { IngotError, isIngotError } from './core/errors.js';
export { ERROR_CODES, type ErrorCode } from './core/codes.js';
export type { Checksum, ObjectType } from './core/checksum.js';
export * as gvariant from './codecs/gvariant/index.js';
export * as ostreeObjects from './codecs/ostree/objects.js';
export { KeyFile } from './codecs/ostree/keyfile.js';
export { Repo, type RepoMode } from './repo/repo.js';
export { writeCommit, type CommitOptions, type CommitResult } from './repo/commit.js';
export { checkout, type CheckoutOptions, type CheckoutResult } from './repo/checkout.js';
export { ls, cat, log, show, diff, revParse, updateRefs } from './repo/inspect.js';
export { fsck, type FsckResult } from './repo/fsck.js';
export { prune, type PruneResult } from './repo/prune.js';
export { updateSummary, readSummary, decodeSummary } from './repo/summary.js';
export { runDemo } from './cli/commands/demo.js';

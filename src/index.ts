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
export { vercmp } from './codecs/version/index.js';
export type { PackageInfo, PackageFile, Dependency, DepAtom } from './sources/package.js';
export { readPackageInfo, listPackageContents } from './sources/package-file.js';
export { loadRepos, type RepoSpec, type LoadedRepos } from './sources/repos.js';
export { resolve, checkSolution, Universe } from './sources/resolve/index.js';
export { PackageCache } from './sources/cache.js';
export { loadManifest } from './compose/manifest.js';
export { composeTree, type ComposeTreeOptions, type ComposeTreeResult } from './compose/tree.js';
export { readInventory, diffInventories } from './compose/inventory.js';
// delivery (issue 5): serve, sign, pull, static deltas
// hosts (issue 6): sysroot
// images (issue 7): OCI
// inventory (issue 8): inventories, SBOMs, advisories, scan, index

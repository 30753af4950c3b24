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
export { pull, type PullOptions, type PullResult, type PullRefResult, type PullProgress, type DryRunReport } from './transport/pull.js';
export { addRemote, listRemotes, readRemote, deleteRemote, remoteSignKeys, type RemoteConfig, type AddRemoteOptions } from './repo/remotes.js';
export {
  generateKeyPair,
  writeKeyPair,
  readSecretKeysFile,
  readPublicKeysFile,
  parsePublicKey,
  signCommit,
  signSummary,
  verifyCommitSignature,
  verifySummarySignature,
  verifyRepoCommit,
  verifyRepoSummary,
  type SignKeys,
  type SecretKey,
} from './repo/sign.js';
export { serveRepo, type ServeOptions, type RepoServer } from './transport/serve.js';
export {
  generateStaticDelta,
  parseSuperblock,
  applyDeltaPart,
  applyLocalDelta,
  writeDeltaCommit,
  listStaticDeltas,
  type Superblock,
  type GenerateDeltaOptions,
} from './transport/delta.js';
// hosts (issue 6): sysroot
export { initFs, osInit, loadSysroot, mergeDeployment, type Deployment, type SysrootState } from './sysroot/layout.js';
export { deploy, type DeployOptions, type DeployResult } from './sysroot/deploy.js';
export { rollback, undeploy, pin, kargs as deploymentKargs, cleanup as cleanupSysroot, configDiff } from './sysroot/ops.js';
export { sysrootStatus, type SysrootStatus, type DeploymentStatus } from './sysroot/status.js';
export { diffEtc, mergeEtc, type EtcChange, type EtcConflictPolicy } from './sysroot/etc-merge.js';
export { upgrade as upgradeSysroot, type UpgradeResult } from './cli/commands/admin/upgrade.js';
// images (issue 7): OCI
export {
  openRegistrySource,
  openRegistrySink,
  parseRegistryRef,
  formatRegistryRef,
  copyImage,
  RegistrySource,
  RegistrySink,
  type RegistryRef,
  type RegistryOptions,
  type Credentials,
  type CopyOptions,
  type CopyResult,
  type SinkStats,
} from './oci/registry/index.js';
export type { Descriptor, ImageSource, ImageSink, StoredManifest } from './oci/image.js';
export { parseImageRef, formatImageRef, type ImageRef } from './oci/reference.js';
export { openImageSource, openImageSink } from './oci/transports.js';
export { buildImage, type BuildImageOptions, type BuildImageResult, type ContainerSettings } from './oci/build.js';
export { importImage, type ImportImageOptions, type ImportImageResult } from './oci/import.js';
export { inspectImage, type ImageInspection } from './oci/inspect.js';
export { planGroups } from './oci/chunking.js';
// inventory (issue 8): inventories, SBOMs, advisories, scan, index
export { extractInventory, readPackageDatabase, buildInventory } from './inventory/extract.js';
export { directoryReader, commitReader, collectedReader, type TreeReader } from './inventory/tree.js';
export { collectLayer, inventoryFromLayers, mergeLayers } from './inventory/layers.js';
export { readRpmdbSqlite, readRpmdbBdb, readRpmdbNdb } from './inventory/rpmdb.js';
export { readDpkgStatus, readDpkgStatusD } from './inventory/dpkg.js';
export { listDeployments, findDeployment } from './inventory/deployments.js';
export { purlOf, parseOsRelease, distroKey } from './inventory/purl.js';
export { sbomDocument, spdxDocument, cyclonedxDocument, type SbomFormat } from './inventory/sbom.js';
export { parseAdvisories, parseOsv, parseDebianTracker, parseUpdateinfo, type Advisory, type Severity } from './inventory/advisories.js';
export { AdvisoryDb, syncAdvisories } from './inventory/advisory-db.js';
export { scanInventory, scanTarget, type Finding, type ScanResult } from './inventory/scan.js';
export { matchEntry, inRange } from './inventory/match.js';
export { FleetIndex, parseQuery } from './inventory/fleet.js';
export { openSqlite, openPostgres } from './platform/postgres.js';
export type { InstalledPackage, TargetInventory, Target, TargetIdentity } from './inventory/types.js';
export { resolveTarget } from './cli/targets.js';

/**
 * The registry of stable error codes. A code, once released, keeps its meaning forever and is
 * never reused; docs/errors.md lists them. `exit` is the process exit status the CLI uses.
 *
 * Exit statuses: 0 success; 1 the operation failed on its input or environment; 2 usage
 * (bad arguments); 3 integrity (corruption found: fsck, checksum or signature mismatch);
 * 4 busy (a lock is held); 70 internal error (a bug in ingot).
 */
export const ERROR_CODES = {
  // usage
  USAGE: { exit: 2, summary: 'The command line is invalid (unknown option, missing argument).' },
  INVALID_ARGUMENT: { exit: 2, summary: 'An argument has an invalid value.' },
  // repository
  REPO_NOT_FOUND: { exit: 1, summary: 'The path is not an OSTree repository (no config or objects/).' },
  REPO_CONFIG_INVALID: { exit: 1, summary: 'The repository config is missing, unreadable or has an unknown mode.' },
  REPO_EXISTS: { exit: 1, summary: 'init was asked to create a repository where a different one exists.' },
  REPO_MODE_UNSUPPORTED: { exit: 1, summary: 'The operation does not support this repository mode.' },
  REF_INVALID: { exit: 2, summary: 'A ref name does not follow the grammar of OSTree refs.' },
  REF_NOT_FOUND: { exit: 1, summary: 'No ref or commit matches the given name.' },
  REF_AMBIGUOUS: { exit: 1, summary: 'A partial checksum matches several commits.' },
  OBJECT_MISSING: { exit: 3, summary: 'An object that a commit reaches is not in the repository.' },
  OBJECT_CORRUPT: { exit: 3, summary: 'An object does not hash to its name or does not parse.' },
  OBJECT_INVALID: { exit: 3, summary: 'An object parses but breaks a structural rule (bad name, bad mode).' },
  GVARIANT_INVALID: { exit: 3, summary: 'Serialized GVariant data is malformed for its type.' },
  DEFLATE_INVALID: { exit: 3, summary: 'Compressed content of an archive object is truncated or corrupt.' },
  PATH_NOT_FOUND: { exit: 1, summary: 'A path does not exist in the commit or on disk.' },
  PATH_INVALID: { exit: 2, summary: 'A path is not acceptable (escapes the root, not a directory, ...).' },
  UNSUPPORTED_FILE_TYPE: { exit: 1, summary: 'The tree holds a device node, socket or FIFO (use --skip-special-files).' },
  CHECKOUT_EXISTS: { exit: 1, summary: 'The checkout destination exists (use --union to merge into it).' },
  HARDLINK_REQUIRED: { exit: 1, summary: '--require-hardlinks was given and a file could not be hardlinked.' },
  LOCK_BUSY: { exit: 4, summary: 'The repository lock is held by another process past the timeout.' },
  FSCK_FAILED: { exit: 3, summary: 'fsck found corrupt or missing objects.' },
  IO_ERROR: { exit: 1, summary: 'A file system operation failed (permissions, disk full, ...).' },
  FAILPOINT: { exit: 1, summary: 'A failpoint named in INGOT_FAILPOINT fired (tests only).' },
  NETWORK_ERROR: { exit: 1, summary: 'A download failed: unreachable server, HTTP error, truncated or oversized response.' },
  NOT_FOUND_REMOTE: { exit: 1, summary: 'The server answered 404 for a file that must exist.' },
  DIGEST_MISMATCH: { exit: 3, summary: 'Downloaded or cached data does not match its expected size or digest.' },
  VERSION_INVALID: { exit: 1, summary: 'A version string is not valid for its format (an empty rpm EVR; a dpkg version dpkg rejects).' },
  VERSION_RELATION_INVALID: { exit: 1, summary: 'A dependency relation operator is not one the package format knows.' },
  VERCMP_INPUT_INVALID: { exit: 1, summary: 'A line of `pkg vercmp --stdin` input is not two tab-separated versions.' },
  AR_INVALID: { exit: 1, summary: 'An ar archive (a .deb) is malformed: bad magic, bad member header, or truncated.' },
  TAR_INVALID: { exit: 1, summary: 'A tar archive is malformed: bad header checksum or number field, unsupported entry type, or truncated.' },
  DECOMPRESS_FAILED: { exit: 1, summary: 'Compressed data (gzip, xz, lzma, zstd, bzip2) is corrupt or truncated, or expands past its limit.' },
  DEB_INVALID: { exit: 1, summary: 'A file is not a Debian binary package as dpkg-deb reads it (debian-binary, member names, order or compression).' },
  DEB_CONTROL_INVALID: { exit: 1, summary: 'A Debian control file breaks the deb822 syntax or a field rule (mandatory field, version, relation).' },
  ARCHIVE_PATH_UNSAFE: { exit: 1, summary: 'An archive member name or link would leave the target root (absolute, .., or through a symlink of the same archive).' },
  ARCHIVE_ENTRY_UNSUPPORTED: { exit: 1, summary: 'An archive member is a device node or FIFO, which extraction refuses unless asked to record them.' },
  ARCHIVE_CONFLICT: { exit: 1, summary: 'An archive member would replace a directory with a non-directory, or repeats a path in a conflicting way.' },
  ARCHIVE_LIMIT: { exit: 1, summary: 'An archive exceeds a configured bound (entry count, entry size or total size).' },
  RESOLVE_REQUEST_INVALID: { exit: 2, summary: 'A requested package is not a name with an optional version constraint (`bash`, `bash >= 5`).' },
  RESOLVE_UNSATISFIABLE: { exit: 1, summary: 'No package set satisfies the request: missing providers, conflicts, or one version per name.' },
  RESOLVE_LIMIT: { exit: 1, summary: 'Dependency resolution gave up after its conflict budget without an answer.' },
  RPM_INVALID: { exit: 1, summary: 'A file is not an RPM package as rpm reads it: bad lead or header, an index entry, count or offset out of range, a bad region trailer, inconsistent tags, or truncated.' },
  CPIO_INVALID: { exit: 1, summary: 'An RPM payload (cpio archive) is malformed or does not match the package header (unknown, missing or repeated member, wrong size).' },
  RPM_DIGEST_MISMATCH: { exit: 3, summary: 'A digest or size an RPM records (header SHA256/SHA1, payload digest, MD5, a file digest) does not match its bytes.' },
  RPM_SIGNATURE_INVALID: { exit: 3, summary: 'An RPM OpenPGP signature does not verify, or is made by a key that is not in the keyring.' },
  RPM_UNSIGNED: { exit: 3, summary: 'A signature was required but the RPM package carries none.' },
  KEYRING_INVALID: { exit: 1, summary: 'A keyring file does not hold readable OpenPGP public keys.' },
  RICH_DEP_INVALID: { exit: 1, summary: 'An RPM rich (boolean) dependency does not parse.' },
  PACKAGE_FORMAT_UNKNOWN: { exit: 1, summary: 'A file is neither an RPM package (lead magic ed ab ee db) nor a Debian package (!<arch>).' },
  REPO_METADATA_INVALID: { exit: 1, summary: 'Package repository metadata (Release, repomd.xml, an index) is malformed, expired or inconsistent.' },
  SIGNATURE_INVALID: { exit: 3, summary: 'Repository metadata is unsigned or its OpenPGP signature does not verify against the keyring.' },
  SANDBOX_FAILED: { exit: 1, summary: 'A program could not be started inside the bubblewrap sandbox.' },
  SCRIPT_FAILED: { exit: 1, summary: 'A package script or postprocess script exited non-zero during a compose.' },
  MANIFEST_INVALID: { exit: 1, summary: 'A compose manifest does not parse or breaks the schema (unknown key, wrong type, missing file); the message names file, line and column.' },
  MANIFEST_INCLUDE_CYCLE: { exit: 1, summary: 'Compose manifests include each other in a cycle.' },
  LOCKFILE_INVALID: { exit: 1, summary: 'A compose lockfile does not parse or breaks its schema.' },
  LOCKFILE_MISMATCH: { exit: 1, summary: 'The repositories or the manifest no longer match a lockfile: a locked package is missing or its digest changed, or the locked set no longer satisfies the manifest.' },
  INVENTORY_MISSING: { exit: 1, summary: 'A commit carries no package inventory (ingot.packages metadata): it was not made by ingot compose.' },
  INVENTORY_INVALID: { exit: 1, summary: 'A commit\'s package inventory metadata has the wrong GVariant type or invalid values.' },
  COMPOSE_TREE_INVALID: { exit: 1, summary: 'The composed tree cannot be made deployable (/etc and /usr/etc both present, a file where a directory must be).' },
  FILE_CONFLICT: { exit: 1, summary: 'Two packages ship different content at one path.' },
  PKGDB_INVALID: { exit: 1, summary: 'A package cannot be recorded in the tree\'s package database: a source RPM, a package given twice, or a path or name the database format cannot hold.' },
  // delivery, pull side: remotes, fetch, pull (issue 5). Add codes below this line.
  // delivery, server side: serve, keys and signatures, static deltas (issue 5). Add codes below this line.
  // hosts: sysroot, deployments (issue 6). Add codes below this line.
  // images: OCI build, layout, archives, import (issue 7). Add codes below this line.
  // images: registry client (issue 7). Add codes below this line.
  // inventory: package databases, SBOMs, advisories, scan, index (issue 8). Add codes below this line.
  INTERNAL: { exit: 70, summary: 'A bug in ingot: please report it with the message.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

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
  INTERNAL: { exit: 70, summary: 'A bug in ingot: please report it with the message.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * One entry point for a package file of either family: the format is told by the first bytes
 * (the RPM lead magic `ed ab ee db`, the ar magic `!<arch>\n` of a .deb), never by the name.
 */
import * as fs from 'node:fs';
import { IngotError, ioError } from '../core/errors.js';
import { isRpm } from '../codecs/rpm/lead.js';
import type { PackageFamily, PackageFile, PackageInfo } from './package.js';
import { listRpmContents, readRpmInfo } from './rpm-file.js';

const AR_MAGIC = '!<arch>\n';

/** The family of the package file at `path`, from its magic bytes. */
export function detectPackageFormat(path: string): PackageFamily {
  const head = Buffer.alloc(8);
  let n: number;
  try {
    const fd = fs.openSync(path, 'r');
    try {
      n = fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw ioError(e, 'cannot read', path);
  }
  const bytes = head.subarray(0, n);
  if (isRpm(bytes)) return 'rpm';
  if (bytes.toString('latin1') === AR_MAGIC) return 'deb';
  throw new IngotError('PACKAGE_FORMAT_UNKNOWN', `'${path}' is neither an RPM nor a Debian package`, {
    hint: 'RPM files start with ed ab ee db, .deb files with !<arch>',
    data: { path, magic: bytes.toString('hex') },
  });
}

/** The package's metadata, without reading its payload. */
export async function readPackageInfo(path: string): Promise<PackageInfo> {
  if (detectPackageFormat(path) === 'rpm') return readRpmInfo(path);
  const { readDebInfo } = await import('./deb-file.js');
  return readDebInfo(path);
}

/** The package's files: the RPM header's file list, or the .deb's data.tar members. */
export async function listPackageContents(path: string): Promise<PackageFile[]> {
  if (detectPackageFormat(path) === 'rpm') return listRpmContents(path);
  const { listDebContents } = await import('./deb-file.js');
  return listDebContents(path);
}

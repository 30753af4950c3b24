import * as fs from 'node:fs';
import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import type { ImageSink, ImageSource } from '../../../oci/image.js';
import { openImageSink, openImageSource } from '../../../oci/transports.js';
import {
  copyImage,
  openRegistrySink,
  openRegistrySource,
  parseCredentials,
  parsePlatform,
  parseRegistryRef,
  type RegistryOptions,
  type RegistryRef,
  type SinkStats,
} from '../../../oci/registry/index.js';
import { action, humanBytes, parseIntOption } from '../../util.js';

interface Opts {
  creds?: string;
  srcCreds?: string;
  destCreds?: string;
  authfile?: string;
  tlsVerify: string;
  plainHttp?: boolean;
  https?: boolean;
  retries?: number;
  platform?: string;
  chunkSize?: number;
  chunkThreshold?: number;
  digestfile?: string;
}

function parseBool(v: string, what: string): boolean {
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new IngotError('INVALID_ARGUMENT', `${what} must be true or false, got '${v}'`);
}

function registryOptions(opts: Opts, creds: string | undefined, what: string): RegistryOptions {
  if (opts.plainHttp && opts.https) throw new IngotError('USAGE', '--plain-http and --https exclude each other');
  return {
    ...(creds !== undefined && { credentials: parseCredentials(creds, what) }),
    ...(opts.authfile !== undefined && { authFile: opts.authfile }),
    tlsVerify: parseBool(opts.tlsVerify, '--tls-verify'),
    ...(opts.plainHttp && { plainHttp: true }),
    ...(opts.https && { plainHttp: false }),
    ...(opts.retries !== undefined && { retries: opts.retries }),
    ...(opts.platform !== undefined && { platform: parsePlatform(opts.platform) }),
    ...(opts.chunkSize !== undefined && { chunkSize: opts.chunkSize }),
    ...(opts.chunkThreshold !== undefined && { chunkThreshold: opts.chunkThreshold }),
  };
}

const isRegistry = (s: string): boolean => s.startsWith('docker://');

export function register(image: Command): void {
  image
    .command('copy')
    .description('copy an image between registries, OCI layouts and archives (blobs the destination has are not sent)')
    .argument('<src>', 'source: docker://HOST[:PORT]/NAME[:TAG|@DIGEST], oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE')
    .argument('<dest>', 'destination, in the same forms')
    .option('--creds <user:password>', 'credentials for both registries')
    .option('--src-creds <user:password>', 'credentials for the source registry')
    .option('--dest-creds <user:password>', 'credentials for the destination registry')
    .option('--authfile <file>', 'credentials file (auth.json or Docker config.json format) instead of the default search')
    .option('--tls-verify <bool>', 'verify registry TLS certificates', 'true')
    .option('--plain-http', 'speak plain HTTP to the registries (the default for loopback hosts only)')
    .option('--https', 'speak HTTPS even to loopback hosts')
    .option('--retries <n>', 'repeat a failed request up to N times (default 4)', parseIntOption('--retries'))
    .option('--platform <os/arch[/variant]>', 'platform to choose from an image index (default: linux and this machine)')
    .option('--chunk-threshold <bytes>', 'upload blobs larger than this in chunks (default 67108864)', parseIntOption('--chunk-threshold'))
    .option('--chunk-size <bytes>', 'size of each uploaded chunk (default 16777216)', parseIntOption('--chunk-size'))
    .option('--digestfile <file>', 'write the manifest digest to this file after a successful copy')
    .action(
      action(async (src: string, dest: string, opts: Opts) => {
        if (opts.retries !== undefined && (opts.retries < 0 || opts.retries > 20)) throw new IngotError('INVALID_ARGUMENT', '--retries must be between 0 and 20');
        for (const [k, v] of [['--chunk-size', opts.chunkSize], ['--chunk-threshold', opts.chunkThreshold]] as const) {
          if (v !== undefined && v < 1) throw new IngotError('INVALID_ARGUMENT', `${k} must be a positive number of bytes`);
        }
        const srcOpts = registryOptions(opts, opts.srcCreds ?? opts.creds, '--src-creds');
        const destOpts = registryOptions(opts, opts.destCreds ?? opts.creds, '--dest-creds');
        let srcRef: RegistryRef | null = null;
        let source: ImageSource;
        if (isRegistry(src)) {
          srcRef = parseRegistryRef(src);
          source = await openRegistrySource(srcRef, srcOpts);
        } else source = await openImageSource(src);
        let sink: ImageSink;
        let stats: SinkStats | null = null;
        try {
          if (isRegistry(dest)) {
            const destRef = parseRegistryRef(dest);
            // Blobs of another repository of the same registry are mounted, not uploaded.
            const mountFrom = srcRef && srcRef.host === destRef.host && srcRef.repository !== destRef.repository ? [srcRef.repository] : [];
            const s = await openRegistrySink(destRef, { ...destOpts, mountFrom });
            stats = s.stats;
            sink = s;
          } else sink = await openImageSink(dest);
          const r = await copyImage(source, sink, { tag: null });
          if (opts.digestfile !== undefined) fs.writeFileSync(opts.digestfile, r.digest);
          const data = {
            source: src,
            destination: dest,
            digest: r.digest,
            mediaType: r.mediaType,
            blobs: r.blobs,
            present: r.present + (stats?.present ?? 0),
            uploaded: stats ? stats.uploaded : r.transferred,
            mounted: stats?.mounted ?? 0,
            bytesUploaded: stats ? stats.bytesUploaded : r.bytesTransferred,
          };
          return {
            data,
            text: (d: typeof data) =>
              `${d.digest}\n  ${d.blobs} blobs: ${d.uploaded} copied (${humanBytes(d.bytesUploaded)}), ${d.mounted} mounted, ${d.present} already present`,
          };
        } finally {
          await source.close();
        }
      }),
    );
}

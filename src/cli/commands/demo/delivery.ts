/**
 * The demo's delivery steps: sign the composed commit with a fresh ed25519 key, generate a
 * static delta between the two composed commits, sign the summary, serve the repository on
 * loopback (a random port), and pull it into a second repository with signature checking:
 * once with the publisher's key (accepted), once with another key (refused, nothing visible).
 */
import * as path from 'node:path';
import { isIngotError } from '../../../core/errors.js';
import { toChecksum } from '../../../core/checksum.js';
import { Repo } from '../../../repo/repo.js';
import { fsck } from '../../../repo/fsck.js';
import { updateSummary } from '../../../repo/summary.js';
import { encodePublicKey, generateKeyPair, signCommit, writeKeyPair } from '../../../repo/sign.js';
import { addRemote } from '../../../repo/remotes.js';
import { serveRepo } from '../../../transport/serve.js';
import { generateStaticDelta } from '../../../transport/delta.js';
import { pull } from '../../../transport/pull.js';
import type { DemoPart } from './context.js';

export const deliveryPart: DemoPart = async (ctx) => {
  const { repo, step, dir } = ctx;
  const key = generateKeyPair();
  const files = writeKeyPair(path.join(dir, 'keys', 'release'), key);
  step(`ingot keygen: ed25519 key pair keys/release.secret and keys/release.pub (key id ${files.keyId})`);

  const os2 = ctx.commits.os2;
  await signCommit(repo, toChecksum(os2), [key]);
  step(`ingot sign: ${os2.slice(0, 12)} now carries an ostree.sign.ed25519 signature in its detached metadata`);

  const delta = await generateStaticDelta(repo, os2, { from: ctx.commits.os1, updateSummary: false });
  await updateSummary(repo, undefined, { signKeys: [key] });
  step(
    `ingot static-delta generate --from ${ctx.commits.os1.slice(0, 12)} --to ${os2.slice(0, 12)}: ${delta.parts.length} part(s), ` +
      `${delta.parts.reduce((a, p) => a + p.objects, 0)} objects, ${delta.totalSize} bytes; summary written and signed (summary.sig)`,
  );

  const server = await serveRepo(repo, { signKeys: [key] });
  try {
    step(`ingot serve: serving repo/ at ${server.url} (loopback, random port)`);

    const clientPath = path.join(dir, 'client');
    const client = Repo.init(clientPath, 'bare-user');
    addRemote(client, 'demo', server.url, { signVerify: true, signVerifySummary: true, verificationKey: encodePublicKey(key.publicKey), force: true });
    const r = await pull(client, 'demo', [ctx.ref]);
    const ref = r.refs[0]!;
    step(
      `ingot pull into client/ (bare-user, sign-verify on): ${ctx.ref} = ${ref.commit.slice(0, 12)}, signature verified with key ${ref.signedBy ?? '(none)'}; ` +
        `${r.objects} objects, ${r.bytes} bytes in ${r.requests} requests`,
    );
    const f = await fsck(client);
    step(`fsck of client/: ${f.commits} commits, ${f.objects} objects, ${f.problems.length === 0 ? 'no problems' : `${f.problems.length} PROBLEMS`}`);

    const other = generateKeyPair();
    const strangerPath = path.join(dir, 'client-wrong-key');
    const stranger = Repo.init(strangerPath, 'bare-user');
    addRemote(stranger, 'demo', server.url, { signVerify: true, verificationKey: encodePublicKey(other.publicKey), force: true });
    try {
      await pull(stranger, 'demo', [ctx.ref]);
      step('pull trusting another key: ACCEPTED (unexpected)');
    } catch (e) {
      if (!isIngotError(e)) throw e;
      const visible = stranger.readRef(ctx.ref, 'demo');
      step(`pull into client-wrong-key/ trusting another key: refused with ${e.code}; ref ${visible ? 'VISIBLE' : 'not written'}`);
    }
  } finally {
    await server.close();
  }
};

/**
 * The demo's hosts part: the first composed commit deployed into a scratch sysroot, a local
 * /etc edit, the package diff of the pending upgrade, the upgrade to the second composed
 * commit (the edit survives), a rollback, and `ingot admin status` after each step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DemoPart } from './context.js';
import { addRemote } from '../../../repo/remotes.js';
import { pull } from '../../../transport/pull.js';
import { deploy, originFor } from '../../../sysroot/deploy.js';
import { deploymentDir, initFs, loadSysroot, openSysrootRepo, osInit } from '../../../sysroot/layout.js';
import { configDiff, rollback } from '../../../sysroot/ops.js';
import { sysrootStatus } from '../../../sysroot/status.js';
import { statusText } from '../admin/common.js';
import { upgrade } from '../admin/upgrade.js';
import { dbDiffText } from '../db/diff.js';

const STATEROOT = 'demo';

export const hostsPart: DemoPart = async (ctx) => {
  const root = path.join(ctx.dir, 'sysroot');
  const showStatus = (): void => {
    const s = loadSysroot(root);
    for (const l of statusText(sysrootStatus(s, openSysrootRepo(root))).trimEnd().split('\n')) ctx.out(`      ${l}`);
  };
  initFs(root);
  osInit(root, STATEROOT);
  const sysrepo = openSysrootRepo(root);
  // The sysroot's bare repository pulls from the demo's archive repository like any remote.
  addRemote(sysrepo, 'demo', `file://${ctx.repo.path}`);
  await pull(sysrepo, 'demo', [ctx.commits.os1]);
  const refspec = `demo:${ctx.ref}`;
  const d1 = await deploy(root, ctx.commits.os1, { stateroot: STATEROOT, origin: originFor(refspec), karg: ['quiet'] });
  ctx.step(
    `ingot admin init-fs + os-init ${STATEROOT}, pulled ${ctx.commits.os1.slice(0, 12)} into sysroot/ostree/repo (bare) and deployed it: ${d1.deployment.path.replace(/^ostree\/deploy\//, '')}, boot entry in boot/loader.${d1.write.bootversion}; ingot admin status:`,
  );
  showStatus();

  const dir1 = deploymentDir(root, { stateroot: STATEROOT, checksum: d1.deployment.checksum, serial: d1.deployment.serial });
  const conf = path.join(dir1, 'etc/demo.conf');
  fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('greeting=hello', 'greeting=hello from this host'));
  const letter = { modified: 'M', removed: 'D', added: 'A' } as const;
  const cd = configDiff(root, STATEROOT).changes.map((c) => `${letter[c.kind]} ${c.path}`);
  ctx.step(`edited the deployment's /etc/demo.conf (greeting=hello from this host); ingot admin config-diff: ${cd.join(', ') || 'no changes'}`);

  const check = await upgrade({ sysroot: root, check: true });
  ctx.step(`ingot admin upgrade --check (fetches the commit object only) shows what the upgrade to ${check.to.slice(0, 12)} changes:`);
  if (check.diff) for (const l of dbDiffText(check.diff).split('\n')) ctx.out(`      ${l}`);

  const up = await upgrade({ sysroot: root });
  const dir2 = deploymentDir(root, { stateroot: STATEROOT, checksum: up.to, serial: up.deployed!.deployment.serial });
  const kept = fs.readFileSync(path.join(dir2, 'etc/demo.conf'), 'utf8').includes('greeting=hello from this host');
  const e = up.deployed!.etc!;
  ctx.step(
    `ingot admin upgrade: pulled ${refspec} and deployed ${up.to.slice(0, 12)} as the new default (/etc merge: ${e.modified} modified, ${e.removed} removed, ${e.added} added); the edit ${kept ? 'survived' : 'WAS LOST'} in its /etc/demo.conf; ingot admin status:`,
  );
  showStatus();

  const rb = await rollback(root);
  ctx.step(`ingot admin rollback: ${rb.deployment.slice(0, 12)} is the default boot entry again (one swap of boot/loader -> loader.${rb.write.bootversion}); ingot admin status:`);
  showStatus();
};

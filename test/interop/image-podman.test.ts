/**
 * `podman run` of the image built from a Debian minbase commit (composed from the real bookworm
 * archive; packages cached under $INGOT_TEST_TMP/debian-compose-cache): with runc, cgroupfs,
 * vfs storage and low ulimits (the spec's recipe for machines without CAP_SYS_RESOURCE and
 * with hybrid cgroups), `bash -c 'dpkg -l | grep -c ^ii'` inside the container prints the
 * composed package count: the package database is where dpkg looks inside a container.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, run, tmpdir, DEBIAN_BOOKWORM_REPOS } from '../helpers.js';

const REF = 'debian/bookworm/x86_64/minbase';
const MANIFEST = `ref: ${REF}
${DEBIAN_BOOKWORM_REPOS}include-essential: true
include-priority: [required]
packages: [apt]
`;

let work = '';
let repo = '';
let packages = 0;

before(() => {
  const base = process.env['INGOT_TEST_TMP'] ?? os.tmpdir();
  const cache = path.join(base, 'debian-compose-cache');
  fs.mkdirSync(cache, { recursive: true });
  work = tmpdir('ingot-image-podman-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const m = path.join(work, 'minbase.yaml');
  fs.writeFileSync(m, MANIFEST);
  const r = ingot(['--json', 'compose', 'tree', m, '--repo', repo, '--cachedir', cache], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(r.status, 0, r.stderr);
  packages = (JSON.parse(r.stdout) as { packages: number }).packages;
});

after(() => cleanup(work));

test('podman runs the image: dpkg -l inside lists the composed package count', () => {
  // A 2-layer build of the same commit: vfs storage copies every layer's whole root.
  // podman names an oci: image after its directory, which must then be lowercase.
  const lower = path.join(path.dirname(work), `ingot-image-podman-${process.pid}`);
  const small = path.join(lower, 'small');
  ingotOk(['image', 'build', '--repo', repo, REF, '--output', `oci:${small}:v1`, '--max-layers', '2', '--cache-dir', path.join(work, 'layers')]);
  const pm = path.join(work, 'pm');
  fs.mkdirSync(pm);
  fs.writeFileSync(path.join(pm, 'containers.conf'), '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\nnetns = "none"\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  fs.writeFileSync(path.join(pm, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${pm}/root"\nrunroot = "${pm}/run"\n`);
  const env = { CONTAINERS_CONF: path.join(pm, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(pm, 'storage.conf') };
  try {
    const r = run('podman', ['run', '--rm', `oci:${small}:v1`, 'bash', '-c', 'dpkg -l | grep -c ^ii'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').pop(), String(packages));
  } finally {
    run('podman', ['rmi', '-a', '-f'], { env });
    fs.rmSync(pm, { recursive: true, force: true });
    fs.rmSync(lower, { recursive: true, force: true });
  }
});


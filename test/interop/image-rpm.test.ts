/**
 * The image of an RPM system: packages built by rpmbuild (test/fixtures/build-rpms.sh),
 * indexed by createrepo_c, composed by ingot. The layers follow the rpmdb's file lists (one
 * layer per source package: all the fixture packages come from one spec), and in the root umoci unpacks, the real `rpm --root ROOT -qa`
 * (which reads /var/lib/rpm, linked to the database in /usr/lib/sysimage/rpm) lists exactly the
 * composed set, and `rpm -qf` finds the owner of a file the image put at /etc.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, ROOT, runOk, tmpdir } from '../helpers.js';

const SET = ['cx-app-1.0-1.noarch', 'cx-busybox-1.0-1.x86_64', 'cx-helper-1.0-1.noarch', 'cx-mail-1.0-1.noarch', 'cx-setup-1.0-1.noarch'];

let work = '';
let repo = '';

before(() => {
  const fixtures = runOk('bash', [path.join(ROOT, 'test', 'fixtures', 'build-rpms.sh')]).trim().split('\n').pop()!;
  const built = path.join(fixtures, 'compose');
  assert.ok(fs.existsSync(built), `${built} is missing: build-rpms.sh makes it only when /bin/busybox exists`);
  work = tmpdir('ingot-image-rpm-');
  const rpms = path.join(work, 'rpms');
  fs.mkdirSync(rpms);
  for (const f of fs.readdirSync(built)) fs.copyFileSync(path.join(built, f), path.join(rpms, f));
  runOk('createrepo_c', ['--quiet', rpms]);
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const m = path.join(work, 'cx.yaml');
  fs.writeFileSync(m, 'ref: cx/os\nrepos:\n  - name: cx\n    type: rpm-md\n    url: rpms\n    gpgcheck: false\npackages:\n  - cx-app\n');
  const r = ingot(['compose', 'tree', m, '--repo', repo, '--cachedir', path.join(work, 'cache')], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(r.status, 0, r.stderr);
});

after(() => cleanup(work));

test('an rpm tree: one layer per source package from the rpmdb, and rpm -qa in the unpacked image lists the composed set', () => {
  const layout = path.join(work, 'img');
  const b = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'cx/os', '--output', `oci:${layout}:v1`, '--cache-dir', path.join(work, 'layers')])) as { layers: { kind: string; components: string[] }[] };
  const comps = b.layers.filter((l) => l.kind === 'packages').flatMap((l) => l.components).sort();
  // Every cx-* package is built from one spec (source package cx-compose): one component.
  assert.deepEqual(comps, ['cx-compose']);
  const bundle = path.join(work, 'bundle');
  runOk('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
  const rootfs = path.join(bundle, 'rootfs');
  assert.equal(fs.readlinkSync(path.join(rootfs, 'var/lib/rpm')), '../../usr/lib/sysimage/rpm');
  const qa = runOk('rpm', ['--root', rootfs, '--dbpath', '/var/lib/rpm', '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n']).trim().split('\n').sort();
  assert.deepEqual(qa, SET);
  assert.ok(fs.existsSync(path.join(rootfs, 'etc/cx-app/app.conf')), '/usr/etc is at /etc');
  assert.equal(runOk('rpm', ['--root', rootfs, '--dbpath', '/var/lib/rpm', '-qf', '/etc/cx-app/app.conf', '--qf', '%{NAME}\n']).trim(), 'cx-app');
});

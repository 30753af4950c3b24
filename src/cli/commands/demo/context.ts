/**
 * What the demo's later parts (delivery, hosts, images, inventory) get from its first steps:
 * the folder, the archive repository with the two sample commits and the two composed commits,
 * and the means to publish more demo packages and compose again. Each part prints its own
 * numbered steps through `step`.
 */
import type { Repo } from '../../../repo/repo.js';
import type { ComposeTreeResult } from '../../../compose/tree.js';

export interface DemoPackageSpec {
  name: string;
  version: string;
  depends?: string;
  description: string;
  /** Tree path → content; scripts (starting with #!) are made executable. */
  files: Record<string, string>;
  conffiles?: string[];
}

export interface DemoContext {
  /** The demo's folder. */
  dir: string;
  /** The archive repository at DIR/repo. */
  repo: Repo;
  /** Prints one line. */
  out: (line: string) => void;
  /** Prints a numbered step: `N. text`, N counting on from the earlier steps. */
  step: (text: string) => void;
  /** The ref the manifest composes (demo/x86_64/os) and the manifest's path. */
  ref: string;
  manifest: string;
  /** The two sample-tree commits (steps 2-3) and the two composed commits (steps 10 and 12). */
  commits: { sample1: string; sample2: string; os1: string; os2: string };
  /** Builds one more package with dpkg-deb and publishes it in the demo's apt repository. */
  publish: (p: DemoPackageSpec) => void;
  /** Composes the manifest into DIR/repo again (with the demo's cache). */
  compose: () => Promise<ComposeTreeResult>;
}

export type DemoPart = (ctx: DemoContext) => Promise<void>;

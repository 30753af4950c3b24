/**
 * Which components (source packages) go into which layer: a pure planner.
 *
 * - With a previous grouping (from the previous image's layer annotations), every group is
 *   kept as it was (components that are gone are dropped from it), so unchanged groups give
 *   byte-identical layers. New components get a layer each while the budget allows, then share
 *   one "new components" layer, then join the last layer.
 * - Without one: when every component fits, one layer each; otherwise the largest components
 *   get a layer each (about three quarters of the budget) and the small remainder is binned by
 *   an FNV-1a hash of its name, so that a component's bin does not depend on the rest of the
 *   set (no state needed for stability, as chunkah does). The change rate of a package is not
 *   in the inputs (Debian archives carry no dated changelog in the indexes), so size is the
 *   only criterion: small packages are the ones that get binned.
 * Layers come largest first (in the previous order when there is one).
 */
export interface Component {
  name: string;
  size: number;
}

export interface PlannedGroup {
  components: string[];
}

const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Plans at most `budget` (≥ 1) groups for the components. */
export function planGroups(components: readonly Component[], budget: number, previous: readonly string[][] | null = null): PlannedGroup[] {
  if (budget < 1) throw new RangeError('budget must be at least 1');
  const byName = new Map(components.map((c) => [c.name, c]));
  if (previous && previous.length > 0) {
    const seen = new Set<string>();
    const kept: string[][] = [];
    for (const g of previous) {
      const live = g.filter((n) => byName.has(n) && !seen.has(n));
      live.forEach((n) => seen.add(n));
      if (live.length > 0) kept.push(live.sort(cmp));
    }
    const fresh = components
      .filter((c) => !seen.has(c.name))
      .sort((a, b) => b.size - a.size || cmp(a.name, b.name))
      .map((c) => c.name);
    // Kept groups beyond the budget (a smaller --max-layers) merge from the end.
    while (kept.length > budget) {
      const last = kept.pop()!;
      kept[kept.length - 1] = [...kept[kept.length - 1]!, ...last].sort(cmp);
    }
    if (fresh.length === 0) return kept.map((c) => ({ components: c }));
    if (kept.length + fresh.length <= budget) return [...kept, ...fresh.map((n) => [n])].map((c) => ({ components: c }));
    if (kept.length < budget) {
      const singles = budget - kept.length - 1;
      const rest = fresh.slice(singles).sort(cmp);
      return [...kept, ...fresh.slice(0, singles).map((n) => [n]), rest].map((c) => ({ components: c }));
    }
    kept[kept.length - 1] = [...kept[kept.length - 1]!, ...fresh].sort(cmp);
    return kept.map((c) => ({ components: c }));
  }
  const sorted = [...components].sort((a, b) => b.size - a.size || cmp(a.name, b.name));
  if (sorted.length <= budget) return sorted.map((c) => ({ components: [c.name] }));
  const bins = budget === 1 ? 1 : Math.max(1, Math.floor(budget / 4));
  const singles = budget - bins;
  const out: PlannedGroup[] = sorted.slice(0, singles).map((c) => ({ components: [c.name] }));
  const binned: string[][] = Array.from({ length: bins }, () => []);
  for (const c of sorted.slice(singles)) binned[fnv1a(c.name) % bins]!.push(c.name);
  for (const b of binned) if (b.length > 0) out.push({ components: b.sort(cmp) });
  return out;
}

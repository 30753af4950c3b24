/**
 * The dependency resolver (pure): build a `Universe` from candidate packages once, then
 * `resolve(request, universe, options)` as often as needed; `checkSolution` verifies a result
 * independently.
 */
export { Universe, type Candidate, type UniverseOptions, type DepContext } from './universe.js';
export {
  resolve,
  parseRequestItems,
  type RequestItem,
  type ResolveRequest,
  type ResolveOptions,
  type ResolveResult,
  type ResolveStats,
  type SelectedPackage,
  type SelectionReason,
} from './resolve.js';
export { checkSolution, type CheckContext, type CheckResult } from './check.js';
export { parseRequest, parseRich, formatAtom, formatDependency, formatRich, packageLabel } from './deps.js';
export { compare, satisfies, versionScheme, type VersionScheme } from './versions.js';
export { Solver, type SatResult, type DecisionHook, type SolverView } from './sat.js';

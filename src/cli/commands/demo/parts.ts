/**
 * The demo's later parts, run in this order after the compose steps. Each capability adds one
 * import and one entry here; its steps live in its own file in this folder.
 */
import type { DemoPart } from './context.js';

export const DEMO_PARTS: DemoPart[] = [
  // delivery (issue 5)
  // hosts (issue 6)
  // images (issue 7)
  // inventory (issue 8)
];

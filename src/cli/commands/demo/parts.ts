/**
 * The demo's later parts, run in this order after the compose steps. Each capability adds one
 * import and one entry here; its steps live in its own file in this folder.
 */
import type { DemoPart } from './context.js';
import { deliveryPart } from './delivery.js';
import { hostsPart } from './hosts.js';
import { imagesPart } from './images.js';
import { inventoryPart } from './inventory.js';

export const DEMO_PARTS: DemoPart[] = [
  // delivery (issue 5)
  deliveryPart,
  // hosts (issue 6)
  hostsPart,
  // images (issue 7)
  imagesPart,
  // inventory (issue 8)
  inventoryPart,
];

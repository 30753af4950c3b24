/**
 * The PostgreSQL server the fleet-index tests run against: $INGOT_TEST_PG when scripts/test.sh
 * started one, else one started here through scripts/test-postgres.sh. A test that needs it
 * fails (never skips) when neither works.
 */
import * as path from 'node:path';
import { ROOT, runOk } from './helpers.js';

export function testPostgresUrl(): string {
  const env = process.env['INGOT_TEST_PG'];
  if (env) return env;
  const url = runOk('bash', [path.join(ROOT, 'scripts', 'test-postgres.sh'), 'start']).trim();
  process.env['INGOT_TEST_PG'] = url;
  return url;
}

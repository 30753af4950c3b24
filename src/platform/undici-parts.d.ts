/**
 * undici's agent and connector, imported from their own CommonJS modules (undici has no
 * `exports` map, and these are what its index re-exports): `ingot pull` then loads the HTTP/1.1
 * client alone, without the index's fetch, WebSocket, cache and mock modules, which took some
 * 20 ms of every start. The types are the index's.
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}

declare module 'undici/lib/core/connect.js' {
  import { buildConnector } from 'undici';
  export default buildConnector;
}

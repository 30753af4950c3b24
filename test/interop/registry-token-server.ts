/**
 * A token service in the shape distribution's `auth: token:` expects, run as its own process
 * by the registry tests (so that synchronous tool runs in the test cannot stall it):
 * `GET /token?service=…&scope=…` with optional Basic credentials answers
 * `{token, expires_in, issued_at}`, the token an RS256 JWT whose x5c certificate the registry
 * trusts. Known users get the actions they ask for; anonymous callers get `pull` only; a wrong
 * password gets 401. Each request is appended to the log file as one JSON line.
 *
 * Usage: node registry-token-server.js KEY.pem CERT.pem USERS.json LOG  (prints the port)
 */
import { createSign, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

const [keyFile, certFile, usersFile, logFile] = process.argv.slice(2) as [string, string, string, string];
const keyPem = fs.readFileSync(keyFile, 'utf8');
const x5c = fs.readFileSync(certFile, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
const users = JSON.parse(fs.readFileSync(usersFile, 'utf8')) as Record<string, string>;
const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

const server = http.createServer((req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  const auth = req.headers.authorization;
  let user: string | null = null;
  if (auth?.startsWith('Basic ')) {
    const text = Buffer.from(auth.slice(6), 'base64').toString();
    const i = text.indexOf(':');
    const [n, p] = [text.slice(0, i), text.slice(i + 1)];
    if (users[n] !== p) {
      fs.appendFileSync(logFile, JSON.stringify({ authorized: null, refused: n, scopes: u.searchParams.getAll('scope') }) + '\n');
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    user = n;
  }
  const scopes = u.searchParams.getAll('scope');
  fs.appendFileSync(logFile, JSON.stringify({ authorized: user, scopes, service: u.searchParams.get('service') }) + '\n');
  const access = scopes.map((s) => {
    const [type, name, actions] = s.split(':') as [string, string, string];
    return { type, name, actions: actions.split(',').filter((a) => user !== null || a === 'pull') };
  });
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [x5c] }));
  const claims = b64url(JSON.stringify({ iss: 'ingot-test-issuer', sub: user ?? '', aud: 'ingot-test', exp: now + 600, nbf: now - 60, iat: now, jti: randomUUID(), access }));
  const sig = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem);
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: `${header}.${claims}.${b64url(sig)}`, expires_in: 600, issued_at: new Date().toISOString() }));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

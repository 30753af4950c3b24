// A static HTTP/1.1 file server for the pull benchmark (bench/pull.sh): keep-alive, files
// streamed from disk, Range requests, 404 for anything missing. Serves ROOT on 127.0.0.1 at
// a free port and prints the port on stdout. Usage: node bench/static-server.mjs ROOT
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

const root = path.resolve(process.argv[2] ?? '.');
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  const file = path.join(root, path.normalize(rel));
  if (!file.startsWith(root)) {
    res.writeHead(403).end();
    return;
  }
  fs.open(file, 'r', (err, fd) => {
    if (err) {
      res.writeHead(404, { 'Content-Length': 0 }).end();
      return;
    }
    fs.fstat(fd, (e2, st) => {
      if (e2 || !st.isFile()) {
        fs.close(fd, () => undefined);
        res.writeHead(404, { 'Content-Length': 0 }).end();
        return;
      }
      let start = 0;
      let status = 200;
      const headers = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        start = Math.min(Number(m[1]), st.size);
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${st.size - 1}/${st.size}`;
      }
      headers['Content-Length'] = st.size - start;
      res.writeHead(status, headers);
      if (st.size - start === 0) {
        fs.close(fd, () => undefined);
        res.end();
        return;
      }
      fs.createReadStream('', { fd, start, highWaterMark: 256 * 1024 }).pipe(res);
    });
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});

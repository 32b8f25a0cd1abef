import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// The provider for the attach benchmark: creates and binds at once, returns a database URL
// per binding, keeps nothing. As cheap as a provider can be, so the benchmark measures Annex.
const expected = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"description":"unauthorized"}');
      return;
    }
    if (req.method === 'PUT' && req.url?.includes('/service_bindings/')) {
      const password = randomBytes(12).toString('base64url');
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ credentials: { DATABASE_URL: `postgres://u:${password}@db.bench/app` } }));
      return;
    }
    res.writeHead(req.method === 'PUT' ? 201 : 200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

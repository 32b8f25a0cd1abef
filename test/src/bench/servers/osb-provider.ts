import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// The provider for the broker benchmark: answers every OSB call at once, keeps nothing.
// As cheap as a provider can be, so the benchmark measures the broker.
const expected = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"description":"unauthorized"}');
      return;
    }
    const status = req.method === 'PUT' ? 201 : 200;
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

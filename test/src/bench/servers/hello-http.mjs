// The baseline of the idle memory benchmark: a node:http server answering "hello", in plain
// Node with nothing imported.
import { createServer } from 'node:http';

createServer((_request, response) => response.end('hello')).listen(Number(process.env.PORT ?? 0), '127.0.0.1');

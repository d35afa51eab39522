#!/usr/bin/env node
// Start s3rver (an S3 server nobody on this project wrote) for S3-mode checks.
//
// usage: node s3rver_start.js PORT DIRECTORY BUCKET [BUCKET...]
// PORT 0 picks a free port.  Prints "listening on PORT" once ready.
// Credentials are s3rver's built-in pair: S3RVER / S3RVER.  Stop with SIGTERM.

'use strict';

const S3rver = require('s3rver');

async function main() {
  const [port, directory, ...buckets] = process.argv.slice(2);
  if (port === undefined || !directory || buckets.length === 0) {
    console.error('usage: node s3rver_start.js PORT DIRECTORY BUCKET [BUCKET...]');
    process.exit(2);
  }
  const server = new S3rver({
    address: '127.0.0.1',
    port: Number(port),
    directory,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const address = await server.run();
  console.log(`listening on ${address.port}`);
  const stop = () => server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});

#!/usr/bin/env node
// Sign S3 requests with `aws4` (an AWS Signature V4 implementation nobody on
// this project wrote) and send them to the test server, path style.
//
// usage: node aws4_roundtrip.js --endpoint http://127.0.0.1:PORT --bucket NAME
//            [--ak AK --sk SK] [--region us-east-1]
// Prints one line per check and exits non-zero if any check failed.

'use strict';

const http = require('http');
const crypto = require('crypto');
const aws4 = require('aws4');

function parseArgs(argv) {
  const opts = { endpoint: null, bucket: null, ak: 'testak', sk: 'testsk', region: 'us-east-1' };
  for (let i = 2; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in opts) || i + 1 >= argv.length) throw new Error(`bad option ${argv[i]}`);
    opts[name] = argv[i + 1];
  }
  if (!opts.endpoint || !opts.bucket) throw new Error('--endpoint and --bucket are required');
  const url = new URL(opts.endpoint);
  opts.host = url.hostname;
  opts.port = Number(url.port);
  return opts;
}

// Percent-encode a key the way S3 clients put it in the path ('/' kept).
function keyPath(bucket, key) {
  const enc = encodeURIComponent(key).replace(/[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%2F/g, '/');
  return `/${bucket}/${enc}`;
}

function send(opts, method, path, { headers = {}, body = '', secret, signQuery } = {}) {
  const req = {
    host: opts.host, port: opts.port, method, path, headers: { ...headers }, body,
    service: 's3', region: opts.region, signQuery,
  };
  aws4.sign(req, { accessKeyId: opts.ak, secretAccessKey: secret || opts.sk });
  return new Promise((resolve, reject) => {
    const r = http.request(req, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function main() {
  const opts = parseArgs(process.argv);
  const b = opts.bucket;
  const key = `aws4-${Date.now()}/sp ace+plus%pct ü(1)!.txt`;
  const body = crypto.randomBytes(4096);
  const checks = [
    ['put', async () => {
      const r = await send(opts, 'PUT', keyPath(b, key), { body, headers: { 'x-amz-meta-mode': '420' } });
      assert(r.status === 200, `status ${r.status} ${r.body}`);
    }],
    ['get', async () => {
      const r = await send(opts, 'GET', keyPath(b, key));
      assert(r.status === 200 && Buffer.compare(r.body, body) === 0, `status ${r.status}`);
      assert(r.headers['x-amz-meta-mode'] === '420', 'meta');
    }],
    ['head', async () => {
      const r = await send(opts, 'HEAD', keyPath(b, key));
      assert(r.status === 200 && r.headers['content-length'] === '4096', `status ${r.status}`);
    }],
    ['list-v2-query', async () => {
      const prefix = key.split('/')[0] + '/';
      const q = `list-type=2&prefix=${encodeURIComponent(prefix)}&delimiter=%2F&max-keys=10`;
      const r = await send(opts, 'GET', `/${b}/?${q}`);
      assert(r.status === 200 && r.body.includes('<KeyCount>1</KeyCount>'), `${r.status} ${r.body}`);
    }],
    ['copy', async () => {
      const r = await send(opts, 'PUT', keyPath(b, `${key}.copy`),
        { headers: { 'x-amz-copy-source': keyPath(b, key) } });
      assert(r.status === 200, `status ${r.status} ${r.body}`);
    }],
    ['presigned-get', async () => {
      const r = await send(opts, 'GET', keyPath(b, `${key}.copy`), { signQuery: true });
      assert(r.status === 200 && Buffer.compare(r.body, body) === 0, `status ${r.status} ${r.body}`);
    }],
    ['delete', async () => {
      const r = await send(opts, 'DELETE', keyPath(b, `${key}.copy`));
      assert(r.status === 204, `status ${r.status}`);
    }],
    ['wrong-secret-refused', async () => {
      const r = await send(opts, 'GET', keyPath(b, key), { secret: 'wrong' });
      assert(r.status === 403 && r.body.includes('SignatureDoesNotMatch'), `status ${r.status}`);
    }],
  ];
  let failures = 0;
  for (const [name, fn] of checks) {
    try {
      await fn();
      console.log(`ok aws4 ${name}`);
    } catch (e) {
      failures += 1;
      console.log(`FAIL aws4 ${name}: ${e.message}`);
    }
  }
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL setup: ${e.stack || e}`);
  process.exit(2);
});

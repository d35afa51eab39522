#!/usr/bin/env node
// Drive Alibaba's own Node client (ali-oss) against an OSS-compatible server.
//
// usage: node alioss_roundtrip.js --endpoint http://127.0.0.1:PORT --bucket NAME
//            [--ak AK --sk SK] [--region cn-hangzhou] [--sig v4|v1]
// (each option can also come from OSS_ENDPOINT, OSS_BUCKET, OSS_ACCESS_KEY_ID,
//  OSS_ACCESS_KEY_SECRET, OSS_REGION, OSS_SIG)
//
// Prints one line per check ("ok NAME" / "FAIL NAME: why") and exits non-zero
// if any check failed.
//
// Addressing: with an IP endpoint ali-oss sends path "/key" and sets
// "Host: <bucket>.oss-<region>.aliyuncs.com" itself (createRequest.js), which
// the server treats as virtual-hosted style, so no CNAME tricks are needed.

'use strict';

const crypto = require('crypto');
const OSS = require('ali-oss');

function parseArgs(argv) {
  const opts = {
    endpoint: process.env.OSS_ENDPOINT,
    bucket: process.env.OSS_BUCKET,
    ak: process.env.OSS_ACCESS_KEY_ID || 'testak',
    sk: process.env.OSS_ACCESS_KEY_SECRET || 'testsk',
    region: process.env.OSS_REGION || 'cn-hangzhou',
    sig: process.env.OSS_SIG || 'v4',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in opts) || i + 1 >= argv.length) {
      throw new Error(`unknown or incomplete option ${argv[i]}`);
    }
    opts[name] = argv[i + 1];
  }
  if (!opts.endpoint || !opts.bucket) throw new Error('--endpoint and --bucket are required');
  if (!['v1', 'v4'].includes(opts.sig)) throw new Error('--sig must be v1 or v4');
  return opts;
}

function makeClient(opts, secret) {
  return new OSS({
    endpoint: opts.endpoint,
    bucket: opts.bucket,
    region: `oss-${opts.region}`,     // ali-oss strips "oss-" for the V4 scope
    accessKeyId: opts.ak,
    accessKeySecret: secret || opts.sk,
    authorizationV4: opts.sig === 'v4',
    secure: false,
    timeout: 60000,
  });
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function runChecks(client, opts, prefix) {
  const key = `${prefix}hello world+ü.txt`;
  const body = Buffer.from('hello from ali-oss '.repeat(50));
  const checks = [];
  const check = (name, fn) => checks.push([name, fn]);

  check('put', async () => {
    const r = await client.put(key, body, { meta: { mode: '33188' }, mime: 'text/plain' });
    assert(r.res.status === 200, `status ${r.res.status}`);
  });
  check('get', async () => {
    const r = await client.get(key);
    assert(Buffer.compare(r.content, body) === 0, 'content differs');
  });
  check('range-get', async () => {
    const r = await client.get(key, { headers: { Range: 'bytes=6-9' } });
    assert(r.res.status === 206, `status ${r.res.status}`);
    assert(r.content.toString() === 'from', `got ${r.content}`);
  });
  check('head', async () => {
    const r = await client.head(key);
    assert(r.status === 200, `status ${r.status}`);
    assert(r.meta && r.meta.mode === '33188', `meta ${JSON.stringify(r.meta)}`);
    assert(r.res.headers['content-length'] === String(body.length), 'content-length');
  });
  check('listV2-delimiter', async () => {
    await client.put(`${prefix}sub/a`, Buffer.from('a'));
    const r = await client.listV2({ prefix, delimiter: '/', 'max-keys': 100 });
    const names = (r.objects || []).map((o) => o.name);
    assert(names.includes(key), `objects ${JSON.stringify(names)}`);
    assert((r.prefixes || []).includes(`${prefix}sub/`), `prefixes ${JSON.stringify(r.prefixes)}`);
  });
  check('listV2-paging', async () => {
    const first = await client.listV2({ prefix, 'max-keys': 1 });
    assert(first.isTruncated && first.nextContinuationToken, 'first page not truncated');
    const second = await client.listV2({
      prefix, 'max-keys': 1, 'continuation-token': first.nextContinuationToken,
    });
    assert(second.objects.length === 1 && second.objects[0].name !== first.objects[0].name,
      'second page');
  });
  check('copy', async () => {
    await client.copy(`${prefix}copy`, key);
    const r = await client.get(`${prefix}copy`);
    assert(Buffer.compare(r.content, body) === 0, 'copied content differs');
  });
  check('delete', async () => {
    await client.delete(`${prefix}copy`);
    let code = null;
    try { await client.head(`${prefix}copy`); } catch (e) { code = e.status; }
    assert(code === 404, `head after delete: ${code}`);
  });
  check('deleteMulti', async () => {
    const names = ['d1', 'd 2', 'd&3'].map((n) => `${prefix}multi/${n}`);
    await Promise.all(names.map((n) => client.put(n, Buffer.from(n))));
    const r = await client.deleteMulti(names, { quiet: false });
    assert(r.deleted.length === 3, `deleted ${JSON.stringify(r.deleted)}`);
  });
  check('multipartUpload', async () => {
    const big = crypto.randomBytes(350 * 1024);
    const name = `${prefix}multipart.bin`;
    const r = await client.multipartUpload(name, big, { partSize: 100 * 1024, parallel: 3 });
    assert(r.res.status === 200, `status ${r.res.status}`);
    const got = await client.get(name);
    assert(Buffer.compare(got.content, big) === 0, 'multipart content differs');
    const h = await client.head(name);
    assert(h.res.headers['x-oss-object-type'] === 'Multipart', 'object type');
  });
  check('symlink', async () => {
    await client.putSymlink(`${prefix}link`, key);
    const r = await client.getSymlink(`${prefix}link`);
    assert(r.targetName === key, `target ${r.targetName}`);
    const got = await client.get(`${prefix}link`);
    assert(Buffer.compare(got.content, body) === 0, 'symlink content');
  });
  check('wrong-secret-refused', async () => {
    const bad = makeClient(opts, 'definitely-wrong');
    let code = null;
    try { await bad.get(key); } catch (e) { code = e.code; }
    assert(code === 'SignatureDoesNotMatch', `error code ${code}`);
  });

  let failures = 0;
  for (const [name, fn] of checks) {
    try {
      await fn();
      console.log(`ok ${opts.sig} ${name}`);
    } catch (e) {
      failures += 1;
      console.log(`FAIL ${opts.sig} ${name}: ${e.code || ''} ${e.message}`);
    }
  }
  return failures;
}

async function main() {
  const opts = parseArgs(process.argv);
  const prefix = `alioss-${opts.sig}-${Date.now()}/`;
  const failures = await runChecks(makeClient(opts), opts, prefix);
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL setup: ${e.stack || e}`);
  process.exit(2);
});

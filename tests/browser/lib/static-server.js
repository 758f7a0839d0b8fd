// The local static server for the example page: http://localhost:3000 (IPv4 and IPv6 loopback).
// It fills the page's endpoint URLs and client id in, and serves the npm packages' browser builds.

import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PAGE_ORIGIN = 'http://localhost:3000';
const PORT = 3000;

const VENDOR = {
  '/vendor/oidc-client-ts.min.js': 'node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js',
  '/vendor/signalwire.umd.js': 'node_modules/@signalwire/js/dist/index.umd.js',
};
const PAGES = { '/': 'site/index.html', '/index.html': 'site/index.html', '/discovery.html': 'site/discovery.html' };
// The Fabric test pages: site/fabric/<name>.html|js, served as they are.
const FABRIC_FILE = /^\/fabric\/[a-z-]+\.(html|js)$/;
const TYPES = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8' };

/** Starts the server (on `port`, 3000 unless given); resolves to an object with close(). */
export async function startStaticServer({ issuer, clientId, port = PORT }) {
  const handler = (req, res) => {
    const path = new URL(req.url, PAGE_ORIGIN).pathname;
    try {
      if (PAGES[path]) {
        const html = readFileSync(join(HERE, PAGES[path]), 'utf8')
          .replaceAll('__ISSUER__', issuer)
          .replaceAll('__CLIENT_ID__', clientId);
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(html);
      } else if (FABRIC_FILE.test(path)) {
        res.writeHead(200, { 'Content-Type': TYPES[path.split('.').pop()], 'Cache-Control': 'no-store' });
        res.end(readFileSync(join(HERE, 'site', path)));
      } else if (VENDOR[path]) {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
        res.end(readFileSync(join(HERE, VENDOR[path])));
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
      }
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(e));
    }
  };
  const servers = [];
  for (const host of ['127.0.0.1', '::1']) {
    const server = createServer(handler);
    try {
      await new Promise((ok, fail) => {
        server.once('error', fail);
        server.listen(port, host, ok);
      });
      servers.push(server);
    } catch (e) {
      if (host === '127.0.0.1') {
        for (const s of servers) s.close();
        throw new Error(`cannot listen on ${host}:${port} for the example page: ${e.message}`);
      }
      // No IPv6 loopback: IPv4 alone serves localhost.
    }
  }
  return {
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))),
  };
}

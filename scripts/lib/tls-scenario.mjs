// TLS on loopback for the tls-* scenarios: a node TLS (or plain HTTP) server with a throwaway
// self-signed certificate made by openssl, and a node TLS client that asks for one HTTP response.
// What differs between scenarios is the server's and the client's TLS settings.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import { withCapture } from './capture.mjs';
import { pickFreePort } from './ports.mjs';
import { runCommand } from './proc.mjs';
import { captureFile } from './scenario.mjs';
import { closeServer, listenOn, withinDeadline } from './servers.mjs';

export const SERVER_NAME = 'localhost';

/** A self-signed P-256 certificate for `name`, valid for a day, written into `dir`: the PEM bytes and their files. */
export async function makeCertificate(dir, name = SERVER_NAME) {
  const key = path.join(dir, `tls-key-${name}.pem`);
  const cert = path.join(dir, `tls-cert-${name}.pem`);
  await runCommand('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
  ], { timeoutMs: 10_000 });
  return { key: readFileSync(key), cert: readFileSync(cert), keyFile: key, certFile: cert };
}

/**
 * Runs one TLS attempt under tcpdump on lo and returns how the client saw it end: 'ok' with the
 * status line, or the error code node gave (ERR_SSL_..., UNABLE_TO_VERIFY_LEAF_SIGNATURE, EPROTO...).
 * `server.requireClientCert`: the server asks for a client certificate signed by its own and refuses
 * the handshake without one; `server.ecdhCurve`: its only key-exchange group (one the client's first
 * key share does not use draws a HelloRetryRequest); `client.certificate`: 'self-signed' sends one
 * the server does not trust.
 * @param {{ dir: string, name: string, port?: number, server: { plain?: boolean, minVersion?: string, maxVersion?: string, requireClientCert?: boolean, ecdhCurve?: string }, client: { trust?: boolean, maxVersion?: string, certificate?: 'self-signed' } }} o
 */
export async function runTlsScenario({ dir, name, port, server: serverOpts, client: clientOpts }) {
  const file = captureFile(dir, name);
  const serverPort = port ?? (await pickFreePort());
  const { key, cert } = await makeCertificate(dir);
  const clientIdentity = clientOpts.certificate === 'self-signed' ? await makeCertificate(dir, 'client') : {};
  const answer = (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n');
  const server = serverOpts.plain
    ? http.createServer((req, res) => res.end('hello\n'))
    : tls.createServer({ key, cert, minVersion: serverOpts.minVersion, maxVersion: serverOpts.maxVersion, ecdhCurve: serverOpts.ecdhCurve, ...(serverOpts.requireClientCert ? { requestCert: true, rejectUnauthorized: true, ca: [cert] } : {}) }, (socket) => {
        socket.on('error', () => {});
        socket.once('data', () => answer(socket));
      });
  server.on('tlsClientError', () => {});
  await listenOn(server, serverPort);
  try {
    const outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(5_000, `${name} client`, () => connect(serverPort, clientOpts.trust ? cert : undefined, clientOpts.maxVersion, clientIdentity)),
    );
    return { file, outcome, port: serverPort };
  } finally {
    await closeServer(server);
  }
}

function connect(port, ca, maxVersion, identity) {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: SERVER_NAME, ca, maxVersion, ALPNProtocols: ['http/1.1'], ...identity });
    let data = '';
    let error = null;
    socket.on('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${SERVER_NAME}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', (err) => (error ??= err.code ?? err.message));
    // A short wait lets the alert and the close reach the wire before the capture stops.
    socket.on('close', () => setTimeout(() => resolve(error ?? (data ? `ok ${data.split('\r\n')[0]}` : 'closed')), 100));
  });
}

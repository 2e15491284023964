import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { request, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateTls, normalizeHosts } from './ca.js';
import type { TlsMaterial } from './ca.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const DAY_MS = 24 * 60 * 60 * 1000;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ztka-pki-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function mode(path: string): Promise<number> {
  return stat(path).then((s) => s.mode & 0o777);
}

function sans(certPem: string): string[] {
  return (new X509Certificate(certPem).subjectAltName ?? '').split(', ');
}

/** Serves `tls` on 127.0.0.1:<random> and returns a function that GETs / with the given client options. */
async function serve(
  t: { after: (fn: () => Promise<void>) => void },
  tls: TlsMaterial,
): Promise<(client: { ca?: string; servername?: string }) => Promise<string>> {
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (_req, res) =>
    res.end('hello over tls'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return (client) =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, ...client }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
}

test('first start creates a CA and a serving cert in <dataDir>/tls with private modes', async (t) => {
  const dataDir = await tempDir(t);
  const tls = await loadOrCreateTls({ dataDir, hosts: ['ztka.example.com', '10.0.0.7'] });
  const dir = join(dataDir, 'tls');

  assert.equal(tls.userSupplied, false);
  assert.equal(await mode(dir), 0o700);
  assert.equal(await mode(join(dir, 'ca.key')), 0o600);
  assert.equal(await mode(join(dir, 'tls.key')), 0o600);
  assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), tls.caCertPem);
  assert.equal(await readFile(join(dir, 'tls.crt'), 'utf8'), tls.certPem);
  assert.equal(await readFile(join(dir, 'tls.key'), 'utf8'), tls.keyPem);
  assert.match(tls.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(await readFile(join(dir, 'ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(tls.caCertPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);

  // CA: self-signed P-256, 10 years, CA:TRUE critical, keyCertSign + cRLSign.
  const ca = new X509Certificate(tls.caCertPem);
  assert.equal(ca.subject, 'CN=ztka controller CA');
  assert.equal(ca.issuer, 'CN=ztka controller CA');
  assert.equal(ca.ca, true);
  assert.equal(ca.checkIssued(ca), true);
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const caFrom = new Date(ca.validFrom);
  assert.ok(caFrom.getTime() <= Date.now());
  caFrom.setUTCFullYear(caFrom.getUTCFullYear() + 10);
  assert.equal(Date.parse(ca.validTo), caFrom.getTime(), `CA valid ${ca.validFrom} - ${ca.validTo}`);
  const pca = new x509.X509Certificate(tls.caCertPem);
  const bc = pca.getExtension(x509.BasicConstraintsExtension);
  assert.equal(bc?.ca, true);
  assert.equal(bc?.critical, true);
  const ku = pca.getExtension(x509.KeyUsagesExtension);
  assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  assert.equal(ku?.critical, true);

  // Serving cert: issued by the CA, P-256, ~825 days, serverAuth, SANs from hosts plus the defaults.
  const cert = new X509Certificate(tls.certPem);
  assert.equal(cert.subject, 'CN=ztka controller');
  assert.equal(cert.ca, false);
  assert.equal(cert.checkIssued(ca), true);
  assert.equal(cert.verify(ca.publicKey), true);
  assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
  assert.deepEqual(sans(tls.certPem).sort(), [
    'DNS:localhost',
    'DNS:ztka.example.com',
    'IP Address:10.0.0.7',
    'IP Address:127.0.0.1',
  ]);
  // notBefore is backdated by an hour for clock skew; notAfter is 825 days from now.
  assert.ok(Date.parse(cert.validFrom) <= Date.now() - 59 * 60 * 1000, cert.validFrom);
  const days = (Date.parse(cert.validTo) - Date.now()) / DAY_MS;
  assert.ok(days > 824.99 && days <= 825, `serving validity ${days} days`);
  const key = createPrivateKey(tls.keyPem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(cert.checkPrivateKey(key), true);
  assert.notEqual(cert.serialNumber, ca.serialNumber);
});

test('an https server with the material is trusted by a client that only trusts caCertPem', async (t) => {
  const dataDir = await tempDir(t);
  const tls = await loadOrCreateTls({ dataDir, hosts: [] });
  const get = await serve(t, tls);

  assert.equal(await get({ ca: tls.caCertPem, servername: 'localhost' }), '200 hello over tls');
  // No servername: the client checks the certificate against the IP it dialled, 127.0.0.1.
  assert.equal(await get({ ca: tls.caCertPem }), '200 hello over tls');

  await assert.rejects(get({ ca: tls.caCertPem, servername: 'other.example.com' }), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
  // A client using only the default roots does not trust the private CA.
  await assert.rejects(get({ servername: 'localhost' }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  // Nor does a client that trusts a different controller's CA.
  const other = await loadOrCreateTls({ dataDir: await tempDir(t), hosts: [] });
  await assert.rejects(get({ ca: other.caCertPem, servername: 'localhost' }), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
});

test('a second start loads the same CA and serving cert without regenerating', async (t) => {
  const dataDir = await tempDir(t);
  const first = await loadOrCreateTls({ dataDir, hosts: ['ztka.example.com'] });
  const before = await stat(join(dataDir, 'tls', 'tls.crt'));
  const second = await loadOrCreateTls({ dataDir, hosts: ['ztka.example.com'] });
  assert.deepEqual(second, first);
  const after = await stat(join(dataDir, 'tls', 'tls.crt'));
  assert.equal(after.ino, before.ino);
  assert.equal(after.mtimeMs, before.mtimeMs);
  // Hosts are case-insensitive, the defaults need not be repeated, and a subset is still covered.
  assert.deepEqual(await loadOrCreateTls({ dataDir, hosts: ['ZTKA.example.com.', 'localhost'] }), first);
  assert.deepEqual(await loadOrCreateTls({ dataDir, hosts: [] }), first);
});

test('a new host re-issues the serving cert from the same CA', async (t) => {
  const dataDir = await tempDir(t);
  const first = await loadOrCreateTls({ dataDir, hosts: ['ztka.example.com'] });
  const caKeyBefore = await readFile(join(dataDir, 'tls', 'ca.key'), 'utf8');

  const second = await loadOrCreateTls({
    dataDir,
    hosts: ['ztka.example.com', 'ztka.internal', '192.0.2.10'],
  });
  assert.equal(second.caCertPem, first.caCertPem);
  assert.equal(await readFile(join(dataDir, 'tls', 'ca.key'), 'utf8'), caKeyBefore);
  assert.notEqual(second.certPem, first.certPem);
  assert.notEqual(second.keyPem, first.keyPem);
  assert.equal(await readFile(join(dataDir, 'tls', 'tls.crt'), 'utf8'), second.certPem);
  assert.equal(await readFile(join(dataDir, 'tls', 'tls.key'), 'utf8'), second.keyPem);

  const ca = new X509Certificate(second.caCertPem);
  const cert = new X509Certificate(second.certPem);
  assert.equal(cert.checkIssued(ca), true);
  assert.equal(cert.verify(ca.publicKey), true);
  assert.equal(cert.checkPrivateKey(createPrivateKey(second.keyPem)), true);
  const names = sans(second.certPem);
  assert.ok(names.includes('DNS:ztka.internal'), names.join(', '));
  assert.ok(names.includes('IP Address:192.0.2.10'), names.join(', '));
  assert.ok(names.includes('DNS:ztka.example.com'), names.join(', '));
  assert.ok(names.includes('DNS:localhost'), names.join(', '));
  assert.equal(cert.checkHost('ztka.internal'), 'ztka.internal');
  assert.equal(cert.checkIP('192.0.2.10'), '192.0.2.10');

  // And the re-issued cert is stable afterwards.
  const third = await loadOrCreateTls({ dataDir, hosts: ['ztka.internal', '192.0.2.10'] });
  assert.equal(third.certPem, second.certPem);
});

test('IPv6 hosts (bracketed or not) become IP SANs', async (t) => {
  const dataDir = await tempDir(t);
  const tls = await loadOrCreateTls({ dataDir, hosts: ['[::1]', 'fd00::5'] });
  const cert = new X509Certificate(tls.certPem);
  assert.equal(cert.checkIP('::1'), '::1');
  assert.equal(cert.checkIP('fd00::5'), 'fd00::5');
  assert.equal(cert.checkIP('fd00::6'), undefined);
  assert.deepEqual(normalizeHosts(['[::1]', 'A.Example.', '10.1.1.1', 'a.example']), {
    dns: ['localhost', 'a.example'],
    ips: ['127.0.0.1', '::1', '10.1.1.1'],
  });
});

test('invalid hosts are refused with the offending value', async (t) => {
  const dataDir = await tempDir(t);
  await assert.rejects(loadOrCreateTls({ dataDir, hosts: ['ztka.example.com:8443'] }), {
    message: /invalid host "ztka\.example\.com:8443"/,
  });
  await assert.rejects(loadOrCreateTls({ dataDir, hosts: ['https://ztka.example.com'] }), {
    message: /invalid host "https:\/\/ztka\.example\.com"/,
  });
});

test('a serving cert expiring within 30 days is renewed from the same CA', async (t) => {
  const dataDir = await tempDir(t);
  const dir = join(dataDir, 'tls');
  const first = await loadOrCreateTls({ dataDir, hosts: [] });

  // Replace tls.crt/tls.key with a cert from the same CA that expires in 10 days.
  const caCert = new x509.X509Certificate(first.caCertPem);
  const caKeyDer = createPrivateKey(await readFile(join(dir, 'ca.key'), 'utf8')).export({
    type: 'pkcs8',
    format: 'der',
  });
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    caKeyDer,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const short = await x509.X509CertificateGenerator.create({
    subject: 'CN=ztka controller',
    issuer: caCert.subjectName,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 10 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  const shortPem = short.toString('pem');
  const shortKeyPem = createPrivateKey({
    key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    format: 'der',
    type: 'pkcs8',
  })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  assert.equal(new X509Certificate(shortPem).checkIssued(new X509Certificate(first.caCertPem)), true);
  await writeFile(join(dir, 'tls.crt'), shortPem);
  await writeFile(join(dir, 'tls.key'), shortKeyPem);

  const renewed = await loadOrCreateTls({ dataDir, hosts: [] });
  assert.equal(renewed.caCertPem, first.caCertPem);
  assert.notEqual(renewed.certPem, shortPem);
  const cert = new X509Certificate(renewed.certPem);
  assert.equal(cert.checkIssued(new X509Certificate(first.caCertPem)), true);
  assert.ok(Date.parse(cert.validTo) - Date.now() > 800 * DAY_MS, cert.validTo);
});

test('a serving key that does not match tls.crt gets a fresh cert; a lost CA key is an error', async (t) => {
  const dataDir = await tempDir(t);
  const dir = join(dataDir, 'tls');
  const first = await loadOrCreateTls({ dataDir, hosts: [] });
  await writeFile(join(dir, 'tls.key'), await readFile(join(dir, 'ca.key')));
  const second = await loadOrCreateTls({ dataDir, hosts: [] });
  assert.equal(second.caCertPem, first.caCertPem);
  assert.notEqual(second.certPem, first.certPem);
  assert.equal(new X509Certificate(second.certPem).checkPrivateKey(createPrivateKey(second.keyPem)), true);

  await unlink(join(dir, 'ca.key'));
  await assert.rejects(loadOrCreateTls({ dataDir, hosts: [] }), {
    message: /ca\.crt exists but its key .*ca\.key is missing/,
  });
});

test('user-supplied cert/key are returned as is; a mismatched key is refused', async (t) => {
  // Make a CA and leaf with the managed mode in another directory, then hand them over as user files.
  const src = await tempDir(t);
  const made = await loadOrCreateTls({ dataDir: src, hosts: ['user.example.com'] });
  const certFile = join(src, 'tls', 'tls.crt');
  const keyFile = join(src, 'tls', 'tls.key');
  const caFile = join(src, 'tls', 'ca.crt');
  const dataDir = await tempDir(t);

  const plain = await loadOrCreateTls({ dataDir, hosts: [], certFile, keyFile });
  assert.deepEqual(plain, {
    caCertPem: made.certPem,
    certPem: made.certPem,
    keyPem: made.keyPem,
    userSupplied: true,
  });
  await assert.rejects(stat(join(dataDir, 'tls')), { code: 'ENOENT' });

  const withCa = await loadOrCreateTls({ dataDir, hosts: [], certFile, keyFile, caFile });
  assert.deepEqual(withCa, {
    caCertPem: made.caCertPem,
    certPem: made.certPem,
    keyPem: made.keyPem,
    userSupplied: true,
  });

  // A chain file: the leaf first, the CA last; caCertPem is the last cert, certPem the whole file.
  const chainFile = join(dataDir, 'chain.pem');
  await writeFile(chainFile, made.certPem + made.caCertPem);
  const chained = await loadOrCreateTls({ dataDir, hosts: [], certFile: chainFile, keyFile });
  assert.equal(chained.certPem, made.certPem + made.caCertPem);
  assert.equal(chained.caCertPem, made.caCertPem);

  // A SEC1 ("EC PRIVATE KEY") key is accepted and returned in its own format.
  const sec1File = join(dataDir, 'sec1.key');
  const sec1 = createPrivateKey(made.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
  await writeFile(sec1File, sec1);
  const sec1Tls = await loadOrCreateTls({ dataDir, hosts: [], certFile, keyFile: sec1File });
  assert.equal(sec1Tls.keyPem, sec1);
  assert.match(sec1Tls.keyPem, /^-----BEGIN EC PRIVATE KEY-----/);

  // The CA's key is a valid key, but not the certificate's.
  const wrongKey = join(src, 'tls', 'ca.key');
  await assert.rejects(loadOrCreateTls({ dataDir, hosts: [], certFile, keyFile: wrongKey }), {
    message: `TLS: the private key in ${wrongKey} does not match the certificate in ${certFile} (subject "CN=ztka controller")`,
  });
  await assert.rejects(loadOrCreateTls({ dataDir, hosts: [], certFile, keyFile: certFile }), {
    message: /TLS: TLS key file .* is not a readable private key/,
  });
  await assert.rejects(loadOrCreateTls({ dataDir, hosts: [], certFile: keyFile, keyFile }), {
    message: /contains no PEM certificate/,
  });
  await assert.rejects(loadOrCreateTls({ dataDir, hosts: [], certFile }), {
    message: 'TLS: certFile and keyFile must be given together',
  });
  await assert.rejects(
    loadOrCreateTls({ dataDir, hosts: [], certFile, keyFile: join(dataDir, 'nope.key') }),
    {
      message: /cannot read TLS key file .*nope\.key: ENOENT/,
    },
  );
});

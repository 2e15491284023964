// The controller's TLS material: the certificate and key its HTTPS listener (kubectl, console, agents'
// tunnels) serves, plus the CA certificate that clients should trust.
//
// Two modes:
// - user supplied: `certFile` + `keyFile` (and optionally `caFile`) are read and returned as they are,
//   after checking that the key belongs to the certificate.
// - self managed: on first start a private CA (ECDSA P-256, 10 years) and a serving certificate signed by
//   it (ECDSA P-256, 825 days, SANs from `hosts` plus 127.0.0.1 and localhost) are written to
//   `<dataDir>/tls/{ca.crt,ca.key,tls.crt,tls.key}` (dir 0700, keys 0600). Later starts load them. The
//   serving certificate is re-issued from the same CA when it no longer covers `hosts`, expires within 30
//   days, or does not match its key or the CA; the CA itself is never replaced automatically, so agents and
//   kubeconfigs that trust it keep working. A missing ca.key next to an existing ca.crt is an error.
// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto);

export interface TlsMaterial {
  /** PEM of the CA certificate clients should trust. */
  caCertPem: string;
  /** PEM of the serving certificate (for user-supplied material: the cert file as is, chain included). */
  certPem: string;
  /** PEM of the serving key (PKCS#8 when generated; the key file as is when user supplied). */
  keyPem: string;
  /** true when the user supplied cert/key */
  userSupplied: boolean;
}

export interface TlsOptions {
  /** Controller data directory; generated material lives in `<dataDir>/tls/`. */
  dataDir: string;
  /** Names and IP addresses the controller is reached at (IPv6 may be bracketed). */
  hosts: string[];
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFile?: string | undefined;
}

export const TLS_DIR = 'tls';
export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const SERVING_CERT_FILE = 'tls.crt';
export const SERVING_KEY_FILE = 'tls.key';
export const CA_COMMON_NAME = 'ztka controller CA';
export const SERVING_COMMON_NAME = 'ztka controller';
/** Names always present in a generated serving certificate. */
export const DEFAULT_HOSTS: readonly string[] = ['127.0.0.1', 'localhost'];

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_YEARS = 10;
const SERVING_VALIDITY_DAYS = 825;
/** The serving certificate is renewed when it expires within this window. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
/** notBefore is backdated a little so that clients with a slightly slow clock accept a fresh cert. */
export const BACKDATE_MS = 60 * 60 * 1000;

export const EC_KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' };
export const EC_SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' };

export async function loadOrCreateTls(opts: TlsOptions): Promise<TlsMaterial> {
  const { certFile, keyFile, caFile } = opts;
  if (certFile !== undefined || keyFile !== undefined) {
    if (certFile === undefined || keyFile === undefined) {
      throw new Error('TLS: certFile and keyFile must be given together');
    }
    return loadUserSupplied(certFile, keyFile, caFile);
  }
  if (caFile !== undefined) {
    throw new Error('TLS: caFile is only used together with certFile and keyFile');
  }
  return loadOrCreateManaged(opts.dataDir, normalizeHosts(opts.hosts));
}

// ---------------------------------------------------------------------------------------------------------
// User-supplied material

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

async function loadUserSupplied(certFile: string, keyFile: string, caFile: string | undefined) {
  const certPem = await readText(certFile, 'TLS certificate file');
  const keyPem = await readText(keyFile, 'TLS key file');
  const chain = pemCertificates(certPem, certFile);
  const leaf = chain[0] as X509Certificate;
  const key = parsePrivateKey(keyPem, `TLS key file ${keyFile}`);
  if (!leaf.checkPrivateKey(key)) {
    throw new Error(
      `TLS: the private key in ${keyFile} does not match the certificate in ${certFile} ` +
        `(subject "${leaf.subject.replace(/\n/g, ', ')}")`,
    );
  }
  let caCertPem: string;
  if (caFile !== undefined) {
    caCertPem = await readText(caFile, 'TLS CA file');
    pemCertificates(caCertPem, caFile);
  } else {
    caCertPem = `${(chain[chain.length - 1] as X509Certificate).toString().trim()}\n`;
  }
  return { caCertPem, certPem, keyPem, userSupplied: true };
}

function pemCertificates(pem: string, file: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) throw new Error(`TLS: ${file} contains no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new Error(`TLS: certificate #${i + 1} in ${file} cannot be parsed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Self-managed CA and serving certificate

interface Hosts {
  /** lower-cased DNS names, in order, without duplicates */
  dns: string[];
  /** IP addresses, in order, without duplicates (as given, brackets removed) */
  ips: string[];
}

const DNS_LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const DNS_NAME_RE = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);

/** Splits hosts into DNS names and IPs, adds the defaults, and rejects anything that is neither. */
export function normalizeHosts(hosts: readonly string[]): Hosts {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const raw of [...DEFAULT_HOSTS, ...hosts]) {
    let host = raw.trim();
    if (host === '') continue;
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (isIP(host) !== 0) {
      if (!ips.includes(host)) ips.push(host);
      continue;
    }
    host = host.toLowerCase().replace(/\.$/, '');
    if (host.length > 253 || !DNS_NAME_RE.test(host)) {
      throw new Error(`TLS: invalid host "${raw}": expected a DNS name or an IP address (without port)`);
    }
    if (!dns.includes(host)) dns.push(host);
  }
  return { dns, ips };
}

interface Ca {
  cert: x509.X509Certificate;
  nodeCert: X509Certificate;
  signingKey: webcrypto.CryptoKey;
  certPem: string;
}

async function loadOrCreateManaged(dataDir: string, hosts: Hosts): Promise<TlsMaterial> {
  const dir = join(dataDir, TLS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const paths = {
    caCert: join(dir, CA_CERT_FILE),
    caKey: join(dir, CA_KEY_FILE),
    cert: join(dir, SERVING_CERT_FILE),
    key: join(dir, SERVING_KEY_FILE),
  };

  const ca = (await loadCa(paths.caCert, paths.caKey)) ?? (await createCa(paths.caCert, paths.caKey));
  const now = Date.now();
  if (ca.cert.notAfter.getTime() <= now) {
    throw new Error(
      `TLS: the controller CA in ${paths.caCert} expired on ${ca.cert.notAfter.toISOString()}; ` +
        'move the tls directory away to create a new CA (clients and agents must then trust the new one)',
    );
  }

  const existing = await loadServing(paths.cert, paths.key);
  if (existing && servingIsUsable(existing.cert, existing.key, ca, hosts, now)) {
    return { caCertPem: ca.certPem, certPem: existing.certPem, keyPem: existing.keyPem, userSupplied: false };
  }

  const issued = await issueServing(ca, hosts, now);
  // Key first: if we stop in between, the next start sees a cert/key mismatch and issues again.
  await writeFileAtomic(paths.key, issued.keyPem, 0o600);
  await writeFileAtomic(paths.cert, issued.certPem, 0o644);
  return { caCertPem: ca.certPem, certPem: issued.certPem, keyPem: issued.keyPem, userSupplied: false };
}

async function loadCa(certPath: string, keyPath: string): Promise<Ca | undefined> {
  const certPem = await readIfExists(certPath);
  if (certPem === undefined) return undefined;
  const keyPem = await readIfExists(keyPath);
  if (keyPem === undefined) {
    throw new Error(
      `TLS: ${certPath} exists but its key ${keyPath} is missing; restore the key, or move the tls ` +
        'directory away to create a new CA (clients and agents must then trust the new one)',
    );
  }
  let nodeCert: X509Certificate;
  let cert: x509.X509Certificate;
  try {
    nodeCert = new X509Certificate(certPem);
    cert = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new Error(`TLS: the CA certificate ${certPath} cannot be parsed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const key = parsePrivateKey(keyPem, `CA key ${keyPath}`);
  if (!nodeCert.checkPrivateKey(key)) {
    throw new Error(`TLS: the CA key ${keyPath} does not match the CA certificate ${certPath}`);
  }
  if (!nodeCert.ca) throw new Error(`TLS: ${certPath} is not a CA certificate (basicConstraints CA:FALSE)`);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`TLS: the CA key ${keyPath} must be an ECDSA P-256 key`);
  }
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, EC_KEY_ALG, false, ['sign']);
  return { cert, nodeCert, signingKey, certPem };
}

async function createCa(certPath: string, keyPath: string): Promise<Ca> {
  const keys = await generateKeyPair();
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [CA_COMMON_NAME] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: EC_SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = `${cert.toString('pem').trim()}\n`;
  await writeFileAtomic(keyPath, await exportKeyPem(keys.privateKey), 0o600);
  await writeFileAtomic(certPath, certPem, 0o644);
  return { cert, nodeCert: new X509Certificate(certPem), signingKey: keys.privateKey, certPem };
}

interface Serving {
  cert: X509Certificate;
  key: KeyObject;
  certPem: string;
  keyPem: string;
}

/** Reads the stored serving cert/key; anything missing or unreadable yields undefined (it gets re-issued). */
async function loadServing(certPath: string, keyPath: string): Promise<Serving | undefined> {
  const certPem = await readIfExists(certPath);
  const keyPem = await readIfExists(keyPath);
  if (certPem === undefined || keyPem === undefined) return undefined;
  try {
    return { cert: new X509Certificate(certPem), key: createPrivateKey(keyPem), certPem, keyPem };
  } catch {
    return undefined;
  }
}

function servingIsUsable(cert: X509Certificate, key: KeyObject, ca: Ca, hosts: Hosts, now: number): boolean {
  if (!cert.checkPrivateKey(key)) return false;
  if (!cert.checkIssued(ca.nodeCert) || !cert.verify(ca.nodeCert.publicKey)) return false;
  if (Date.parse(cert.validFrom) > now + BACKDATE_MS) return false;
  if (Date.parse(cert.validTo) - now < RENEW_BEFORE_MS) return false;
  const dnsSans = new Set(sanDnsNames(cert));
  return (
    hosts.dns.every((name) => dnsSans.has(name)) && hosts.ips.every((ip) => cert.checkIP(ip) !== undefined)
  );
}

function sanDnsNames(cert: X509Certificate): string[] {
  const san = new x509.X509Certificate(cert.raw).getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'dns').map((n) => n.value.toLowerCase());
}

async function issueServing(ca: Ca, hosts: Hosts, now: number): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const notBefore = new Date(now - BACKDATE_MS);
  const notAfter = new Date(Math.min(now + SERVING_VALIDITY_DAYS * DAY_MS, ca.cert.notAfter.getTime()));
  const caSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const names: x509.JsonGeneralNames = [
    ...hosts.dns.map((value) => ({ type: 'dns' as const, value })),
    ...hosts.ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [SERVING_COMMON_NAME] }],
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: EC_SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      caSki
        ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId)
        : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  });
  return { certPem: `${cert.toString('pem').trim()}\n`, keyPem: await exportKeyPem(keys.privateKey) };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

export async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY_ALG, true, ['sign', 'verify']);
}

/** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). */
export async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/** 16 random bytes, high bit cleared so the DER INTEGER stays positive and 16 bytes long. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function parsePrivateKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const hint = code === 'ERR_MISSING_PASSPHRASE' ? ' (encrypted keys are not supported)' : '';
    throw new Error(`TLS: ${what} is not a readable private key${hint}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`TLS: cannot read ${what} ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new Error(`TLS: cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Writes via a temp file + rename so that a crash never leaves a half-written file behind. */
async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have narrowed or (for 0644) kept the mode; make it exact
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

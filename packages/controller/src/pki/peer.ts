// The replicas' own authority, for their mutual TLS to each other and for nothing else: a request that
// arrives on the peer listener has already been authenticated, authorized and recorded by the replica that
// sends it, so only a replica may send one. The CA lives in the database (the first replica creates it;
// its key sealed with the secrets key that all replicas share), and each replica issues itself a leaf at
// every start, naming its replica id in a URI SAN that the caller checks against the replica it meant.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { SecretBox } from '../store/sealed.js';
import { BACKDATE_MS, EC_KEY_ALG, EC_SIGN_ALG, exportKeyPem, generateKeyPair, randomSerial } from './ca.js';

const AUTHORITY_ROW = 'peer';
const SEAL_CONTEXT = 'peer-authority-key';
const CA_VALIDITY_MS = 10 * 365 * 24 * 3600_000;

/** The SAN naming a replica in its peer certificate. */
export function replicaUri(replicaId: string): string {
  return `urn:ztka:replica:${replicaId}`;
}

export interface PeerCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
}

async function createAuthority(): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: ['ztka replicas CA'] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_VALIDITY_MS),
    keys,
    signingAlgorithm: EC_SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString('pem').trim()}\n`, keyPem: await exportKeyPem(keys.privateKey) };
}

/** The authority of the replicas on `db`, created by whichever replica gets there first. */
async function loadOrCreateAuthority(
  db: Kysely<Database>,
  box: SecretBox,
): Promise<{ certPem: string; keyPem: string }> {
  const read = () =>
    db.selectFrom('peer_authority').selectAll().where('id', '=', AUTHORITY_ROW).executeTakeFirst();
  let row = await read();
  if (!row) {
    const made = await createAuthority();
    await db
      .insertInto('peer_authority')
      .values({
        id: AUTHORITY_ROW,
        cert_pem: made.certPem,
        // The certificate is sealed with its key: what the replicas trust is only what the secrets key
        // vouches for, never a column a database writer could append a CA of their own to.
        key_sealed: box.seal(JSON.stringify(made), SEAL_CONTEXT),
        created_at: Date.now(),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    row = await read();
  }
  if (!row) throw new Error('the replicas CA could not be stored');
  let sealed: { certPem?: unknown; keyPem?: unknown };
  try {
    sealed = JSON.parse(box.open(row.key_sealed, SEAL_CONTEXT)) as typeof sealed;
  } catch (err) {
    throw new Error(
      'the replicas CA in the database was sealed with another secrets key: every replica on one database ' +
        'must use the same --secrets-key-file',
      { cause: err },
    );
  }
  const { certPem, keyPem } = sealed;
  if (
    typeof certPem !== 'string' ||
    typeof keyPem !== 'string' ||
    row.cert_pem !== certPem ||
    !new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))
  )
    throw new Error(
      'the replicas CA in the database does not match what was sealed with it: it was altered; refusing to ' +
        'trust it (restore the peer_authority row, or delete it while every replica is stopped)',
    );
  return { certPem, keyPem };
}

/** This replica's peer certificate and key, and the CA its peers are checked against. */
export async function peerCredentials(
  db: Kysely<Database>,
  box: SecretBox,
  replicaId: string,
): Promise<PeerCredentials> {
  const authority = await loadOrCreateAuthority(db, box);
  const caCert = new x509.X509Certificate(authority.certPem);
  const der = createPrivateKey(authority.keyPem).export({ type: 'pkcs8', format: 'der' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, EC_KEY_ALG, false, ['sign']);
  const keys = await generateKeyPair();
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [`ztka replica ${replicaId}`] }],
    issuer: caCert.subjectName,
    notBefore,
    // As long as the CA: a leaf is made at every start and its key never leaves the process, and a replica
    // up longer than a shorter leaf would silently lose its peers.
    notAfter: caCert.notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: EC_SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: replicaUri(replicaId) }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    caPem: authority.certPem,
    certPem: `${cert.toString('pem').trim()}\n`,
    keyPem: await exportKeyPem(keys.privateKey),
  };
}

/** The replica id a verified peer certificate names, if it names one. */
export function replicaOf(cert: { subjectaltname?: string } | undefined): string | undefined {
  const prefix = `URI:${replicaUri('')}`;
  for (const name of (cert?.subjectaltname ?? '').split(', '))
    if (name.startsWith(prefix)) return name.slice(prefix.length);
  return undefined;
}

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files of the environment's private PKI, all PEM. */
export interface Pki {
  caCert: string;
  caKey: string;
  /** Serving certificate for 127.0.0.1/localhost: the apiserver and kwok's kubelet endpoint. */
  servingCert: string;
  servingKey: string;
  /** Client certificate in group system:masters. */
  adminCert: string;
  adminKey: string;
  /** Key pair that signs and verifies service-account tokens. */
  saKey: string;
  saPub: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Issues a certificate signed by `pki`'s CA as `dir/<name>.crt` and `.key`, for the given x509v3 extensions. */
export async function issueCert(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  pki: Pick<Pki, 'caCert' | 'caKey'>,
) {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  await openssl(['req', ...ecKey, '-keyout', key, '-out', csr, '-subj', subject]);
  await fs.writeFile(ext, extensions);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-set_serial',
    `0x1${randomBytes(15).toString('hex')}`,
    '-days',
    '3650',
    '-out',
    cert,
    '-extfile',
    ext,
  ]);
  await Promise.all([fs.rm(csr), fs.rm(ext)]);
  return { cert, key };
}

/** A self-signed CA, `dir/ca.crt` and `dir/ca.key`, valid ten years. */
export async function createCa(dir: string, subject: string): Promise<Pick<Pki, 'caCert' | 'caKey'>> {
  const caCert = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '3650',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { caCert, caKey };
}

/** Creates a fresh CA and the certificates the control plane needs, in `dir`. */
export async function createPki(dir: string): Promise<Pki> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa(dir, '/CN=ztka-testenv-ca');
  const serving = await issueCert(
    dir,
    'serving',
    '/CN=kube-apiserver',
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      // 10.96.0.1 is the `kubernetes` Service's cluster IP, which in-cluster clients dial by name.
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    ].join('\n') + '\n',
    ca,
  );
  const admin = await issueCert(
    dir,
    'admin',
    '/O=system:masters/CN=ztka-testenv-admin',
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
    ca,
  );
  const saKey = path.join(dir, 'sa.key');
  const saPub = path.join(dir, 'sa.pub');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', saKey]);
  await openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub]);
  return {
    ...ca,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    saKey,
    saPub,
  };
}

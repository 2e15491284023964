// The provider's TLS: a CA of its own and a serving certificate for 127.0.0.1 and localhost, made once per
// state directory so a relying party that trusts the CA keeps trusting the provider across restarts.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createCa, issueCert } from '../pki.js';

export interface ProviderTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

export async function ensureTls(stateDir: string): Promise<ProviderTls> {
  const dir = path.join(stateDir, 'tls');
  const tls = {
    caFile: path.join(dir, 'ca.crt'),
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
  };
  if ((await Promise.all(Object.values(tls).map(exists))).every(Boolean)) return tls;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa(dir, '/CN=ztka-test-oidc-provider-ca');
  await issueCert(
    dir,
    'server',
    '/CN=ztka-test-oidc-provider',
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ].join('\n') + '\n',
    ca,
  );
  return tls;
}

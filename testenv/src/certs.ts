import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let selfSigned: { key: string; cert: string } | undefined;

/**
 * A self-signed ECDSA certificate for 127.0.0.1 and localhost, made once per test process, for unit tests
 * that need a TLS server on loopback (a stand-in controller, a stand-in apiserver).
 */
export function selfSignedCert(): { key: string; cert: string } {
  if (selfSigned !== undefined) return selfSigned;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ztka-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-days',
        '1',
        '-keyout',
        path.join(dir, 'k'),
        '-out',
        path.join(dir, 'c'),
      ],
      { stdio: 'ignore' },
    );
    selfSigned = {
      key: readFileSync(path.join(dir, 'k'), 'utf8'),
      cert: readFileSync(path.join(dir, 'c'), 'utf8'),
    };
    return selfSigned;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The fake controller held to the real one: every API request the CLI sent to a fake in a test file is sent
// again, without credentials, to a controller started in this process once that file's tests are done. The
// server checks a request's route, parameters, query and body against its schemas before it asks who is
// calling, so an answer other than 400, 404, 405 or 415 means the request has a shape the server takes; those
// four mean the CLI's tests pass against an API the server does not have.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@ztka/controller/config';
import { startController } from '@ztka/controller/server';

export interface SentRequest {
  method: string;
  /** The path and query as the CLI sent them. */
  url: string;
  contentType: string | undefined;
  body: string;
}

const REFUSED = new Set([400, 404, 405, 415]);

/** What the server answers `request` with, sent without credentials. */
function replay(url: string, ca: string, request: SentRequest): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${url}${request.url}`,
      {
        method: request.method,
        ca,
        // One connection per request, closed after it: nothing left open to hold up the server's close.
        agent: false,
        headers: {
          ...(request.contentType === undefined ? {} : { 'content-type': request.contentType }),
          ...(request.body === '' ? {} : { 'content-length': String(Buffer.byteLength(request.body)) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(request.body === '' ? undefined : request.body);
  });
}

/** Fails with every request in `sent` that the server's routes or schemas refuse. */
export async function assertServerTakes(sent: readonly SentRequest[]): Promise<void> {
  const distinct = new Map(sent.map((r) => [`${r.method} ${r.url} ${r.body}`, r]));
  if (distinct.size === 0) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-cli-contract-'));
  const server = await startController(
    loadConfig(['--data-dir', dir, '--listen', '127.0.0.1:0', '--log-level', 'fatal'], {}),
  );
  try {
    const refused: string[] = [];
    for (const request of distinct.values()) {
      const answer = await replay(server.url, server.caCertPem, request);
      if (REFUSED.has(answer.status))
        refused.push(`${request.method} ${request.url}: ${answer.status} ${answer.text.slice(0, 300)}`);
    }
    assert.deepEqual(refused, [], 'requests the fake took and the server refuses');
  } finally {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

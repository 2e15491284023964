// Dials a controller's agents' endpoint as an agent would, over the HTTP/2 upgrade: the status it answers
// (101 is hung up at once).
import https from 'node:https';

export function dialAgentEndpoint(
  controller: { url: string; ca: string },
  headers: Record<string, string>,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = https.request(`${controller.url}/v1/agents/connect`, {
      ca: controller.ca,
      agent: false,
      headers: { connection: 'Upgrade', ...headers },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

// The stored login turned into an API client, for every command that talks to the controller.
import { Option } from 'commander';
import { Client } from './client.js';
import { requireLogin, type Login } from './config.js';

export function serverOption(): Option {
  return new Option('--server <url>', 'controller URL (default: the one you logged in to)');
}

export interface Session {
  login: Login;
  client: Client;
}

export async function connect(server: string | undefined): Promise<Session> {
  const login = await requireLogin(server);
  return { login, client: new Client({ server: login.server, ca: login.ca, apiKey: login.apiKey }) };
}

/** A path segment from user input, so a name cannot step into another route. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

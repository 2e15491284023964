// The stored login turned into an API client, for every command that talks to the controller.
import { Option } from 'commander';

export { connect, type Session } from './connect.js';

export function serverOption(): Option {
  return new Option('--server <url>', 'controller URL (default: the one you logged in to)');
}

/** A path segment from user input, so a name cannot step into another route. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

// Toasts for the outcome of an action; errors carry the API's message.
import { notifications } from '@mantine/notifications';
import { errorMessage } from '../lib/api.js';

export function notifyError(err: unknown, title = 'That did not work'): void {
  notifications.show({ color: 'red', title, message: errorMessage(err), autoClose: 8000 });
}

export function notifyDone(message: string): void {
  notifications.show({ color: 'teal', message, autoClose: 3000 });
}

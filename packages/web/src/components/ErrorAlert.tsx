import { Alert } from '@mantine/core';
import { ApiError, errorMessage } from '../lib/api.js';

/** An API error inline: its message, and the field at fault when the API named one. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (error === undefined || error === null) return null;
  const field = error instanceof ApiError && error.field ? ` (${error.field.replace(/^\//, '')})` : '';
  return (
    <Alert color="red" variant="light" title={title ?? 'Error'} role="alert">
      {errorMessage(error)}
      {field}
    </Alert>
  );
}

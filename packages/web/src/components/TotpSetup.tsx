// Enrolling an authenticator app: the seed as the otpauth URI (which authenticator apps import) and as the
// bare secret for typing in, each with a copy button, then a first code to turn it on. Used signed in (the
// account's "Two-factor authentication") and during a login the org holds back until the person enrols,
// with the enrolment token that login was handed.
import { Button, Group, Stack, Text, TextInput } from '@mantine/core';
import { useEffect, useState, type FormEvent } from 'react';
import { isTotpCode } from '@ztka/protocol/totp';
import { request } from '../lib/api.js';
import type { TotpEnrolment } from '../lib/types.js';
import { CopyLine } from './CodeBlock.js';
import { ErrorAlert } from './ErrorAlert.js';

/** A 6-digit code field; the browser may offer a one-time code it received. */
export function TotpCodeInput(props: {
  value: string;
  onChange(value: string): void;
  label?: string;
  testid: string;
}) {
  return (
    <TextInput
      label={props.label ?? 'Code from your authenticator app'}
      placeholder="123456"
      inputMode="numeric"
      autoComplete="one-time-code"
      maxLength={6}
      required
      value={props.value}
      onChange={(e) => props.onChange(e.currentTarget.value.replace(/\s/g, ''))}
      data-testid={props.testid}
    />
  );
}

export function TotpSetup({ bearer, onEnrolled }: { bearer?: string; onEnrolled(): void }) {
  const [enrolment, setEnrolment] = useState<TotpEnrolment>();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const auth = bearer === undefined ? {} : { bearer };

  useEffect(() => {
    let live = true;
    request<TotpEnrolment>('/v1/auth/totp', { method: 'POST', ...auth }).then(
      (e) => live && setEnrolment(e),
      (err: unknown) => live && setError(err),
    );
    return () => {
      live = false;
    };
    // One enrolment per mount: a new one would replace the seed the person may be scanning.
  }, []);

  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await request<void>('/v1/auth/totp/confirm', { method: 'POST', body: { code }, ...auth });
      onEnrolled();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void confirm(e)}>
      <Stack>
        <Text size="sm">
          Add ztka to your authenticator app: import the URI, or type in the secret (time-based, 6 digits, 30
          seconds). Then enter the code it shows.
        </Text>
        {enrolment && (
          <>
            <Stack gap={4}>
              <Text size="xs" c="dimmed">
                URI
              </Text>
              <CopyLine text={enrolment.uri} data-testid="totp-uri" />
            </Stack>
            <Stack gap={4}>
              <Text size="xs" c="dimmed">
                Secret
              </Text>
              <CopyLine text={enrolment.secret} data-testid="totp-secret" />
            </Stack>
            <TotpCodeInput value={code} onChange={setCode} testid="totp-enrol-code" />
          </>
        )}
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button
            type="submit"
            loading={busy}
            disabled={!enrolment || !isTotpCode(code)}
            data-testid="totp-enrol-submit"
          >
            Turn on
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

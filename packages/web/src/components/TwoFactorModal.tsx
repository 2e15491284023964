// The signed-in person's own two-factor authentication: set it up, or turn it off with a current code.
import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { isTotpCode } from '@ztka/protocol/totp';
import { api } from '../lib/api.js';
import { useAuth } from '../lib/auth.js';
import { ErrorAlert } from './ErrorAlert.js';
import { TotpCodeInput, TotpSetup } from './TotpSetup.js';
import { notifyDone } from './notify.js';

function TurnOff({ onDone }: { onDone(): void }) {
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.del('/v1/auth/totp', { code });
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <Stack>
        <Text size="sm" data-testid="totp-state">
          Two-factor authentication is on: signing in with your password also takes a code from your app.
        </Text>
        <TotpCodeInput
          value={code}
          onChange={setCode}
          label="A current code, to turn it off"
          testid="totp-remove-code"
        />
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button
            type="submit"
            color="red"
            loading={busy}
            disabled={!isTotpCode(code)}
            data-testid="totp-remove-submit"
          >
            Turn off
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function TwoFactorModal({ opened, onClose }: { opened: boolean; onClose(): void }) {
  const { me, refresh } = useAuth();
  const done = (message: string) => {
    notifyDone(message);
    void refresh();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={onClose} title="Two-factor authentication" centered size="lg">
      {opened && me?.totp === 'on' && <TurnOff onDone={() => done('Two-factor authentication is off')} />}
      {opened && me?.totp !== 'on' && (
        <TotpSetup onEnrolled={() => done('Two-factor authentication is on')} />
      )}
    </Modal>
  );
}

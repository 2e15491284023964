// A modal form: fields as children, one submit action, its error shown inline and the modal kept open.
import { Button, Group, Modal, Stack } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { ErrorAlert } from './ErrorAlert.js';

export interface FormModalProps {
  opened: boolean;
  onClose(): void;
  title: string;
  submitLabel: string;
  /** Throws to keep the modal open with the error shown. */
  onSubmit(): Promise<void>;
  children: ReactNode;
  submitDisabled?: boolean;
  danger?: boolean;
}

export function FormModal(props: FormModalProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const close = () => {
    setError(undefined);
    props.onClose();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await props.onSubmit();
      close();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened={props.opened} onClose={close} title={props.title} centered>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          {props.children}
          <ErrorAlert error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={close} disabled={busy}>
              Cancel
            </Button>
            <Button
              type="submit"
              loading={busy}
              disabled={props.submitDisabled ?? false}
              {...(props.danger ? { color: 'red' } : {})}
            >
              {props.submitLabel}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

// A button for a destructive action that asks first.
import { Button, Text, type ButtonProps } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { FormModal } from './FormModal.js';

interface ConfirmButtonProps extends Omit<ButtonProps, 'children' | 'onClick'> {
  label: string;
  title: string;
  message: ReactNode;
  confirmLabel?: string;
  onConfirm(): Promise<void>;
  'data-testid'?: string;
}

export function ConfirmButton({
  label,
  title,
  message,
  confirmLabel,
  onConfirm,
  ...button
}: ConfirmButtonProps) {
  const [opened, setOpened] = useState(false);
  return (
    <>
      <Button size="xs" variant="light" color="red" {...button} onClick={() => setOpened(true)}>
        {label}
      </Button>
      <FormModal
        opened={opened}
        onClose={() => setOpened(false)}
        title={title}
        submitLabel={confirmLabel ?? label}
        onSubmit={onConfirm}
        danger
      >
        <Text size="sm">{message}</Text>
      </FormModal>
    </>
  );
}

// Text and autocomplete filters that commit as the person pauses typing.
import { Autocomplete, TextInput } from '@mantine/core';
import type { KeyboardEvent } from 'react';
import { useDraft } from './use-draft.js';

interface FilterTextProps {
  label: string;
  value: string;
  onCommit(value: string): void;
  placeholder?: string;
  /** Suggestions turn the input into an Autocomplete (free text still allowed). */
  suggestions?: string[];
  'data-testid'?: string;
  w?: number;
}

export function FilterText({
  label,
  value,
  onCommit,
  placeholder,
  suggestions,
  w,
  ...rest
}: FilterTextProps) {
  const { draft, change, flush } = useDraft(value, onCommit);
  const common = {
    label,
    ...(placeholder ? { placeholder } : {}),
    value: draft,
    onBlur: flush,
    onKeyDown: (e: KeyboardEvent) => {
      if (e.key === 'Enter') flush();
    },
    w: w ?? 160,
    size: 'xs' as const,
    'data-testid': rest['data-testid'],
  };
  if (suggestions)
    return (
      <Autocomplete
        {...common}
        data={suggestions}
        onChange={change}
        onOptionSubmit={(v) => {
          change(v);
          onCommit(v);
        }}
        limit={50}
      />
    );
  return <TextInput {...common} onChange={(e) => change(e.currentTarget.value)} />;
}

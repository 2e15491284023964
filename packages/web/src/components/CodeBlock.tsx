// Read-only text (a manifest, a record) in a scrolling block, with Copy and optionally Download.
import { Button, Code, CopyButton, Group, ScrollArea, Stack } from '@mantine/core';
import { saveText } from '../lib/download.js';

interface CodeBlockProps {
  text: string;
  /** Offers a Download button saving the text under this name. */
  filename?: string;
  maxHeight?: number;
  'data-testid'?: string;
}

export function CodeBlock({ text, filename, maxHeight = 320, ...rest }: CodeBlockProps) {
  return (
    <Stack gap="xs">
      <ScrollArea.Autosize mah={maxHeight} type="auto">
        <Code block data-testid={rest['data-testid']}>
          {text}
        </Code>
      </ScrollArea.Autosize>
      <Group gap="xs">
        <CopyButton value={text}>
          {({ copied, copy }) => (
            <Button size="xs" variant="light" {...(copied ? { color: 'teal' } : {})} onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </Button>
          )}
        </CopyButton>
        {filename && (
          <Button size="xs" variant="light" onClick={() => saveText(filename, text)}>
            Download
          </Button>
        )}
      </Group>
    </Stack>
  );
}

/** One copyable line, such as a command to run. */
export function CopyLine({ text, ...rest }: { text: string; 'data-testid'?: string }) {
  return (
    <Group gap="xs" wrap="nowrap">
      <Code style={{ flex: 1, overflowX: 'auto', whiteSpace: 'nowrap' }} data-testid={rest['data-testid']}>
        {text}
      </Code>
      <CopyButton value={text}>
        {({ copied, copy }) => (
          <Button size="xs" variant="light" {...(copied ? { color: 'teal' } : {})} onClick={copy}>
            {copied ? 'Copied' : 'Copy'}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}

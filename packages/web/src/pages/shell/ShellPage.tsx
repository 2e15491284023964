// The browser kubectl shell: a full-height xterm.js terminal (DOM renderer) wired to /v1/shell. The client
// only forwards keystrokes and sizes; the server edits lines, prints the prompt and keeps history.
import '@xterm/xterm/css/xterm.css';
import { Badge, Box, Button, Group, Text } from '@mantine/core';
import { useDocumentTitle } from '@mantine/hooks';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api } from '../../lib/api.js';
import { ShellSocket, plainText, shellUrl } from '../../lib/shell-socket.js';

type Status = 'connecting' | 'connected' | 'ended';

const DIM = (text: string) => `\r\n\x1b[2m${plainText(text)}\x1b[0m\r\n`;
const BACKGROUND = '#1a1b1e';

export function ShellPage() {
  const { cluster = '' } = useParams();
  const navigate = useNavigate();
  const containerRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | undefined>(undefined);
  const socketRef = useRef<ShellSocket | undefined>(undefined);
  const [status, setStatus] = useState<Status>('connecting');
  const [attempt, setAttempt] = useState(0);
  useDocumentTitle(`kubectl · ${cluster} · ztka`);

  // The terminal lives as long as the page.
  useEffect(() => {
    const el = containerRef.current;
    if (!el) return;
    const term = new Terminal({
      cursorBlink: true,
      convertEol: true,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: BACKGROUND },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // not laid out yet
      }
    };
    refit();
    const observer = new ResizeObserver(refit);
    observer.observe(el);
    const onData = term.onData((data) => socketRef.current?.input(data));
    const onResize = term.onResize(({ cols, rows }) => socketRef.current?.resize(cols, rows));
    termRef.current = term;
    term.focus();
    return () => {
      observer.disconnect();
      onData.dispose();
      onResize.dispose();
      termRef.current = undefined;
      term.dispose();
    };
  }, []);

  // One socket per attempt; Reconnect makes a new attempt.
  useEffect(() => {
    const term = termRef.current;
    if (!term || !cluster) return;
    setStatus('connecting');
    if (attempt > 0) term.write(DIM('reconnecting…'));
    const socket = new ShellSocket(shellUrl(window.location, cluster), {
      onOpen: () => {
        setStatus('connected');
        term.focus();
      },
      onOutput: (data) => term.write(data),
      onExit: (reason) => {
        term.write(DIM(reason || 'the shell exited'));
        setStatus('ended');
      },
      onClose: (opened) => {
        term.write(DIM('session ended'));
        setStatus('ended');
        // A refused upgrade may mean the session expired: whoami's 401 sends the person to the login page.
        if (!opened) void api.get('/v1/auth/whoami').catch(() => undefined);
      },
    });
    socket.resize(term.cols, term.rows);
    socketRef.current = socket;
    return () => {
      socket.dispose();
      if (socketRef.current === socket) socketRef.current = undefined;
    };
  }, [cluster, attempt]);

  return (
    <Box h="100vh" style={{ display: 'flex', flexDirection: 'column', background: BACKGROUND }}>
      <Group justify="space-between" px="md" py={6} bg="dark.8" wrap="nowrap">
        <Group gap="sm" wrap="nowrap">
          <Text c="gray.0" fw={600}>
            kubectl
          </Text>
          <Text c="gray.4" data-testid="shell-cluster">
            {cluster}
          </Text>
          <Badge
            color={status === 'connected' ? 'teal' : status === 'connecting' ? 'yellow' : 'gray'}
            variant="light"
            data-testid="shell-status"
          >
            {status === 'ended' ? 'disconnected' : status}
          </Badge>
        </Group>
        <Group gap="xs" wrap="nowrap">
          {status === 'ended' && (
            <Button size="xs" onClick={() => setAttempt((a) => a + 1)} data-testid="shell-reconnect">
              Reconnect
            </Button>
          )}
          <Button size="xs" variant="default" onClick={() => navigate('/clusters')} data-testid="shell-close">
            Close
          </Button>
        </Group>
      </Group>
      <Box p={6} style={{ flex: 1, minHeight: 0 }}>
        <div ref={containerRef} data-testid="terminal" style={{ height: '100%', width: '100%' }} />
      </Box>
    </Box>
  );
}

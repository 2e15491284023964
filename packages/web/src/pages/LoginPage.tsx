// Signing in: username and password, then — when the account has TOTP — a code as a second step; when the
// org requires TOTP of someone who has none yet, enrolling an authenticator app with the token the login
// was handed, then the code.
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { isTotpCode } from '@ztka/protocol/totp';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { SsoLogin } from '../components/SsoLogin.js';
import { TotpCodeInput, TotpSetup } from '../components/TotpSetup.js';
import { ApiError } from '../lib/api.js';
import { useAuth } from '../lib/auth.js';

/** Where the sign-in stands: the password, a code for it, or enrolling before a code can be given. */
type Step = { kind: 'password' } | { kind: 'code'; enrolled: boolean } | { kind: 'enrol'; token: string };

/** Only paths of this console: never another origin (`//host`) from a crafted link. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

export function LoginPage() {
  const { status, login, notice } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  if (status === 'signed-in' && !busy) return <Navigate to={next} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(username.trim(), password, step.kind === 'code' ? code : undefined);
      navigate(next, { replace: true });
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'totp_required') {
        setStep({ kind: 'code', enrolled: false });
        return;
      }
      if (err instanceof ApiError && err.code === 'totp_enrolment_required' && err.enrolment) {
        setStep({ kind: 'enrol', token: err.enrolment.enrolmentToken });
        return;
      }
      setError(err);
    }
  };

  const startOver = () => {
    setStep({ kind: 'password' });
    setCode('');
    setPassword('');
    setError(undefined);
  };

  const startOverButton = (
    <Button variant="subtle" size="xs" onClick={startOver} data-testid="login-start-over">
      Sign in as someone else
    </Button>
  );

  return (
    <Center mih="100vh" bg="gray.0" p="md">
      <Paper withBorder shadow="sm" p="xl" radius="md" w={380}>
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <div>
              <Title order={2}>ztka</Title>
              <Text c="dimmed" size="sm">
                Zero trust kubectl access
              </Text>
            </div>
            <SsoLogin error={params.get('sso_error')} />
            {notice && !error && (
              <Alert color="yellow" variant="light">
                {notice}
              </Alert>
            )}
            {step.kind === 'password' && (
              <>
                <TextInput
                  label="Username"
                  placeholder="you@example.com"
                  autoComplete="username"
                  autoFocus
                  required
                  value={username}
                  onChange={(e) => setUsername(e.currentTarget.value)}
                  data-testid="login-username"
                />
                <PasswordInput
                  label="Password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.currentTarget.value)}
                  data-testid="login-password"
                />
              </>
            )}
            {step.kind === 'code' && (
              <>
                <Text size="sm" data-testid="login-totp-prompt">
                  {step.enrolled
                    ? 'Two-factor authentication is on. Wait for your app to show a new code, and enter it to sign in.'
                    : 'Enter the code your authenticator app shows for ztka.'}
                </Text>
                <TotpCodeInput value={code} onChange={setCode} testid="login-totp" />
              </>
            )}
            {step.kind !== 'enrol' && (
              <>
                <ErrorAlert error={error} title="Sign-in failed" />
                <Button
                  type="submit"
                  loading={busy}
                  disabled={step.kind === 'code' && !isTotpCode(code)}
                  data-testid="login-submit"
                >
                  Sign in
                </Button>
              </>
            )}
            {step.kind === 'code' && startOverButton}
          </Stack>
        </form>
        {step.kind === 'enrol' && (
          <Stack mt="md" data-testid="login-enrol">
            <Alert color="blue" variant="light">
              This organization requires two-factor authentication. Set up an authenticator app to sign in.
            </Alert>
            <TotpSetup
              bearer={step.token}
              onEnrolled={() => {
                setCode('');
                setStep({ kind: 'code', enrolled: true });
              }}
            />
            {startOverButton}
          </Stack>
        )}
      </Paper>
    </Center>
  );
}

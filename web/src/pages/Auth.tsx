import { useState } from 'preact/hooks';
import { Field } from '../components/Field';
import { ApiError, friendlyMessage } from '../lib/api';
import { confirmPasswordReset, register, requestPasswordReset, safeNext, signIn } from '../lib/auth';
import { Link, navigate } from '../lib/router';

/** Form plumbing: busy flag (a double click sends one request), the last error, submit wrapper. */
function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [other, setOther] = useState<unknown>(null);
  async function run(action: () => Promise<void>) {
    if (busy) return;
    setBusy(true);
    setError(null);
    setOther(null);
    try {
      await action();
    } catch (e) {
      if (e instanceof ApiError) setError(e);
      else setOther(e);
    } finally {
      setBusy(false);
    }
  }
  const problem = error ?? other;
  return { busy, error, problem, run };
}

function FormError({ problem }: { problem: unknown }) {
  if (!problem) return null;
  return (
    <div class="form-error" role="alert">
      {friendlyMessage(problem)}
    </div>
  );
}

export function SignIn({ search }: { search: string }) {
  const next = safeNext(new URLSearchParams(search).get('next'));
  const form = useSubmit();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Sign in</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void form.run(async () => {
            await signIn(email.trim(), password);
            navigate(next, { replace: true });
          });
        }}
        noValidate
      >
        <FormError problem={form.error?.status === 401 ? new ApiError(400, 'That e-mail and password do not match an account.') : form.problem} />
        <Field label="E-mail" name="email" type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} error={form.error} />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} error={form.error} />
        <button class="button" type="submit" disabled={form.busy}>
          {form.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        <Link href="/password-reset">Forgot your password?</Link>
      </p>
      <p>
        New to Vanity? <Link href={`/register${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`}>Create an account</Link>
      </p>
    </div>
  );
}

export function Register({ search }: { search: string }) {
  const next = safeNext(new URLSearchParams(search).get('next'));
  const form = useSubmit();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Create an account</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void form.run(async () => {
            await register(email.trim(), name.trim(), password);
            await signIn(email.trim(), password);
            navigate(next, { replace: true });
          });
        }}
        noValidate
      >
        <FormError problem={form.problem} />
        <Field label="Name" name="name" autoComplete="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} error={form.error} />
        <Field label="E-mail" name="email" type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} error={form.error} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          hint="At least 12 characters; a passphrase works well."
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          error={form.error}
        />
        <button class="button" type="submit" disabled={form.busy}>
          {form.busy ? 'Creating your account…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account? <Link href="/signin">Sign in</Link>
      </p>
    </div>
  );
}

export function ResetRequest() {
  const form = useSubmit();
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Reset your password</h1>
      {sent ? (
        <p role="status">If an account exists for {email}, a reset link is on its way. It is valid for a short time.</p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void form.run(async () => {
              await requestPasswordReset(email.trim());
              setSent(true);
            });
          }}
          noValidate
        >
          <FormError problem={form.problem} />
          <Field label="E-mail" name="email" type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} error={form.error} />
          <button class="button" type="submit" disabled={form.busy}>
            Send reset link
          </button>
        </form>
      )}
      <p>
        <Link href="/signin">Back to sign in</Link>
      </p>
    </div>
  );
}

export function ResetConfirm({ search }: { search: string }) {
  const token = new URLSearchParams(search).get('token') ?? '';
  const form = useSubmit();
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  if (!token)
    return (
      <div class="narrow">
        <h1 tabIndex={-1}>Choose a new password</h1>
        <p role="alert">This link is incomplete. Please open the link from the e-mail again, or <Link href="/password-reset">ask for a new one</Link>.</p>
      </div>
    );
  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Choose a new password</h1>
      {done ? (
        <p role="status">
          Your password has been changed. <Link href="/signin">Sign in</Link>
        </p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void form.run(async () => {
              await confirmPasswordReset(token, password);
              setDone(true);
            });
          }}
          noValidate
        >
          {form.error?.reason === 'INVALID_RESET_TOKEN' ? (
            <div class="form-error" role="alert">
              {form.error.message} <Link href="/password-reset">Ask for a new link</Link>.
            </div>
          ) : (
            <FormError problem={form.problem} />
          )}
          <Field
            label="New password"
            name="new_password"
            type="password"
            autoComplete="new-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            error={form.error}
          />
          <button class="button" type="submit" disabled={form.busy}>
            Change password
          </button>
        </form>
      )}
    </div>
  );
}

export { useSubmit, FormError };

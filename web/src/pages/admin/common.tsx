import type { ComponentChildren, Ref } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorState } from '../../components/Status';
import { ApiError, friendlyMessage } from '../../lib/api';
import { Link, navigate } from '../../lib/router';

export function NotAllowed() {
  return (
    <div class="status status-error" role="alert" data-testid="admin-refused">
      <h1 tabIndex={-1}>Not allowed</h1>
      <p>Your account is not allowed to open the admin console.</p>
      <p>
        <Link href="/">Back to the shop</Link>
      </p>
    </div>
  );
}

/** A 403 from the service (no such permission) reads as "not allowed"; anything else can be retried. */
export function Refusable({ error, retry }: { error: unknown; retry: () => void }) {
  if (error instanceof ApiError && error.status === 403) return <NotAllowed />;
  return <ErrorState error={error} onRetry={retry} />;
}

export function Table({
  label,
  caption,
  children,
  wrapRef,
}: {
  label: string;
  caption: string;
  children: ComponentChildren;
  wrapRef?: Ref<HTMLDivElement>;
}) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label} ref={wrapRef}>
      <table>
        <caption class="visually-hidden">{caption}</caption>
        {children}
      </table>
    </div>
  );
}

/** Filters live in the URL (shareable, Back works): the form writes them, the list reads them. */
export function FilterForm({ base, search, children, label }: { base: string; search: string; label: string; children: ComponentChildren }) {
  return (
    <form
      class="admin-filters"
      aria-label={label}
      key={search}
      onSubmit={(e) => {
        e.preventDefault();
        const params = new URLSearchParams();
        for (const [name, value] of new FormData(e.currentTarget)) {
          if (typeof value === 'string' && value.trim()) params.set(name, value.trim());
        }
        const query = params.toString();
        navigate(`${base}${query ? `?${query}` : ''}`);
      }}
    >
      {children}
      <button type="submit" class="button secondary">
        Apply
      </button>
    </form>
  );
}

/** One admin action's state: busy while in flight, its error (or success note) shown beside it. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  async function run(action: () => Promise<string | void>) {
    if (busy) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      setDone((await action()) ?? null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, done, run };
}

export function ActionResult({ action, testId }: { action: ReturnType<typeof useAction>; testId?: string }) {
  if (action.error !== null)
    return (
      <div class="form-error" role="alert" data-testid={testId ? `${testId}-error` : undefined}>
        {friendlyMessage(action.error)}
        {action.error instanceof ApiError &&
          action.error.fieldErrors.map((f) => (
            <span key={f.field} class="field-note">
              {' '}
              ({f.field.split('.').pop()}: {f.message})
            </span>
          ))}
      </div>
    );
  if (action.done)
    return (
      <p class="form-ok" role="status" data-testid={testId ? `${testId}-done` : undefined}>
        {action.done}
      </p>
    );
  return null;
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

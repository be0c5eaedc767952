import type { ComponentChildren } from 'preact';
import { friendlyMessage } from '../lib/api';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div class="status status-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

/** Every failed call ends here: a plain message and, always, a way to try again. */
export function ErrorState({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  return (
    <div class="status status-error" role="alert">
      {title && <p class="status-title">{title}</p>}
      <p>{friendlyMessage(error)}</p>
      {onRetry && (
        <button type="button" class="button secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="status status-empty">{children}</div>;
}

import type { JSX } from 'preact';
import type { ApiError } from '../lib/api';

type InputProps = JSX.InputHTMLAttributes<HTMLInputElement> & {
  label: string;
  name: string;
  error?: ApiError | null;
  hint?: string;
};

/** A labelled input whose server-side error (by field name) is announced and linked to it. */
export function Field({ label, name, error, hint, ...input }: InputProps) {
  const id = `field-${name}`;
  const message = error?.fieldMessage(name);
  const describedBy = [hint ? `${id}-hint` : '', message ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${message ? ' has-error' : ''}`}>
      <label for={id}>{label}</label>
      <input id={id} name={name} aria-invalid={message ? true : undefined} aria-describedby={describedBy} {...input} />
      {hint && (
        <span id={`${id}-hint`} class="hint">
          {hint}
        </span>
      )}
      {message && (
        <span id={`${id}-error`} class="field-error">
          {message}
        </span>
      )}
    </div>
  );
}

import { useState } from 'preact/hooks';
import { Field } from '../components/Field';
import { Empty, ErrorState, Loading } from '../components/Status';
import { api } from '../lib/api';
import { useFetch } from '../lib/useFetch';
import { FormError, useSubmit } from './Auth';

export interface Address {
  id: string;
  label: string | null;
  full_name: string | null;
  line1: string | null;
  line2: string | null;
  city: string | null;
  region: string | null;
  postal_code: string | null;
  country: string | null;
  phone: string | null;
  is_default_shipping: boolean;
  is_default_billing: boolean;
}

const FIELDS: { name: keyof Address; label: string; autoComplete: string; required?: boolean }[] = [
  { name: 'label', label: 'Label (e.g. Home)', autoComplete: 'off' },
  { name: 'full_name', label: 'Full name', autoComplete: 'name', required: true },
  { name: 'line1', label: 'Address line 1', autoComplete: 'address-line1', required: true },
  { name: 'line2', label: 'Address line 2', autoComplete: 'address-line2' },
  { name: 'city', label: 'City', autoComplete: 'address-level2', required: true },
  { name: 'region', label: 'Region', autoComplete: 'address-level1' },
  { name: 'postal_code', label: 'Postal code', autoComplete: 'postal-code', required: true },
  { name: 'country', label: 'Country (2-letter code, e.g. FR)', autoComplete: 'country', required: true },
  { name: 'phone', label: 'Phone', autoComplete: 'tel' },
];

export const listAddresses = (signal: AbortSignal) => api<{ items: Address[] }>('/api/v1/me/addresses', { auth: true, signal });

export function Addresses() {
  const list = useFetch('addresses', listAddresses);
  const [adding, setAdding] = useState(false);
  const removal = useSubmit();

  return (
    <div class="account">
      <h1 tabIndex={-1}>Address book</h1>
      {list.status === 'loading' && <Loading label="Loading your addresses…" />}
      {list.status === 'error' && <ErrorState error={list.error} onRetry={list.retry} />}
      {list.status === 'ok' && (
        <>
          <FormError problem={removal.problem} />
          {list.data.items.length === 0 ? (
            <Empty>You have no saved addresses yet.</Empty>
          ) : (
            <ul class="address-list" data-testid="address-list">
              {list.data.items.map((a) => (
                <li key={a.id} class="address-card">
                  <address>
                    {a.label && <strong>{a.label}</strong>}
                    {[a.full_name, a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(' '), a.region, a.country]
                      .filter(Boolean)
                      .map((line, i) => (
                        <span key={i}>{line}</span>
                      ))}
                  </address>
                  {a.is_default_shipping && <span class="badge">Default shipping</span>}
                  <button
                    type="button"
                    class="button link"
                    aria-label={`Delete address ${a.label ?? a.line1 ?? ''}`.trim()}
                    disabled={removal.busy}
                    onClick={() =>
                      removal.run(async () => {
                        await api(`/api/v1/me/addresses/${encodeURIComponent(a.id)}`, { method: 'DELETE', auth: true });
                        list.retry();
                      })
                    }
                  >
                    Delete
                  </button>
                </li>
              ))}
            </ul>
          )}
          {adding ? (
            <AddressForm
              onSaved={() => {
                setAdding(false);
                list.retry();
              }}
              onCancel={() => setAdding(false)}
            />
          ) : (
            <button type="button" class="button" onClick={() => setAdding(true)}>
              Add an address
            </button>
          )}
        </>
      )}
    </div>
  );
}

export function AddressForm({ onSaved, onCancel }: { onSaved: (address: Address) => void; onCancel: () => void }) {
  const form = useSubmit();
  const [values, setValues] = useState<Record<string, string>>({});
  const [defaultShipping, setDefaultShipping] = useState(false);
  return (
    <form
      class="address-form"
      aria-labelledby="new-address"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void form.run(async () => {
          const body: Record<string, unknown> = { is_default_shipping: defaultShipping };
          for (const f of FIELDS) if (values[f.name]?.trim()) body[f.name] = values[f.name].trim();
          onSaved(await api<Address>('/api/v1/me/addresses', { method: 'POST', body, auth: true }));
        });
      }}
    >
      <h2 id="new-address">New address</h2>
      <FormError problem={form.problem} />
      {FIELDS.map((f) => (
        <Field
          key={f.name}
          label={f.label}
          name={f.name}
          autoComplete={f.autoComplete}
          required={f.required}
          value={values[f.name] ?? ''}
          onInput={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })}
          error={form.error}
        />
      ))}
      <label class="check">
        <input type="checkbox" checked={defaultShipping} onChange={(e) => setDefaultShipping(e.currentTarget.checked)} />
        Use as my default shipping address
      </label>
      <div class="actions">
        <button class="button" type="submit" disabled={form.busy}>
          {form.busy ? 'Saving…' : 'Save address'}
        </button>
        <button class="button secondary" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

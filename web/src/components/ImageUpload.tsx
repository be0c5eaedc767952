import { useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../lib/api';
import { MAX_IMAGES, moveItem, UPLOAD_TYPES, uploadImage, uploadProblem } from '../lib/images';
import { ActionResult, useAction } from '../pages/admin/common';
import { ProductImage, THUMB_SIZES } from './ProductImage';

export interface ImageProduct {
  id: number;
  name: string;
  images: string[];
  variants: { sku: string; name: string; image?: string | null }[];
}

/** The admin's pictures of a product: add one (to the product, or as one variant's picture),
 * reorder and remove them. The catalog checks and re-encodes every upload; the checks here
 * only answer sooner. */
export function ImageUpload<P extends ImageProduct>({ product, onChange }: { product: P; onChange: (p: P) => void }) {
  const action = useAction();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [target, setTarget] = useState('');
  const problem = file ? uploadProblem(file) : null;
  const full = !target && product.images.length >= MAX_IMAGES;

  const saveOrder = (images: string[], note: string) =>
    action.run(async () => {
      onChange(await api<P>(`/api/v1/admin/products/${product.id}`, { method: 'PATCH', auth: true, body: { images } }));
      return note;
    });

  return (
    <section aria-labelledby="images-title" class="image-admin">
      <h3 id="images-title">Images</h3>
      <ActionResult action={action} testId="image" />
      {product.images.length === 0 ? (
        <p class="hint">No pictures yet: the shop shows drawn art in the product's colour.</p>
      ) : (
        <ol class="image-list" aria-label={`Pictures of ${product.name}, in the order shown`}>
          {product.images.map((src, i) => (
            <li key={src} class="image-item">
              <ProductImage src={src} name={product.name} alt={`Picture ${i + 1} of ${product.name}`} sizes={THUMB_SIZES} />
              <span class="row-actions">
                <button type="button" class="button link" disabled={action.busy || i === 0} onClick={() => saveOrder(moveItem(product.images, i, i - 1), `Picture ${i + 1} moved up.`)}>
                  Earlier<span class="visually-hidden"> (picture {i + 1})</span>
                </button>
                <button
                  type="button"
                  class="button link"
                  disabled={action.busy || i === product.images.length - 1}
                  onClick={() => saveOrder(moveItem(product.images, i, i + 1), `Picture ${i + 1} moved down.`)}
                >
                  Later<span class="visually-hidden"> (picture {i + 1})</span>
                </button>
                <button
                  type="button"
                  class="button link"
                  disabled={action.busy}
                  onClick={() => saveOrder(product.images.filter((_, j) => j !== i), `Picture ${i + 1} removed.`)}
                >
                  Remove<span class="visually-hidden"> picture {i + 1}</span>
                </button>
              </span>
            </li>
          ))}
        </ol>
      )}
      <form
        class="admin-form"
        aria-labelledby="image-upload-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (!file) return;
          void action.run(async () => {
            if (problem) throw new ApiError(422, problem);
            const saved = await uploadImage<P>(product.id, file, target || undefined);
            onChange(saved);
            setFile(null);
            if (input.current) input.current.value = '';
            return target ? `Picture of ${target} saved.` : 'Picture added.';
          });
        }}
      >
        <h4 id="image-upload-title">Add a picture</h4>
        <div class={`field${problem ? ' has-error' : ''}`}>
          <label for="image-file">Image (JPEG, PNG or WebP, at most 10 MB)</label>
          <input
            id="image-file"
            ref={input}
            type="file"
            accept={UPLOAD_TYPES.join(',')}
            aria-describedby={problem ? 'image-file-error' : undefined}
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
            data-testid="image-file"
          />
          {problem && (
            <p class="field-error" id="image-file-error" role="alert">
              {problem}
            </p>
          )}
        </div>
        {product.variants.length > 0 && (
          <div class="field">
            <label for="image-target">Show it for</label>
            <select id="image-target" value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
              <option value="">The product (added to its pictures)</option>
              {product.variants.map((v) => (
                <option key={v.sku} value={v.sku}>
                  {v.name} ({v.sku}){v.image ? ', replaces its picture' : ''}
                </option>
              ))}
            </select>
          </div>
        )}
        {full && <p class="hint">A product has at most {MAX_IMAGES} pictures: remove one first.</p>}
        <button type="submit" class="button" disabled={action.busy || !file || !!problem || full} data-testid="image-submit">
          {action.busy ? 'Uploading…' : 'Upload'}
        </button>
      </form>
    </section>
  );
}

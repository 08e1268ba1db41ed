/** Small pieces every page uses: status badges, a confirmation dialog, load states, a number format. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Loaded } from './state';

export function Badge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

/** The load state of a view: a failure's message, or "loading" before the first data. */
export function LoadState<T>({ loaded }: { loaded: Loaded<T> }) {
  if (loaded.state === 'failed') return <p class="error" role="alert">{loaded.error}</p>;
  if (loaded.state === 'loading' && loaded.data === undefined) return <p class="muted">loading…</p>;
  return null;
}

/** A number as tables show it: thousands separated, at most 4 significant digits below 1000. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en') : String(Number(value.toPrecision(4)));
}

/** A time as tables show it: `2024-03-04 10:02:03` (UTC). */
export function formatTime(iso: string | null): string {
  return iso === null ? '–' : iso.replace('T', ' ').slice(0, 19);
}

/**
 * A button that asks before it acts: a modal dialog says what will happen, Confirm runs `action`,
 * whose failure is shown in the dialog.
 */
export function ConfirmButton({ label, question, action, onDone }: { label: string; question: ComponentChildren; action: () => Promise<unknown>; onDone?: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      await action();
      dialog.current?.close();
      onDone?.();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class="admin"
        onClick={() => {
          setError(undefined);
          dialog.current?.showModal();
        }}
      >
        {label}
      </button>
      <dialog ref={dialog} aria-label={label}>
        <p>{question}</p>
        {error !== undefined && <p class="error" role="alert">{error}</p>}
        <div class="actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class="primary" disabled={busy} onClick={confirm}>
            Confirm
          </button>
        </div>
      </dialog>
    </>
  );
}

/** A `<select>` of names with a label. */
export function Select({ label, value, options, onChange, allowAny }: { label: string; value: string; options: readonly string[]; onChange: (value: string) => void; allowAny?: string }) {
  return (
    <label>
      {label}
      <select value={value} onChange={(event) => onChange(event.currentTarget.value)}>
        {allowAny !== undefined && <option value="">{allowAny}</option>}
        {options.map((option) => (
          <option value={option}>{option}</option>
        ))}
      </select>
    </label>
  );
}

/** A date input with a label; changes are applied as they are picked. */
export function DateInput({ label, value, onChange }: { label: string; value: string; onChange: (value: string) => void }) {
  return (
    <label>
      {label}
      <input type="date" value={value} onChange={(event) => onChange(event.currentTarget.value)} />
    </label>
  );
}

/**
 * An element's width in CSS pixels, kept up to date: pass `ref` as the element's ref (a callback
 * ref, so that an element rendered later, once its data arrived, is measured too).
 */
export function useWidth<Element extends HTMLElement>(): { ref: (element: Element | null) => void; element: Element | null; width: number } {
  const [element, setElement] = useState<Element | null>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    if (element === null) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry.contentRect.width)));
    observer.observe(element);
    return () => observer.disconnect();
  }, [element]);
  return { ref: setElement, element, width };
}

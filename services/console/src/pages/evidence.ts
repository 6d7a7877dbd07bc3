// Evidence attachments (issue M): a picker that takes photos and videos from the phone's camera
// (or its files), uploads each as soon as it is chosen (`POST /api/v1/attachments`), shows its
// thumbnail and hands the ids to the form it sits in; and a case's attachments, fetched with the
// token (an <img src> could not send it) and shown from blob: URLs.
import { api, ApiError } from '../api';
import { clear, h, tx } from '../dom';
import { t, type Key } from '../i18n';
import { errorMessage } from './common';

/** As many as one raise, town case or investigation may reference (the server's limit). */
export const MAX_ATTACHMENTS = 9;

interface Upload {
  key: number;
  name: string;
  /** A blob: URL of the picked photo, for its thumbnail. */
  preview: string | null;
  state: 'uploading' | 'done' | 'failed';
  id?: string;
  error?: string;
}

export interface EvidencePicker {
  el: HTMLElement;
  /** Ids of the files uploaded. */
  ids(): string[];
  /** Some file is still uploading. */
  busy(): boolean;
  /** Forget every file (after the form was sent). */
  reset(): void;
  relabel(): void;
}

/** An upload's or a download's refusal, said plainly. */
export function evidenceError(e: unknown): string {
  if (e instanceof ApiError) {
    const known: Record<string, Key> = {
      unsupported_media_type: 'evidence.err.unsupported',
      body_too_large: 'evidence.err.tooLarge',
      unavailable: 'evidence.err.unavailable',
      not_found: 'evidence.err.notFound',
      unknown_attachment: 'evidence.err.unknown',
    };
    const key = known[e.code];
    if (key) return t(key);
  }
  return errorMessage(e);
}

export function evidencePicker(prefix: string): EvidencePicker {
  const uploads: Upload[] = [];
  let seq = 0;
  let note: Key | null = null;
  const input = h('input', {
    id: `${prefix}-files`,
    name: 'files',
    type: 'file',
    accept: 'image/*,video/mp4',
    capture: 'environment',
    multiple: true,
    class: 'evidence-input',
    // Live re-renders keep what was typed by id; a file input's value is not restored.
    'data-fresh': 'true',
    'aria-describedby': `${prefix}-files-hint`,
  });
  const list = h('ul', { class: 'evidence-thumbs', id: `${prefix}-thumbs`, 'aria-live': 'polite' });
  const noteEl = h('p', { class: 'hint evidence-note', hidden: true });
  const el = h(
    'div',
    { class: 'field evidence', 'data-prefix': prefix },
    tx('label', 'evidence.label', { for: input.id }),
    input,
    tx('p', 'evidence.hint', { class: 'hint', id: `${prefix}-files-hint` }),
    noteEl,
    list,
  );
  input.addEventListener('change', () => {
    const files = [...(input.files ?? [])];
    input.value = '';
    const room = MAX_ATTACHMENTS - uploads.length;
    note = files.length > room ? 'evidence.tooMany' : null;
    for (const f of files.slice(0, Math.max(0, room))) start(f);
    render();
  });

  function start(file: File): void {
    const u: Upload = { key: ++seq, name: file.name, preview: file.type.startsWith('image/') ? URL.createObjectURL(file) : null, state: 'uploading' };
    uploads.push(u);
    api
      .uploadAttachment(file)
      .then((r) => {
        u.state = 'done';
        u.id = r.id;
      })
      .catch((e) => {
        u.state = 'failed';
        u.error = evidenceError(e);
      })
      .finally(render);
  }

  function remove(u: Upload): void {
    const i = uploads.indexOf(u);
    if (i >= 0) uploads.splice(i, 1);
    if (u.preview) URL.revokeObjectURL(u.preview);
    note = null;
    render();
  }

  function render(): void {
    noteEl.hidden = !note;
    noteEl.textContent = note ? t(note, { n: MAX_ATTACHMENTS }) : '';
    clear(
      list,
      uploads.map((u) =>
        h(
          'li',
          { class: `thumb ${u.state}`, 'data-state': u.state, 'data-id': u.id },
          u.preview && u.state !== 'failed'
            ? h('img', { src: u.preview, alt: u.name })
            : h('span', { class: 'thumb-video', 'aria-hidden': 'true' }, u.state === 'failed' ? '✕' : '▶'),
          h('span', { class: 'thumb-name' }, u.name),
          h('span', { class: 'thumb-state' }, t(`evidence.${u.state}` as Key)),
          u.error ? h('span', { class: 'field-error', role: 'alert' }, u.error) : null,
          h('button', { type: 'button', class: 'btn ghost small', 'aria-label': `${t('evidence.remove')} ${u.name}`, onclick: () => remove(u) }, t('evidence.remove')),
        ),
      ),
    );
  }

  return {
    el,
    ids: () => uploads.flatMap((u) => (u.state === 'done' && u.id ? [u.id] : [])),
    busy: () => uploads.some((u) => u.state === 'uploading'),
    reset() {
      for (const u of uploads) if (u.preview) URL.revokeObjectURL(u.preview);
      uploads.length = 0;
      note = null;
      render();
    },
    relabel: render,
  };
}

/** Downloads already made (or under way), by id: re-renders reuse them. */
const fetched = new Map<string, Promise<{ url: string; type: string }>>();

function download(id: string): Promise<{ url: string; type: string }> {
  let p = fetched.get(id);
  if (!p) {
    p = api.attachment(id).then((b) => ({ url: URL.createObjectURL(b), type: b.type }));
    fetched.set(id, p);
    p.catch(() => fetched.delete(id));
  }
  return p;
}

/** A case's attachments: each photo shown, each video playable; `null` when it has none. */
export function attachmentGallery(ids: string[] | undefined, idPrefix = 'evidence'): HTMLElement | null {
  if (!ids?.length) return null;
  const items = ids.map((id) => {
    const li = h('li', { class: 'thumb loading', 'data-id': id }, h('span', { class: 'thumb-state' }, t('evidence.loading')));
    download(id)
      .then(({ url, type }) => {
        li.className = 'thumb done';
        li.dataset.type = type;
        clear(li, type.startsWith('video/') ? h('video', { src: url, controls: true, preload: 'metadata', 'aria-label': t('evidence.video') }) : h('img', { src: url, alt: t('evidence.photo') }));
      })
      .catch((e) => {
        li.className = 'thumb failed';
        clear(li, h('span', { class: 'field-error' }, evidenceError(e)));
      });
    return li;
  });
  return h(
    'div',
    { class: 'evidence-view', id: `${idPrefix}-attachments` },
    h('h4', {}, t('evidence.title'), ` (${ids.length})`),
    h('ul', { class: 'evidence-thumbs gallery' }, items),
  );
}

/** The attachments behind a summary that loads them when opened (boards: many cards). */
export function lazyGallery(ids: string[] | undefined, idPrefix: string): HTMLElement | null {
  if (!ids?.length) return null;
  const box = h('details', { class: 'evidence-box', 'data-id': `${idPrefix}-evidence` }, h('summary', {}, t('evidence.show', { n: ids.length })));
  box.addEventListener('toggle', () => {
    if (box.open && !box.querySelector('.evidence-view')) box.append(attachmentGallery(ids, idPrefix) ?? '');
  });
  return box;
}

// Actions: each asks for confirmation in a dialog, calls the API, and shows
// the API's error in the dialog when it is refused.

import { h, when } from './dom.js';
import { call, get, projectPath, allows, session } from './api.js';
import { nameOf, versions, freightLabel, freightNewestFirst } from './model.js';

/** Shows a short message in the corner; `link` is [href, text]. */
export function toast(message, link) {
  const box = document.getElementById('toasts');
  const item = h('div', { class: 'toast' }, h('span', {}, message, link ? [' ', h('a', { href: link[0] }, link[1])] : null),
    h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
  box.appendChild(item);
  setTimeout(() => item.remove(), 8000);
}

/** Whether actions are offered: the role may promote. */
export const mayAct = () => allows('promoter');

/**
 * A confirmation dialog: `title`, a `body` (nodes), and `run`, called on
 * confirmation; it resolves with a message for the toast, or throws an
 * error whose message is shown in the dialog. `choices` (optional) is a
 * function that renders extra fields and returns a getter of their value
 * passed to `run`.
 */
export function confirmAction({ title, body, confirm = 'Confirm', run, fields, danger = false }) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const readFields = fields ? fields.read : () => undefined;
  const okButton = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', 'data-test': 'confirm' }, confirm);
  const cancel = h('button', { type: 'button', 'data-test': 'cancel' }, 'Cancel');
  const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
  const form = h('form', { method: 'dialog' },
    h('h2', { id: titleId }, title),
    body,
    fields ? fields.nodes : null,
    error,
    h('div', { class: 'buttons' }, cancel, okButton));
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': titleId }, form);
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  cancel.addEventListener('click', close);
  dialog.addEventListener('cancel', () => dialog.remove());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    okButton.disabled = true;
    error.hidden = true;
    try {
      const done = await run(readFields());
      close();
      if (done) toast(done.message || done, done.link);
    } catch (e) {
      error.textContent = `Refused: ${e.message}`;
      error.hidden = false;
      okButton.disabled = false;
    }
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  (fields?.focus || okButton).focus();
  return dialog;
}

function roleNote() {
  return mayAct() ? null : h('p', { class: 'note' },
    `You are signed in as ${session.subject || 'unknown'} (role ${session.role || 'unknown'}): the server may refuse this.`);
}

function freightSummary(f) {
  return h('span', { class: 'freight-inline' },
    h('strong', {}, freightLabel(f)), ' ',
    versions(f).map((v) => h('span', { class: 'version' }, `${v.repo}:${v.version}`)));
}

/** A select of Freight (radio list), newest first. */
function freightChoice(freight, legend) {
  const name = `freight-${Math.random().toString(36).slice(2)}`;
  const items = freightNewestFirst(freight);
  const inputs = [];
  const list = h('fieldset', { class: 'choices' }, h('legend', {}, legend),
    items.length ? items.map((f, i) => {
      const input = h('input', { type: 'radio', name, value: nameOf(f), checked: i === 0 });
      inputs.push(input);
      return h('label', { class: 'choice' }, input, freightSummary(f), ' ', h('span', { class: 'muted' }, when(f.discoveredAt)));
    }) : h('p', { class: 'muted' }, 'No Freight is available to this Stage.'));
  return {
    nodes: list,
    read: () => inputs.find((i) => i.checked)?.value,
    focus: inputs[0],
  };
}

function promotionLink(project, promotion) {
  const name = nameOf(promotion);
  return [`/project/${encodeURIComponent(project)}/promotion/${encodeURIComponent(name)}`, 'View promotion'];
}

/** Promote: pick Freight available to `stage` (or promote `freight` given). */
export async function promote(project, stage, freight) {
  if (freight) {
    return confirmAction({
      title: `Promote to ${stage}`,
      body: [h('p', {}, 'Promote ', freightSummary(freight), ` to Stage ${stage}?`), roleNote()],
      confirm: 'Promote',
      run: async () => {
        const p = await call('POST', projectPath(project, `/stages/${encodeURIComponent(stage)}/promotions`), { freight: nameOf(freight) });
        return { message: `Promotion ${nameOf(p)} to ${stage} created.`, link: promotionLink(project, p) };
      },
    });
  }
  let available = [];
  try {
    const body = await get(projectPath(project, `/freight?stage=${encodeURIComponent(stage)}`));
    available = Object.values(body.groups || {}).flatMap((g) => g.items || []);
  } catch (e) {
    // A refused token has sent the person to sign in again, saying why.
    if (e.status !== 401) toast(`Cannot list the Freight available to ${stage}: ${e.message}`);
    return null;
  }
  const choice = freightChoice(available, `Freight available to ${stage}`);
  return confirmAction({
    title: `Promote to ${stage}`,
    body: roleNote(),
    fields: choice,
    confirm: 'Promote',
    run: async (picked) => {
      if (!picked) throw new Error('pick the Freight to promote');
      const p = await call('POST', projectPath(project, `/stages/${encodeURIComponent(stage)}/promotions`), { freight: picked });
      return { message: `Promotion ${nameOf(p)} to ${stage} created.`, link: promotionLink(project, p) };
    },
  });
}

/** Promote the Freight `freight` of `stage` to every Stage downstream. */
export function promoteDownstream(project, stage, freight, downstream) {
  return confirmAction({
    title: `Promote downstream of ${stage}`,
    body: [h('p', {}, 'Promote ', freightSummary(freight), ` to ${downstream.join(', ')}?`), roleNote()],
    confirm: 'Promote downstream',
    run: async () => {
      const body = await call('POST', projectPath(project, `/stages/${encodeURIComponent(stage)}/promotions/downstream`), { freight: nameOf(freight) });
      const count = (body?.promotions || []).length;
      if (body?.errors) throw new Error(`${count} promotion(s) created; ${body.errors}`);
      return `${count} promotion(s) created downstream of ${stage}.`;
    },
  });
}

/** Approve `freight` for a Stage (given, or picked among `stages`). */
export function approve(project, freight, stages) {
  const name = `stage-${Math.random().toString(36).slice(2)}`;
  const select = h('select', { id: name, name: 'stage', required: true },
    stages.map((s) => h('option', { value: s }, s)));
  const fields = {
    nodes: h('p', {}, h('label', { for: name }, 'Stage '), select),
    read: () => select.value,
    focus: select,
  };
  return confirmAction({
    title: `Approve ${freightLabel(freight)}`,
    body: [h('p', {}, 'Approve ', freightSummary(freight), ' for a Stage: it may then be promoted there without passing through its upstream Stages.'), roleNote()],
    fields,
    confirm: 'Approve',
    run: async (stage) => {
      await call('POST', projectPath(project, `/freight/${encodeURIComponent(nameOf(freight))}/approve?stage=${encodeURIComponent(stage)}`));
      return `${freightLabel(freight)} approved for ${stage}.`;
    },
  });
}

/** Abort a promotion. */
export function abort(project, promotion) {
  return confirmAction({
    title: `Abort ${nameOf(promotion)}`,
    body: [h('p', {}, `Abort promotion ${nameOf(promotion)} to ${promotion.spec?.stage}? A running promotion stops at its next step boundary.`), roleNote()],
    confirm: 'Abort',
    danger: true,
    run: async () => {
      const path = projectPath(project, `/promotions/${encodeURIComponent(nameOf(promotion))}`);
      await call('POST', `${path}/abort`);
      // A waiting or queued promotion ends at once; a running step first
      // finishes.
      const now = await get(path).catch(() => null);
      return now?.status?.phase === 'Aborted'
        ? `Promotion ${nameOf(promotion)} aborted.`
        : `Promotion ${nameOf(promotion)} stops at its next step boundary.`;
    },
  });
}

/** Verify a Stage's Freight again. */
export function reverify(project, stage) {
  return confirmAction({
    title: `Reverify ${stage}`,
    body: [h('p', {}, `Run the verification of Stage ${stage} again on its current Freight?`), roleNote()],
    confirm: 'Reverify',
    run: async () => {
      await call('POST', projectPath(project, `/stages/${encodeURIComponent(stage)}/verification`));
      return `Verification of ${stage} started.`;
    },
  });
}

/** Discover a Warehouse's artifacts now. */
export function refreshWarehouse(project, warehouse) {
  return confirmAction({
    title: `Refresh ${warehouse}`,
    body: [h('p', {}, `Look for new artifacts of Warehouse ${warehouse} now?`), roleNote()],
    confirm: 'Refresh',
    run: async () => {
      await call('POST', projectPath(project, `/warehouses/${encodeURIComponent(warehouse)}/refresh`));
      return `Warehouse ${warehouse} is being refreshed.`;
    },
  });
}

/// <reference lib="dom" />
/**
 * The console's script: the pages work without it; it asks before a destructive action and moves
 * the keyboard focus to a form's error, so a screen reader announces it first. On the overview it
 * draws the charts and keeps the figures fresh.
 */
import { startOverview } from './overview.ts';

function confirmDestructive(event: SubmitEvent): void {
  const button = event.submitter ?? (event.target as HTMLFormElement).querySelector('[data-confirm]');
  const question = button instanceof HTMLElement ? button.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
}

function focusError(): void {
  const invalid = document.querySelector<HTMLElement>('[aria-invalid="true"]');
  if (invalid) {
    invalid.focus();
    return;
  }
  const error = document.querySelector<HTMLElement>('.error[role="alert"]');
  if (error) {
    error.tabIndex = -1;
    error.focus();
  }
}

document.addEventListener('submit', (event) => confirmDestructive(event as SubmitEvent));
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', focusError);
  document.addEventListener('DOMContentLoaded', startOverview);
} else {
  focusError();
  startOverview();
}

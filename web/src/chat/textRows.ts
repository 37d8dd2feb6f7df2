/**
 * Rows a textarea needs for `text`, counting lines that wrap (at about `perRow` characters),
 * between `min` and `max`. A first guess: the box then grows to its real height (fitHeight).
 */
export function textRows(text: string, { perRow = 80, min = 3, max = 12 } = {}): number {
  const rows = text.split('\n').reduce((n, line) => n + Math.max(1, Math.ceil(line.length / perRow)), 0);
  return Math.min(max, Math.max(min, rows));
}

/** Sizes a textarea to its content (its CSS max-height caps it; it scrolls beyond). */
export function fitHeight(el: HTMLTextAreaElement): void {
  el.style.height = 'auto';
  if (el.scrollHeight === 0) {
    el.style.height = ''; // not laid out (hidden): keep the rows
    return;
  }
  const border = el.offsetHeight - el.clientHeight;
  el.style.height = `${el.scrollHeight + border}px`;
}

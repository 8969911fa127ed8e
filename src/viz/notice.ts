/** `notice(text) → <p>`: what a figure's place shows when there is nothing to draw (no detections, say). */
export function notice(text: string): HTMLParagraphElement {
  const p = document.createElement('p');
  p.className = 'figure-notice';
  p.setAttribute('role', 'status');
  p.textContent = text;
  return p;
}

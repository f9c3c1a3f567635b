import type { CaptureDrops } from '../capture/record.js';
import type { CaptureSummary } from '../pipeline.js';
import { grouped } from '../rules/format.js';
import type { Verdict } from '../rules/verdict.js';

// One-line texts the reports share: a verdict, and the packet accounting of a capture.

const SEV_MARK = { error: 'ERROR', warning: 'WARN', info: 'info' } as const;
const SEV_COLOR = { error: 31, warning: 33, info: 2 } as const;

function paint(on: boolean, code: number, s: string): string {
  return on ? `\u001b[${code}m${s}\u001b[0m` : s;
}

export function verdictLine(v: Verdict, color: boolean): string {
  return `${paint(color, SEV_COLOR[v.severity], `${SEV_MARK[v.severity]} ${v.code}`)}: ${v.summary}`;
}

export function accountingLine(c: CaptureSummary, totalFlows: number, shownFlows: number): string {
  const skipped = Object.values(c.skipped).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(c.skipped)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  const flows = shownFlows === totalFlows ? `${totalFlows} TCP flow${totalFlows === 1 ? '' : 's'}` : `${shownFlows} of ${totalFlows} TCP flows shown`;
  const fr = c.fragments;
  const fragments =
    fr && fr.reassembled + fr.dropped + fr.incomplete > 0
      ? `; IP fragments: ${fr.reassembled} datagrams reassembled${fr.dropped + fr.incomplete > 0 ? `, ${fr.dropped + fr.incomplete} incomplete` : ''}`
      : '';
  const ll = c.lingerLimit;
  const linger = ll && ll.closedEarly > 0 ? `; ${ll.closedEarly} closed flows finished before their 5 s linger (${ll.latePackets} late packets not added)` : '';
  const dropped = c.dropped ? droppedText(c.dropped) : null;
  return `${c.file}: ${c.format ?? 'unknown format'}, ${c.packets} packets read = ${c.decoded} decoded + ${skipped} skipped${reasons ? ` (${reasons})` : ''}${c.captureFilter ? ` + ${c.filtered} filtered (by '${c.captureFilter}')` : ''} + ${c.malformed} malformed${fragments}; ${flows}${linger}${c.stoppedEarly ? '; reading stopped early (see diagnostics)' : ''}${dropped ? `; ${dropped}` : ''}`;
}

/** What a report says of the packets the capturing tool dropped; null when a live capture dropped none (its own line says so). */
export function droppedText(d: CaptureDrops, startsSentence = false): string | null {
  const the = startsSentence ? 'The' : 'the';
  if (d.packets === 0) return d.source === 'file' ? `${the} capturing tool counted no packet dropped (in the file's interface statistics)` : null;
  const counts =
    d.source === 'live'
      ? ["libpcap's count of the packets the kernel could not hand over"]
      : [
          d.inStatistics > 0 ? `${d.beforePackets > 0 ? `${grouped(d.inStatistics)} ` : ''}in the file's interface statistics` : '',
          d.beforePackets > 0 ? `${d.inStatistics > 0 ? `${grouped(d.beforePackets)} ` : ''}on its packet blocks, the first before packet ${d.firstAfterLoss}` : '',
        ].filter(Boolean);
  return `${the} capturing tool dropped ${grouped(d.packets)} ${d.packets === 1 ? 'packet' : 'packets'} by its own count (${counts.join(', ')}): a verdict that rests on a packet never seen may be wrong (capture-loss)`;
}

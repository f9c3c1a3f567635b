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
  const dropped = c.dropped ? droppedClauses(c.dropped).join('; ') : '';
  return `${c.file}: ${c.format ?? 'unknown format'}, ${c.packets} packets read = ${c.decoded} decoded + ${skipped} skipped${reasons ? ` (${reasons})` : ''}${c.captureFilter ? ` + ${c.filtered} filtered (by '${c.captureFilter}')` : ''} + ${c.malformed} malformed${fragments}; ${flows}${linger}${c.stoppedEarly ? '; reading stopped early (see diagnostics)' : ''}${dropped ? `; ${dropped}` : ''}`;
}

/**
 * What a report says of the packets the capturing tool dropped, as clauses (none when a live
 * capture dropped nothing: its own line says so).
 */
export function droppedClauses(d: CaptureDrops): string[] {
  const clauses: string[] = [];
  const some = d.counted < d.interfaces ? ` on ${d.counted} of ${d.interfaces} interfaces` : '';
  if (d.packets > 0) {
    const both = d.inStatistics > 0 && d.beforePackets > 0;
    const counts =
      d.source === 'live'
        ? "libpcap's count of the packets the kernel could not hand over"
        : [
            d.inStatistics > 0 ? `${both ? `${grouped(d.inStatistics)} ` : ''}in the file's interface statistics` : '',
            d.beforePackets > 0 ? `${both ? `${grouped(d.beforePackets)} ` : ''}on its packet blocks, the first loss just before packet ${d.firstAfterLoss}` : '',
          ]
            .filter(Boolean)
            .join(', ') + (both ? ', which may count the same losses: the larger per interface is taken' : '');
    clauses.push(`the capturing tool dropped ${grouped(d.packets)} ${d.packets === 1 ? 'packet' : 'packets'} by its own count${some} (${counts}): a verdict that rests on a packet never seen may be wrong (capture-loss)`);
  } else if (d.counted > 0 && d.source === 'file') {
    clauses.push(`the capturing tool counted no packet dropped${some}`);
  }
  const l = d.largerCapture;
  if (l) {
    clauses.push(`the file's interface statistics describe a larger capture than it holds (${grouped(l.received)} packets received, ${grouped(l.held)} here): it was cut from that capture, whose count of ${grouped(l.dropped)} dropped is left out`);
  }
  return clauses;
}

// Decode throughput: `npx vitest bench --run test/decode/decoder.bench.ts`.
// Each iteration decodes every frame of one big buffer; packets/s = hz x FRAMES_PER_BUFFER.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bench, describe } from 'vitest';
import { readCaptureFileSync } from '../../src/capture/open.js';
import type { PacketRecord } from '../../src/capture/record.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { tcpFrame, type Frame } from '../helpers/packets.js';
import { locateCorpus } from '../../scripts/lib/corpus-labels.mjs';

const FRAMES_PER_BUFFER = 200_000;

/** Lays frames end to end in one buffer, as a capture reader's chunk would hold them. */
function packBuffer(frames: Frame[], count: number) {
  const offsets = new Int32Array(count + 1);
  const linkTypes = new Int32Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) total += frames[i % frames.length].bytes.length;
  const bytes = new Uint8Array(total);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const f = frames[i % frames.length];
    bytes.set(f.bytes, off);
    offsets[i] = off;
    linkTypes[i] = f.linkType;
    off += f.bytes.length;
  }
  offsets[count] = off;
  return { bytes, offsets, linkTypes, count };
}

const mix: Frame[] = [
  tcpFrame({ flags: 'S', options: { mss: 1460, sackPerm: true, ts: [1, 0], wscale: 7 } }),
  tcpFrame({ flags: 'A', options: { ts: [2, 1] } }),
  tcpFrame({ flags: 'PA', options: { ts: [3, 1] }, payload: 'x'.repeat(1448) }),
  tcpFrame({ flags: 'A', options: { ts: [4, 3], sack: [[10, 20]] } }),
  tcpFrame({ src: '2001:db8::1', dst: '2001:db8::2', flags: 'PA', payload: 'y'.repeat(512) }),
  tcpFrame({ link: 'vlan', flags: 'FA' }),
];
const synthetic = packBuffer(mix, FRAMES_PER_BUFFER);

// Every capture of the public corpus (see test/helpers/corpus.ts), copied out of the reader,
// repeated up to the same count; without the corpus, the synthetic mix again.
function corpusFrames(): Frame[] {
  const frames: Frame[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(pcap|pcapng)$/.test(name)) {
        try {
          readCaptureFileSync(path, (rec: PacketRecord) => frames.push({ bytes: rec.bytes.slice(rec.off, rec.end), linkType: rec.linkType }));
        } catch {
          // unreadable files are the capture tests' business
        }
      }
    }
  };
  const where = locateCorpus('corpus', fileURLToPath(new URL('../../', import.meta.url)));
  if (where.found) walk(where.dir);
  else console.log(`corpus frames: the synthetic mix instead, ${where.missing}`);
  return frames;
}
const corpusList = corpusFrames();
const corpus = packBuffer(corpusList.length > 0 ? corpusList : mix, FRAMES_PER_BUFFER);

const decoder = new PacketDecoder();
let tcpSeen = 0;
function decodeAll(buf: ReturnType<typeof packBuffer>): void {
  const { bytes, offsets, linkTypes, count } = buf;
  for (let i = 0; i < count; i++) {
    if (decoder.decodeBytes(bytes, offsets[i], offsets[i + 1], linkTypes[i]) === DECODED.TCP) tcpSeen++;
  }
}

describe(`decode ${FRAMES_PER_BUFFER} frames per iteration`, () => {
  bench('synthetic mix (Ethernet/IPv4/IPv6/VLAN, options, payloads)', () => decodeAll(synthetic), { time: 2000 });
  bench(`corpus frames (${corpusList.length} distinct, repeated)`, () => decodeAll(corpus), { time: 2000 });
});

export { tcpSeen };

// The benchmark's long-flow mix (scripts/gen-synthetic.mjs --long-flows): connections of 5,000
// packets each, HTTP keep-alive with an exchange every three packets and bulk downloads of
// full-sized segments. Healthy traffic this long must stay quiet: every request answered, every
// segment in order, each connection closed by two FINs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a script without type declarations
import { generateLongFlows } from '../../scripts/gen-synthetic.mjs';
import { run } from '../../src/cli/main.js';
import { memoryIo } from '../helpers/io.js';

const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-long-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface DetailFlow {
  history: string;
  state: string;
  verdicts: { code: string; severity: string }[];
  http: unknown[];
  httpDropped?: number;
  analysis: { retransmission: number; outOfOrder: number; lostSegment: number; duplicateAck: number };
}

describe('the long-flow benchmark mix', () => {
  it('is four healthy connections of 5,000 packets: 3,330 HTTP exchanges, no analysis flag, no warning', async () => {
    const file = join(dir, 'long.pcap');
    const g = generateLongFlows({ out: file, flows: 4 });
    expect(g.packets).toBe(19_998);
    const io = memoryIo();
    const code = await run(['analyze', file, '--json', '--detail'], io);
    expect(code, io.err).toBe(0);
    const doc = JSON.parse(io.out) as { flows: DetailFlow[] };
    // The count of exchanges past the listed ones is part of the documented detail format.
    const schema = JSON.parse(readFileSync(join(process.cwd(), 'schema/analysis.v2.schema.json'), 'utf8'));
    const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).addSchema(schema).getSchema(`${schema.$id}#/$defs/document`)!;
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.flows).toHaveLength(4);
    for (const f of doc.flows) {
      expect(f.state).toBe('SF');
      expect(f.verdicts.map((v) => `${v.severity} ${v.code}`)).toEqual(['info clean-close']);
      const a = f.analysis;
      expect([a.retransmission, a.outOfOrder, a.lostSegment, a.duplicateAck]).toEqual([0, 0, 0, 0]);
    }
    // Two keep-alive connections of 1,664 exchanges each (the first 1,000 listed, the rest counted),
    // two downloads of one exchange each.
    expect(doc.flows.map((f) => [f.http.length, f.httpDropped ?? 0]).sort((x, y) => x[0] - y[0])).toEqual([[1, 0], [1, 0], [1000, 664], [1000, 664]]);
  });
});

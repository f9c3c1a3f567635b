// Every JSON output of every sample (--format json, with and without --detail, several files, each
// --format jsonl line, and flow FILE ID --json) is valid against schema/analysis.v2.schema.json, which is what the
// README promises readers of the document; so is that of every capture of the public corpora.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { analyzeFile } from '../../src/pipeline.js';
import { JsonFlowStream, JsonLinesStream } from '../../src/report/json.js';
import { useCorpus } from '../helpers/corpus.js';
import { memoryIo } from '../helpers/io.js';

const SAMPLES = join(process.cwd(), 'samples');
const corpora = [useCorpus('corpus'), useCorpus('corpus2')];
const samples = readdirSync(SAMPLES).filter((f) => /\.pcap(ng)?$/.test(f));
const schema = JSON.parse(readFileSync(join(process.cwd(), 'schema/analysis.v2.schema.json'), 'utf8'));

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addSchema(schema);
const validator = (def: string) => ajv.getSchema(`${schema.$id}#/$defs/${def}`)!;
const validators = { any: ajv.getSchema(schema.$id)!, document: validator('document'), files: validator('files'), line: validator('line'), flowDocument: validator('flowDocument') };

function expectValid(kind: keyof typeof validators, value: unknown, label: string): void {
  const validate = validators[kind];
  const ok = validate(value);
  expect(ok ? [] : ajv.errorsText(validate.errors, { separator: '\n' }).split('\n').slice(0, 5), label).toEqual([]);
  // Whatever it is, it is also one of the things the schema's root describes.
  expect(validators.any(value), label).toBe(true);
}

async function output(args: string[]): Promise<string> {
  const io = memoryIo();
  expect(await run(['analyze', ...args], io), `${args.join(' ')}: ${io.err}`).toBeLessThan(2);
  return io.out;
}

describe('schema/analysis.v2.schema.json', () => {
  it.each(samples)('validates the json, json --detail and jsonl (with and without --detail) output of %s', async (name) => {
    const file = join(SAMPLES, name);
    for (const detail of [[], ['--detail']]) {
      const doc = JSON.parse(await output([file, '--json', ...detail]));
      expectValid('document', doc, `${name} --json ${detail.join(' ')}`);
      expect(doc.detail).toBe(detail.length > 0);
      const lines = (await output([file, '--format', 'jsonl', ...detail])).trimEnd().split('\n');
      for (const [i, line] of lines.entries()) expectValid('line', JSON.parse(line), `${name} jsonl ${detail.join(' ')} line ${i + 1}`);
      // The same flows and summary as the document, a line per flow then the summary.
      const parsed = lines.map((l) => JSON.parse(l));
      expect(parsed.map((l) => l.type)).toEqual([...doc.flows.map(() => 'flow'), 'summary']);
      expect(parsed.slice(0, -1).map(({ type: _, ...flow }) => flow)).toEqual(doc.flows);
      const { type: _type, schemaVersion, ...summary } = parsed[parsed.length - 1];
      expect(schemaVersion).toBe(2);
      const { flows: _flows, schemaVersion: _v, ...tail } = doc;
      expect(summary).toEqual(tail);
    }
  });

  it.each(samples)('validates flow FILE ID --json of every flow of %s: the flow as --detail writes it, its packets', async (name) => {
    const file = join(SAMPLES, name);
    const doc = JSON.parse(await output([file, '--json', '--detail']));
    for (const flow of doc.flows) {
      const io = memoryIo();
      expect(await run(['flow', file, String(flow.id), '--json'], io), io.err).toBeLessThan(2);
      const one = JSON.parse(io.out);
      expectValid('flowDocument', one, `${name} flow ${flow.id} --json`);
      // The same flow, each verdict's hint read as the README says (its own, else the map's).
      type Hinted = { verdicts: Array<{ code: string; hint?: string }> };
      const resolved = (f: Hinted, hints: Record<string, string>) => ({ ...f, verdicts: f.verdicts.map((v) => ({ ...v, hint: v.hint ?? hints[v.code] ?? '' })) });
      expect(resolved(one.flow, one.hints)).toEqual(resolved(flow, doc.hints));
      expect(one.packets.length + one.packetsDropped).toBe(flow.packets.client + flow.packets.server);
    }
  });

  it('validates the document of several files and the jsonl sharedKeys line', async () => {
    const files = ['nginx-ws-good.pcap', 'nginx-ws-bad.pcap', 'refused.pcap'].map((f) => join(SAMPLES, f));
    const doc = JSON.parse(await output([...files, '--json']));
    expectValid('files', doc, 'several files');
    expect(doc.files.map((d: { capture: { file: string } }) => d.capture.file)).toEqual(files);
    const lines = (await output([...files, '--format', 'jsonl', '--detail'])).trimEnd().split('\n').map((l) => JSON.parse(l));
    for (const line of lines) expectValid('line', line, 'several files, jsonl');
    expect(lines.filter((l) => l.type === 'summary').map((l) => l.capture.file)).toEqual(files);
    expect(lines[lines.length - 1].type).toBe('sharedKeys');
  });

  it('validates the report closed after an internal error, in both formats', () => {
    const result = analyzeFile(join(SAMPLES, 'port-reuse.pcap'));
    for (const [kind, make] of [
      ['document', (w: (s: string) => void) => new JsonFlowStream(w)],
      ['line', (w: (s: string) => void) => new JsonLinesStream(w)],
    ] as const) {
      let out = '';
      const report = make((s) => (out += s));
      report.flow(result.flows[0]);
      report.abort(result.capture.file, new Error('injected'));
      const values = kind === 'document' ? [JSON.parse(out)] : out.trimEnd().split('\n').map((l) => JSON.parse(l));
      for (const v of values) expectValid(kind, v, `aborted ${kind}`);
    }
  });

  it('rejects a version 1 document, a detail field in a compact flow, a flow without verdicts, an unknown severity', async () => {
    const doc = JSON.parse(await output([join(SAMPLES, 'refused.pcap'), '--json']));
    expect(validators.document(doc)).toBe(true);
    expect(validators.document({ ...doc, schemaVersion: 1 })).toBe(false);
    const withDetailField = { ...doc, flows: [{ ...doc.flows[0], handshake: {} }] };
    expect(validators.document(withDetailField)).toBe(false);
    const withoutVerdicts = { ...doc, flows: [{ ...doc.flows[0], verdicts: undefined }] };
    expect(validators.document(JSON.parse(JSON.stringify(withoutVerdicts)))).toBe(false);
    const badSeverity = { ...doc, flows: [{ ...doc.flows[0], verdicts: [{ ...doc.flows[0].verdicts[0], severity: 'fatal' }] }] };
    expect(validators.document(badSeverity)).toBe(false);
    const detail = JSON.parse(await output([join(SAMPLES, 'refused.pcap'), '--json', '--detail']));
    expect(validators.document(detail)).toBe(true);
    // A detailed flow in a document that says it is compact, and the other way round.
    expect(validators.document({ ...detail, detail: false })).toBe(false);
    expect(validators.document({ ...doc, detail: true })).toBe(false);
  });

  for (const corpus of corpora) {
    corpus.it(`validates the json --detail and jsonl output of every capture of ${corpus.name}`, async () => {
      const oracle = JSON.parse(readFileSync(corpus.path('oracle.json'), 'utf8')) as Array<{ file: string }>;
      for (const { file } of oracle) {
        const io = memoryIo();
        if ((await run(['analyze', corpus.path(file), '--json', '--detail'], io)) > 1) continue; // unreadable on purpose
        expectValid('document', JSON.parse(io.out), `${file} --json --detail`);
        const lines = memoryIo();
        await run(['analyze', corpus.path(file), '--format', 'jsonl'], lines);
        for (const [i, line] of lines.out.trimEnd().split('\n').entries()) expectValid('line', JSON.parse(line), `${file} jsonl line ${i + 1}`);
      }
    }, 600_000);
  }
});

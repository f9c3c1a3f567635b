// One stage of the pipeline over a capture, in a process of its own, for `bench.mjs --stages`:
//   node scripts/lib/bench-stage.mjs STAGE FILE
// Each stage runs everything before it too, so the differences between stages are their costs:
//   read    the capture reader alone (records walked, nothing decoded)
//   decode  + link/IP/TCP decoding of every packet
//   flows   + flow table, TCP state, per-segment analysis and verdicts, without the dissectors
//   dissect + HTTP/WebSocket dissection and their verdicts (what `analyze` computes)
//   report  + the --json --detail document, serialised and encoded (what `analyze --json --detail` writes), then dropped
// Prints one JSON line: stage, packets, flows, seconds (wall, in process), cpuSeconds, outputBytes.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(pathToFileURL(join(REPO_ROOT, 'dist', p)).href);

export const STAGES = ['read', 'decode', 'flows', 'dissect', 'report'];

async function run(stage, file) {
  const { readCaptureFileSync } = await dist('capture/open.js');
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let packets = 0;
  let flows = 0;
  let outputBytes = 0;
  if (stage === 'read') {
    readCaptureFileSync(file, () => packets++);
  } else if (stage === 'decode') {
    const { PacketDecoder } = await dist('decode/decoder.js');
    const decoder = new PacketDecoder();
    readCaptureFileSync(file, (rec) => {
      packets++;
      decoder.decode(rec);
    });
  } else {
    const { Analyzer } = await dist('pipeline.js');
    let batch = null;
    let json = null;
    if (stage === 'report') {
      const { JsonFlowStream } = await dist('report/json.js');
      const { TextBatch } = await dist('cli/io.js');
      // As analyze writes it: 64 KiB batches, each encoded to UTF-8 (the bytes are then dropped).
      batch = new TextBatch((s) => (outputBytes += Buffer.from(s, 'utf8').length));
      json = new JsonFlowStream(batch.write, { detail: true });
    }
    const analyzer = new Analyzer({
      file,
      keepEvents: false,
      retainFlows: false,
      dissect: stage !== 'flows',
      onFlowJudged: (f) => {
        flows++;
        json?.flow(f);
      },
    });
    const info = readCaptureFileSync(file, (rec) => {
      packets++;
      analyzer.onRecord(rec);
    });
    const result = analyzer.finish(info);
    if (json) {
      json.end(result);
      batch.flush();
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return { stage, packets, flows, seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, outputBytes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [stage, file] = process.argv.slice(2);
  if (!STAGES.includes(stage) || !file) {
    process.stderr.write(`usage: node scripts/lib/bench-stage.mjs ${STAGES.join('|')} FILE\n`);
    process.exitCode = 2;
  } else process.stdout.write(`${JSON.stringify(await run(stage, file))}\n`);
}

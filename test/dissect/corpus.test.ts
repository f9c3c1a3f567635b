// Public traces from the capture corpus (test/helpers/corpus.ts), checked against the oracles stored
// beside them: Zeek's http.log/websocket.log baselines and tshark's counts (`websocket: N`,
// `http.response.code==101: N`).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { useCorpus } from '../helpers/corpus.js';
import { readFlows, replay } from './extract.js';

const corpus = useCorpus();
const trace = (p: string) => corpus.path(p);

/** Rows of a Zeek TSV log as objects keyed by the #fields names. */
function zeekLog(file: string): Record<string, string>[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const fields = lines.find((l) => l.startsWith('#fields'))!.split('\t').slice(1);
  return lines.filter((l) => l && !l.startsWith('#')).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i], v])));
}

/** "websocket: 9" style counts from a .tshark.txt oracle. */
function tsharkCount(file: string, key: string): number {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${key}: `));
  return Number(line!.slice(key.length + 2));
}

const onlyFlow = (file: string) => {
  const flows = [...readFlows(file).values()];
  expect(flows).toHaveLength(1);
  return replay(flows[0]).facts;
};

corpus.describe('dissection of corpus traces agrees with Zeek and tshark', () => {
  it('zeek/http/websocket.pcap: handshake as in http.log and websocket.log, frame count as tshark', () => {
    const file = trace('zeek/http/websocket.pcap');
    const f = onlyFlow(file);
    const [http] = zeekLog(`${file}.zeek-http.log`);
    const [ws] = zeekLog(`${file}.zeek-websocket.log`);
    expect(f.protocol).toBe('websocket');
    const ex = f.http[0];
    expect(ex.request).toMatchObject({ method: http.method, target: http.uri, version: http.version });
    expect(ex.request!.headers.host).toBe(http.host);
    expect(ex.request!.headers['user-agent']).toBe(http.user_agent);
    expect(ex.response).toMatchObject({ status: Number(http.status_code), reason: http.status_msg });
    expect(f.websocket).toMatchObject({
      subprotocol: ws.subprotocol,
      offeredProtocols: ws.client_protocols,
      offeredExtensions: ws.client_extensions,
      extensions: ws.server_extensions === '-' ? null : ws.server_extensions,
      acceptValid: true,
      errors: [],
    });
    const frames = (side: Record<string, number>) => side.text + side.binary + side.ping + side.pong + side.close + side.continuation + side.invalid;
    expect(frames(f.websocket!.frames.client as unknown as Record<string, number>) + frames(f.websocket!.frames.server as unknown as Record<string, number>)).toBe(
      tsharkCount(`${file}.tshark.txt`, 'websocket'),
    );
    expect(f.http.filter((e) => e.response?.status === 101)).toHaveLength(tsharkCount(`${file}.tshark.txt`, 'http.response.code==101'));
    expect(f.websocket!.close).toMatchObject({ initiator: 'client', answered: true });
    expect(f.errors).toEqual([]);
  });

  it('zeek/http/get.pcap: one complete GET and response, no errors', () => {
    const f = onlyFlow(trace('zeek/http/get.pcap'));
    expect(f.protocol).toBe('http');
    expect(f.http).toHaveLength(1);
    expect(f.http[0].request).toMatchObject({ method: 'GET', complete: true });
    expect(f.http[0].response).toMatchObject({ complete: true });
    expect(f.http[0].response!.bodyBytes).toBeGreaterThan(0);
    expect(f.errors).toEqual([]);
  });

  it('zeek/http/get-to-ssh-server.pcap: the answer to a GET is an SSH banner', () => {
    const f = onlyFlow(trace('zeek/http/get-to-ssh-server.pcap'));
    expect(f.http[0].response).toBeNull();
    expect(f.errors).toHaveLength(1);
    expect(f.errors[0]).toMatchObject({ code: 'HTTP_NON_HTTP_RESPONSE', dir: 1, streamOffset: 0 });
    expect(f.errors[0].bytesText).toMatch(/^SSH-2\.0-/);
  });
});

import { describe, expect, it } from 'vitest';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';
import { udpFrame, type Frame } from '../helpers/packets.js';

// A silence is judged only as long as the capture shows it watched the flow: up to the file's end,
// unless a seam of captures joined together (the clock stepping back, or no packet at all for longer
// than the idle timeout) follows the flow, or, in a file with seams, the flow's hosts are not seen again.

const client = { client: '192.168.1.249:40218', server: '213.180.204.186:443' };
/** The same client's other connection, `t` seconds on. */
const later = (t: number, port = 40300) => conv({ client: `192.168.1.249:${port}`, server: '87.250.250.108:443' }).handshake(t).client('PA', t + 0.01, 'hello').server('PA', t + 0.03, 'world').client('A', t + 0.031);
const unanswered = () => conv(client).handshake(0, 0.015).client('PA', 0.5, 'x'.repeat(349)).server('A', 0.513);
const flowOf = (r: ReturnType<typeof analyzeFrames>, c: Conversation) => r.flows.find((f) => f.client === `${c.c.ip}:${c.c.port}`)!;

describe('how long the capture watched a flow', () => {
  it('states a request unanswered until the capture ended, when the file is one capture', () => {
    const c = unanswered();
    const r = analyzeFrames([...c.packets, ...later(20).packets]);
    const v = flowOf(r, c).verdicts.find((x) => x.code === 'no-response')!;
    expect(v.summary).toMatch(/still unanswered 19\.5 s later when the capture ended/);
  });

  it('does not measure a wait across the clock stepping back: the file joins captures, and the one holding the request stopped', () => {
    const c = unanswered();
    // A second recording, stamped an hour before the first, that runs for an hour and a half.
    const r = analyzeFrames([...c.packets, ...later(-3600).packets, ...later(1800, 40301).packets]);
    const verdicts = flowOf(r, c).verdicts;
    expect(verdicts.map((x) => x.code)).not.toContain('no-response');
    const ended = verdicts.find((x) => x.code === 'capture-ended')!;
    expect(ended.summary).toBe("the capture of this flow ended 13 ms after request #4 (last packet #5); the file's clock steps back at #6 (captures joined): too early to judge (an answer could still come; silence counts after 1.00 s)");
    expect(ended.facts).toMatchObject({ watchedUntil: 'seam', seamPacket: 6 });
  });

  it('does not measure a wait across a silence of the whole capture longer than the idle timeout', () => {
    const c = unanswered();
    // Nothing at all for 2442 s, then the same client busy for an hour.
    const r = analyzeFrames([...c.packets, ...later(2442.5).packets, ...later(6000, 40301).packets]);
    const verdicts = flowOf(r, c).verdicts;
    expect(verdicts.map((x) => x.code)).not.toContain('no-response');
    expect(verdicts.find((x) => x.code === 'capture-ended')!.summary).toMatch(/^the capture of this flow ended 13 ms after request #4 \(last packet #5\); then no packet at all for 2442 s, until #6: too early to judge/);
  });

  it('measures half-closed to the end of the capture, not to the flow\'s last packet', () => {
    const c = conv(client).handshake(0).client('PA', 0.1, 'bye').server('A', 0.11).client('FA', 0.5).server('A', 0.501);
    const r = analyzeFrames([...c.packets, ...later(60).packets]);
    const v = flowOf(r, c).verdicts.find((x) => x.code === 'half-closed')!;
    expect(v.summary).toBe("only the client sent a FIN (#6); the server had not closed its side 59.5 s later when the capture ended");
    expect(v.facts.waitedMs).toBe(59_531);
  });

  it('in a file of joined captures, judges a close only as long as the capture holds packets of the flow\'s hosts', () => {
    // A connection whose data the server never acknowledged, closed by the client's FIN; then syslog
    // datagrams of other hosts, the last of them half a year on: captures of other places joined on.
    const c = conv({ client: '10.186.117.194:49948', server: '169.46.82.162:52173' }).handshake(0).client('PA', 0.3, 'x'.repeat(136)).client('FA', 185);
    const syslog = (src: string, t: number) => ({ frame: udpFrame({ src, dst: '196.240.66.148', sport: 514, dport: 514, payload: '<13>log' }), t });
    const joined = (...between: Array<{ frame: Frame; t: number }>) => analyzeFrames([...c.packets, syslog('192.168.254.157', 229), ...between, syslog('10.94.232.21', 16_000_000)]);
    const verdicts = flowOf(joined(), c).verdicts;
    expect(verdicts.map((x) => x.code)).toEqual(['capture-ended']);
    expect(verdicts[0].summary).toBe("the capture holds no packet of 10.186.117.194 or 169.46.82.162 after the client's FIN #5, though the file goes on to #7: too early to judge (an answer could still come; silence counts after 1.00 s)");
    // The server's host seen again in that capture: it still saw the host, and the open side is half-closed.
    const seen = flowOf(joined(syslog('169.46.82.162', 240)), c).verdicts;
    expect(seen.map((x) => x.code)).toEqual(['half-closed']);
    expect(seen[0].summary).toBe("only the client sent a FIN (#5); the server had not closed its side 55.0 s later when the capture of it ended (last packet #7; then no packet at all for 185.2 days, until #8)");
  });
});

// FlowRule.needs lets judgeFlow skip a rule for a flow that does not show what the rule looks for.
// That is right only while the rule says nothing about such a flow: every rule is asked here about
// every flow of the samples, needs or not, and must be silent wherever its needs are not met.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { AnswerLog } from '../../src/rules/answer-log.js';
import { FLOW_RULES, flowShows, type RuleContext } from '../../src/rules/rules.js';

const SAMPLES = 'samples';

describe.skipIf(!existsSync(SAMPLES))('rule needs', () => {
  it('name only what a rule is silent without, on every flow of the samples', () => {
    let skipped = 0;
    for (const name of readdirSync(SAMPLES).filter((n) => n.endsWith('.pcap'))) {
      const r = analyzeFile(join(SAMPLES, name));
      const ctx: RuleContext = { captureEnd: r.capture.end, neighboursUnanswered: new Map(), answers: new AnswerLog() };
      for (const f of r.flows) {
        const shows = flowShows(f);
        for (const rule of FLOW_RULES) {
          if (rule.needs === undefined || (shows & rule.needs) === rule.needs) continue;
          skipped++;
          expect(rule.evaluate(f, ctx), `${name} flow ${f.id}: ${rule.code}`).toBeNull();
        }
      }
    }
    expect(skipped).toBeGreaterThan(0);
  });
});

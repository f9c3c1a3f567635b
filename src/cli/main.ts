import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { STDIN_PATH } from '../capture/open.js';
import { tuneHeap } from '../flow/memcap.js';
import { FAIL_ON_CHOICES, runAnalyze, type AnalyzeOptions } from './commands/analyze.js';
import { LIVE_FORMATS, LIVE_SOURCES, runLive, type LiveOptions } from './commands/live.js';
import { runDiff, type DiffOptions } from './commands/diff.js';
import { runAnalyzeLadder, runFlow, type FlowCommandOptions } from './commands/flow.js';
import { runAnalyzeHtml } from './commands/html.js';
import { CliError, EXIT } from './exit.js';
import { OUTPUT_FORMATS, outputFormatOf } from './format.js';
import { processIo, type CliIo } from './io.js';
import { closestCommand } from './suggest.js';

export const VERSION = '0.1.0';

/** The floors of the slow-* verdicts, on every command that judges flows. */
function withSlowOptions(cmd: Command): Command {
  return cmd
    .option('--slow-handshake <ms>', 'slow-handshake when the SYN-ACK takes this long (default 500)')
    .option('--slow-server <ms>', 'slow-server when an answer takes this long and 10 round trips (default 1000)')
    .option('--slow-client <ms>', 'slow-client when the first request byte comes this long after the handshake (default 1000)');
}

/** Help text after each command's options: examples, then what the exit status means. */
function examplesAndExits(examples: string[], exits: string[]): string {
  return `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n\nExit codes:\n${exits.map((e) => `  ${e}`).join('\n')}`;
}

const EXIT_USAGE_LINE = '2  usage error (unknown command or option, bad value, no such flow)';
const EXIT_INPUT_LINE = '3  unreadable input (missing, empty or not a capture), or no tcpdump to compile a capture filter';

/**
 * A bare capture file means analyze, so commander would take any unknown first word for a file name.
 * A first word that is neither a command nor an existing file is refused here, with the command it
 * most likely meant.
 */
function unknownFirstWord(argv: string[], commands: readonly string[], exists: (path: string) => boolean): string | null {
  const word = argv[0];
  if (word === undefined || word.startsWith('-') || commands.includes(word) || exists(word)) return null;
  const guess = closestCommand(word, commands);
  return guess
    ? `unknown command '${word}' (and no file of that name); did you mean ${guess}?`
    : `'${word}' is neither a command (${commands.filter((c) => c !== 'help').join(', ')}) nor a file`;
}

/** Runs the command line and returns the exit code; never calls process.exit. */
export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  // Before any command runs: all but help read captures (analyze with all its reports, flow, diff,
  // live), and for help the settings cost nothing.
  tuneHeap();
  const program = new Command();
  let result: number = EXIT.OK;
  program
    .name('tcpwhy')
    .description('Reads packet captures and says, flow by flow, why a TCP connection or a WebSocket failed.')
    .version(VERSION)
    .exitOverride()
    // Help widths from io (80 off a terminal, as commander's default): commander would read
    // process.stdout, and that makes a piped stdout non-blocking (see io.ts).
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s), getOutHelpWidth: () => io.columns ?? 80, getErrHelpWidth: () => io.stderrColumns ?? 80 })
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      examplesAndExits(
        ['tcpwhy capture.pcap                      # same as tcpwhy analyze capture.pcap', 'tcpwhy flow capture.pcap 3', 'tcpwhy diff good.pcap bad.pcap', "tcpwhy live -i eth0 'tcp port 443'", 'tcpwhy help analyze                      # options of one command'],
        ['0  done', '1  a verdict at or above --fail-on (analyze, flow, diff)', EXIT_USAGE_LINE, `${EXIT_INPUT_LINE}, or live capture not possible`],
      ),
    );

  withSlowOptions(program.command('analyze', { isDefault: true }))
    .description('analyse capture files (pcap or pcapng; - reads standard input)')
    .argument('<files...>', "capture files, then optionally a capture filter in pcap-filter syntax ('tcp port 80 and host 10.0.0.5')")
    .addOption(new Option('--format <format>', "the report (default table): json is one document, jsonl a line per flow as it ends, then a summary line; zeek is Zeek's conn.log (TSV, as zeek-cut reads), zeek-json the same as JSON lines").choices(OUTPUT_FORMATS))
    .option('--json', 'shorthand for --format json')
    .option('--detail', 'json, jsonl: every field of each flow (HTTP, WebSocket, TLS, handshake, analysis counters), not the compact flow')
    .option('--only-problems', 'list only flows with a warning or error (the default; with --all, overrides it)')
    .option('--all', 'list every flow, healthy ones too (after the problem flows)')
    .option('--width <columns>', 'fit the report to this many columns (default: the terminal width, 100 when piped)')
    .option('--flow <id>', 'show only this flow (as a ladder timeline in the table format)')
    .option('--max-lines <n>', 'ladder: show at most this many packet lines, folding the rest (0: all; default 200)')
    .option('--filter <expr>', "flows matching 'host ADDR', 'net ADDR/LEN', 'port N', 'ADDR[:PORT]', each optionally after src|client or dst|server, joined with 'and'")
    .option('--html <file>', 'write a self-contained HTML report (summary, problem groups, timeline, ladders) to this file (-: stdout)')
    .option('--bpf <expr>', 'capture filter in pcap-filter syntax, as tcpdump takes it (also as the words after the files)')
    .option('--quiet', 'no progress line on stderr while a large capture is read')
    .addOption(new Option('--fail-on <severity>', 'exit 1 if any verdict is at or above this severity').choices(FAIL_ON_CHOICES))
    .option('--idle-timeout <seconds>', 'finish flows idle this long (default 300, as Zeek)')
    .option('--zeek-verdicts <file>', 'with --format zeek or zeek-json: also write tcpwhy.log, one row per verdict keyed by conn.log uid, to this file')
    .option('--memcap <size>', 'memory budget for open flows, reassembly and dissectors (default 512M); near it, load is shed and said')
    .option('--workers <n>', 'threads to analyse with (default 1): with several files, n of them are analysed at once, one per thread; with one, the HTTP, WebSocket and TLS dissectors run in n-1 of them, for the table, JSON and Zeek reports; the report is the same')
    .addHelpText(
      'after',
      examplesAndExits(
        [
          'tcpwhy analyze capture.pcap',
          "tcpwhy analyze capture.pcap 'tcp port 443 and host 10.0.0.5'   # capture filter, as tcpdump takes it",
          'tcpwhy analyze capture.pcap --only-problems --filter "dst port 443 and src net 10.0.0.0/8"',
          'tcpwhy analyze capture.pcap --json | jq .verdicts',
          "tcpwhy analyze capture.pcap --format jsonl --detail | jq -c 'select(.type == \"flow\") | .http'",
          'tcpdump -U -w - -i eth0 | tcpwhy analyze -',
          'tcpwhy analyze capture.pcap --fail-on error   # in CI: exit 1 on any error verdict',
          'tcpwhy analyze capture.pcap --format zeek | zeek-cut id.orig_h id.resp_p conn_state history',
        ],
        ['0  analysed (whatever the verdicts, unless --fail-on)', '1  a verdict (of a flow shown, or of the capture) at or above --fail-on', EXIT_USAGE_LINE, EXIT_INPUT_LINE],
      ),
    )
    .action(async (files: string[], opts: AnalyzeOptions & { maxLines?: string; html?: string }) => {
      if (opts.html !== undefined) result = runAnalyzeHtml(files, { ...opts, html: opts.html }, io);
      else result = opts.flow !== undefined && outputFormatOf(opts) === 'table' ? runAnalyzeLadder(files, opts, io) : await runAnalyze(files, opts, io);
    });

  withSlowOptions(program.command('flow'))
    .description('ladder timeline of one flow: one line per packet, client on the left, server on the right')
    .argument('<file>', 'capture file')
    .argument('<id>', 'flow id from the analyze table')
    .argument('[filter...]', 'capture filter (pcap-filter syntax), the same as when the flow id was read')
    .option('--bpf <expr>', 'capture filter in pcap-filter syntax (the same as the trailing words)')
    .option('--quiet', 'no progress line on stderr while a large capture is read')
    .option('--max-lines <n>', 'show at most this many packet lines, folding the rest (0: all; default 200)')
    .option('--width <columns>', 'fit the ladder to this many columns (default: the terminal width, 100 when piped)')
    .option('--json', 'write the flow and its packets as JSON')
    .option('--html <file>', 'write the ladder as a self-contained HTML page (SVG) to this file (-: stdout)')
    .option('--idle-timeout <seconds>', 'finish flows idle this long (default 300, as Zeek)')
    .addOption(new Option('--fail-on <severity>', 'exit 1 if any verdict of the flow is at or above this severity').choices(FAIL_ON_CHOICES))
    .addHelpText(
      'after',
      examplesAndExits(
        ['tcpwhy flow capture.pcap 3', 'tcpwhy flow capture.pcap 3 --max-lines 0        # every packet', 'tcpwhy flow capture.pcap 3 --json', "tcpwhy flow capture.pcap 2 'tcp port 8080'      # flow 2 of the packets the capture filter keeps"],
        ['0  shown (whatever the verdicts, unless --fail-on)', '1  a verdict of the flow at or above --fail-on', EXIT_USAGE_LINE, EXIT_INPUT_LINE],
      ),
    )
    .action((file: string, id: string, filter: string[], opts: FlowCommandOptions) => {
      result = runFlow(file, id, filter, opts, io);
    });

  program
    .command('diff')
    .description('compare a good and a bad flow: ranked differences, where they diverge, and why')
    .argument('<good>', 'FILE or FILE#ID: the flow that worked')
    .argument('<bad>', 'FILE or FILE#ID: the flow that failed')
    .argument('[filter...]', 'capture filter (pcap-filter syntax) applied to both captures')
    .option('--bpf <expr>', 'capture filter in pcap-filter syntax (the same as the trailing words)')
    .option('--quiet', 'no progress line on stderr while a large capture is read')
    .option('--filter-good <expr>', 'pick the GOOD flow among those matching (same syntax as analyze --filter)')
    .option('--filter-bad <expr>', 'pick the BAD flow among those matching (same syntax as analyze --filter)')
    .option('--width <columns>', 'fit the comparison to this many columns (default: the terminal width, 100 when piped)')
    .option('--json', 'write one JSON document to stdout')
    .option('--html <file>', 'write a self-contained HTML page with the two ladders side by side to this file (-: stdout)')
    .option('--idle-timeout <seconds>', 'finish flows idle this long (default 300, as Zeek)')
    .addOption(new Option('--fail-on <severity>', 'exit 1 if the BAD flow has a verdict at or above this severity').choices(FAIL_ON_CHOICES))
    .addHelpText(
      'after',
      examplesAndExits(
        [
          'tcpwhy diff good.pcap bad.pcap',
          'tcpwhy diff capture.pcap#2 capture.pcap#7',
          'tcpwhy diff big.pcap big.pcap                  # a healthy flow against a failed one',
          'tcpwhy diff good.pcap bad.pcap --filter-bad "dst port 443"',
          "tcpwhy diff good.pcap bad.pcap 'host 127.0.0.1' # capture filter on both captures",
          'tcpwhy diff good.pcap bad.pcap --fail-on error  # exit 1 while BAD still fails',
        ],
        ['0  compared (whatever the verdicts, unless --fail-on)', "1  the BAD flow's own verdicts reach --fail-on (capture-level verdicts do not count)", EXIT_USAGE_LINE, `${EXIT_INPUT_LINE}, or no TCP flow in it`],
      ),
    )
    .action((good: string, bad: string, filter: string[], opts: DiffOptions) => {
      result = runDiff(good, bad, filter, opts, io);
    });

  withSlowOptions(program.command('live'))
    .description("capture on an interface and say why each flow failed as it ends (BPF filter in tcpdump syntax, e.g. 'tcp port 8080')")
    .argument('[filter...]', 'capture filter (pcap-filter syntax)')
    .option('-i, --interface <name>', 'interface to capture on (see --list)')
    .option('--list', 'list capture interfaces with their addresses and link types')
    .option('--snaplen <bytes>', 'bytes kept per packet (default 262144)')
    .option('--promisc', 'put the interface in promiscuous mode (off by default)')
    .addOption(new Option('--source <source>', 'tcpdump child (kernel timestamps) or cap (in-process libpcap, arrival timestamps)').choices(LIVE_SOURCES).default('tcpdump'))
    .option('--duration <seconds>', 'stop after this long')
    .option('--count <packets>', 'stop after this many packets')
    .option('--write <file>', 'also save the captured packets as a pcap file (pcapng, with the kernel\'s drop count, when it ends in .pcapng)')
    .addOption(new Option('--format <format>', "the output (default table: a line per decided flow, then the table): jsonl is a JSON line per decided flow, then a summary line; zeek and zeek-json a conn.log row per decided flow (TSV or JSON lines)").choices(LIVE_FORMATS))
    .option('--json', 'shorthand for --format jsonl')
    .option('--detail', 'jsonl: every field of each flow, not the compact flow')
    .option('--only-problems', 'show only flows with a warning or error')
    .option('--idle-timeout <seconds>', 'decide flows idle this long (default 300)')
    .option('--memcap <size>', 'memory budget for open flows, reassembly and dissectors (default 512M); near it, load is shed and said')
    .addHelpText(
      'after',
      examplesAndExits(
        ["tcpwhy live -i lo 'tcp port 8080'", "tcpwhy live -i eth0 --duration 60 --write incident.pcap 'host 10.0.0.5 and tcp port 443'", "tcpwhy live -i lo --json 'tcp port 8080' | jq 'select(.type == \"flow\")'", 'tcpwhy live --list'],
        ['0  captured and summarised (Ctrl-C, --duration or --count), or interfaces listed', EXIT_USAGE_LINE, '3  cannot capture: no tcpdump (or libpcap for --source cap), no capture rights, no such interface, bad capture filter'],
      ),
    )
    .action(async (filter: string[], opts: LiveOptions) => {
      result = await runLive(filter, opts, io);
    });

  if (argv.length === 0) {
    // Nothing to do: the help, as commander shows it when a command is missing (on stderr, as an error).
    program.outputHelp({ error: true });
    return EXIT.USAGE;
  }
  const commands = [...program.commands.map((c) => c.name()), 'help'];
  const unknown = unknownFirstWord(argv, commands, (path) => path === STDIN_PATH || existsSync(path));
  if (unknown) {
    io.stderr(`tcpwhy: ${unknown}\n(tcpwhy --help lists the commands)\n`);
    return EXIT.USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    if (err instanceof CliError) {
      io.stderr(`tcpwhy: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`tcpwhy: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.INPUT;
  }
}

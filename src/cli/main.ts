import { Command, CommanderError, Option } from 'commander';
import { FAIL_ON_CHOICES, runAnalyze, type AnalyzeOptions } from './commands/analyze.js';
import { LIVE_SOURCES, runLive, type LiveOptions } from './commands/live.js';
import { runDiff, type DiffOptions } from './commands/diff.js';
import { runAnalyzeLadder, runFlow, type FlowCommandOptions } from './commands/flow.js';
import { CliError, EXIT } from './exit.js';
import { processIo, type CliIo } from './io.js';

export const VERSION = '0.1.0';

/** The floors of the slow-* verdicts, on every command that judges flows. */
function withSlowOptions(cmd: Command): Command {
  return cmd
    .option('--slow-handshake <ms>', 'slow-handshake when the SYN-ACK takes this long (default 500)')
    .option('--slow-server <ms>', 'slow-server when an answer takes this long and 10 round trips (default 1000)')
    .option('--slow-client <ms>', 'slow-client when the first request byte comes this long after the handshake (default 1000)');
}

/** Runs the command line and returns the exit code; never calls process.exit. */
export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = new Command();
  let result: number = EXIT.OK;
  program
    .name('tcpwhy')
    .description('Reads packet captures and says, flow by flow, why a TCP connection or a WebSocket failed.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showSuggestionAfterError();

  withSlowOptions(program.command('analyze', { isDefault: true }))
    .description('analyse capture files (pcap or pcapng; - reads standard input)')
    .argument('<files...>', 'capture files')
    .option('--json', 'write one JSON document to stdout')
    .option('--only-problems', 'show only flows with a warning or error')
    .option('--flow <id>', 'show only this flow (as a ladder timeline, unless --json)')
    .option('--max-lines <n>', 'ladder: show at most this many packet lines, folding the rest (0: all; default 200)')
    .option('--filter <expr>', "flows matching 'host ADDR', 'port N', 'client ADDR[:PORT]', 'server ADDR[:PORT]', joined with 'and'")
    .addOption(new Option('--fail-on <severity>', 'exit 1 if any verdict is at or above this severity').choices(FAIL_ON_CHOICES))
    .option('--idle-timeout <seconds>', 'finish flows idle this long (default 300, as Zeek)')
    .action(async (files: string[], opts: AnalyzeOptions & { maxLines?: string }) => {
      result = opts.flow !== undefined && !opts.json ? await runAnalyzeLadder(files, opts, io) : await runAnalyze(files, opts, io);
    });

  withSlowOptions(program.command('flow'))
    .description('ladder timeline of one flow: one line per packet, client on the left, server on the right')
    .argument('<file>', 'capture file')
    .argument('<id>', 'flow id from the analyze table')
    .option('--max-lines <n>', 'show at most this many packet lines, folding the rest (0: all; default 200)')
    .option('--json', 'write the flow and its packets as JSON')
    .option('--idle-timeout <seconds>', 'finish flows idle this long (default 300, as Zeek)')
    .addOption(new Option('--fail-on <severity>', 'exit 1 if any verdict of the flow is at or above this severity').choices(FAIL_ON_CHOICES))
    .action(async (file: string, id: string, opts: FlowCommandOptions) => {
      result = await runFlow(file, id, opts, io);
    });

  program
    .command('diff')
    .description('compare a good and a bad flow: ranked differences, where they diverge, and why')
    .argument('<good>', 'FILE or FILE#ID: the flow that worked')
    .argument('<bad>', 'FILE or FILE#ID: the flow that failed')
    .option('--filter-good <expr>', 'pick the GOOD flow among those matching (same syntax as analyze --filter)')
    .option('--filter-bad <expr>', 'pick the BAD flow among those matching (same syntax as analyze --filter)')
    .option('--json', 'write one JSON document to stdout')
    .option('--idle-timeout <seconds>', 'finish flows idle this long (default 300, as Zeek)')
    .action(async (good: string, bad: string, opts: DiffOptions) => {
      result = await runDiff(good, bad, opts, io);
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
    .option('--write <file>', 'also save the captured packets as a pcap file')
    .option('--json', 'one JSON object per decided flow (JSON lines), then the summary document')
    .option('--only-problems', 'show only flows with a warning or error')
    .option('--idle-timeout <seconds>', 'decide flows idle this long (default 300)')
    .action(async (filter: string[], opts: LiveOptions) => {
      result = await runLive(filter, opts, io);
    });

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

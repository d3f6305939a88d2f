/**
 * In-memory input history for history_request (tail, range, search), kept for
 * the life of the kernel process. Entries are [session, line, input] or, with
 * `output`, [session, line, [input, output]] as in IPython's history reply.
 */
export interface HistoryRequest {
  output?: boolean;
  hist_access_type?: "tail" | "range" | "search";
  session?: number;
  start?: number;
  stop?: number;
  n?: number;
  pattern?: string;
  unique?: boolean;
}

type Entry = { line: number; input: string; output: string | null };
type Row = [number, number, string | [string, string | null]];

/** The one session of this kernel process (IPython numbers sessions from 1; 0 means "current"). */
const SESSION = 1;

export class History {
  private readonly entries: Entry[] = [];

  add(line: number, input: string, output: string | null): void {
    this.entries.push({ line, input, output });
  }

  query(req: HistoryRequest): Row[] {
    const row = (e: Entry): Row => [SESSION, e.line, req.output ? [e.input, e.output] : e.input];
    switch (req.hist_access_type) {
      case "tail":
        return this.entries.slice(-Math.max(0, req.n ?? 10)).map(row);
      case "range": {
        if (req.session !== undefined && req.session !== 0 && req.session !== SESSION) return [];
        const start = req.start ?? 1;
        const stop = req.stop ?? Infinity;
        return this.entries.filter((e) => e.line >= start && e.line < stop).map(row);
      }
      case "search": {
        const re = globToRegExp(req.pattern ?? "*");
        let hits = this.entries.filter((e) => re.test(e.input));
        if (req.unique) {
          const seen = new Set<string>();
          hits = hits.reverse().filter((e) => !seen.has(e.input) && seen.add(e.input)).reverse();
        }
        return (req.n ? hits.slice(-req.n) : hits).map(row);
      }
      default:
        return [];
    }
  }
}

/** IPython's search pattern is a glob over the whole input (`*` any run, `?` one character). */
function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}

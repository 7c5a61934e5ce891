/**
 * YAML with Go-template holes. Manifests are edited as plain objects in which a hole is a token string; the
 * object is stringified with the yaml package and each token is then replaced by its template text. That keeps
 * the YAML well-formed however the source changes, and keeps the template syntax out of the object model.
 */
import { stringify } from 'yaml';

/** A block hole fills whole lines, indented where its token stood; `col` is that column. */
type Block = (col: number, key: string | undefined) => string[];

const TOKEN = /__hole(\d+)__/g;
/** `key: <token>`, `- <token>` or `<token>: null` alone on a line */
const BLOCK_LINE = /^( *)(?:- |([^\s:]+): )?__hole(\d+)__(?:: null)?$/;

export class Holes {
  private readonly inline = new Map<number, string>();
  private readonly blocks = new Map<number, Block>();

  private token(): [number, string] {
    const n = this.inline.size + this.blocks.size;
    return [n, `__hole${n}__`];
  }

  /** A scalar, or part of one, that renders as `{{ expr }}`. */
  value(expr: string): string {
    const [n, t] = this.token();
    this.inline.set(n, `{{ ${expr} }}`);
    return t;
  }

  /** Lines of template text in place of a map entry, a list item or a map key (whose value is null). */
  block(fill: Block): string {
    const [n, t] = this.token();
    this.blocks.set(n, fill);
    return t;
  }

  /** `key:` and the value's YAML, only when `expr` is set (non-empty). */
  optionalYaml(expr: string): string {
    return this.block((col, key) => [`{{- with ${expr} }}`, `${key ?? ''}:`, `  {{- toYaml . | nindent ${col + 2} }}`, '{{- end }}']);
  }

  /** The map entries of a named template, e.g. the chart's common labels. */
  include(name: string): string {
    return this.block((col) => [`{{- include "${name}" . | nindent ${col} }}`]);
  }

  /** A list item present only when `cond` holds. */
  itemWhen(cond: string, item: unknown): string {
    return this.block(() => [`{{- if ${cond} }}`, ...yaml([item]).trimEnd().split('\n'), '{{- end }}']);
  }

  /** Template text for YAML the holes were placed in. */
  render(text: string): string {
    const out: string[] = [];
    // literal `{{` in the sources (a CRD description) must not be read as a template action
    for (const line of text.replaceAll('{{', '{{ "{{" }}').split('\n')) {
      const m = BLOCK_LINE.exec(line);
      const fill = m ? this.blocks.get(Number(m[3])) : undefined;
      if (m && fill) {
        const col = m[1]?.length ?? 0;
        out.push(...fill(col, m[2]).map((l) => ' '.repeat(col) + l));
        continue;
      }
      out.push(line.replace(TOKEN, (t, n: string) => {
        const expr = this.inline.get(Number(n));
        if (expr === undefined) throw new Error(`hole ${t} is not a scalar`);
        return expr;
      }));
    }
    return out.join('\n');
  }
}

/** The repository's YAML style (as crds/ is written): block style, no line folding. */
export const yaml = (v: unknown): string => stringify(v, { lineWidth: 0 });

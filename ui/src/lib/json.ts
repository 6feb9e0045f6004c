/** A tiny tokenizer for pretty-printed JSON, for colouring in JsonView. */
export type JsonTokenKind = "key" | "string" | "number" | "literal" | "punct" | "space";
export interface JsonToken {
  kind: JsonTokenKind;
  text: string;
}

const TOKEN = /("(?:\\.|[^"\\])*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)|([{}[\],:])|(\s+)|(.)/g;

export function tokenizeJson(text: string): JsonToken[] {
  const out: JsonToken[] = [];
  for (const m of text.matchAll(TOKEN)) {
    if (m[1] !== undefined) {
      if (m[2] !== undefined) {
        out.push({ kind: "key", text: m[1] }, { kind: "punct", text: m[2] });
      } else {
        out.push({ kind: "string", text: m[1] });
      }
    } else if (m[3] !== undefined) out.push({ kind: "number", text: m[3] });
    else if (m[4] !== undefined) out.push({ kind: "literal", text: m[4] });
    else if (m[5] !== undefined) out.push({ kind: "punct", text: m[5] });
    else if (m[6] !== undefined) out.push({ kind: "space", text: m[6] });
    else out.push({ kind: "punct", text: m[7] ?? "" });
  }
  return out;
}

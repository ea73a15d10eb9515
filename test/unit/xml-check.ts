/**
 * Checks that a document is well-formed XML, for tests. It accepts an XML declaration,
 * comments, elements with quoted attributes (each name at most once) and balanced tags. Text
 * and attribute values may hold only the five predefined entities and character references.
 * Returns the element names and text parts in document order, or throws a SyntaxError with
 * the offset.
 */
export function parseXml(text: string): { elements: string[]; texts: string[] } {
  const elements: string[] = [];
  const texts: string[] = [];
  const stack: string[] = [];
  const name = "[A-Za-z_][A-Za-z0-9_.:-]*";
  const attribute = new RegExp(`^\\s+(${name})\\s*=\\s*("[^"<]*"|'[^'<]*')`);
  let position = 0;
  let rootSeen = false;

  const fail = (problem: string): never => {
    throw new SyntaxError(`${problem} at offset ${position}`);
  };
  const checkEntities = (chunk: string) => {
    for (const match of chunk.matchAll(/&([^;\s]*);?/g)) {
      if (
        !match[0].endsWith(";") ||
        !/^(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+)$/.test(match[1] ?? "")
      ) {
        fail(`invalid entity ${JSON.stringify(match[0])}`);
      }
    }
  };

  if (text.startsWith("<?xml")) {
    const end = text.indexOf("?>");
    position = end < 0 ? fail("unterminated XML declaration") : end + 2;
  }
  while (position < text.length) {
    const next = text.indexOf("<", position);
    const chunk = text.slice(position, next < 0 ? text.length : next);
    if (chunk.trim() !== "") {
      if (stack.length === 0) {
        fail("text outside the root element");
      }
      checkEntities(chunk);
      texts.push(chunk);
    }
    if (next < 0) {
      break;
    }
    position = next;
    if (text.startsWith("<!--", position)) {
      const end = text.indexOf("-->", position);
      position = end < 0 ? fail("unterminated comment") : end + 3;
      continue;
    }
    const closing = new RegExp(`^</(${name})\\s*>`).exec(text.slice(position));
    if (closing) {
      const open = stack.pop();
      if (open !== closing[1]) {
        fail(`closing tag </${closing[1] ?? ""}> does not match <${open ?? "nothing"}>`);
      }
      position += closing[0].length;
      continue;
    }
    const opening = new RegExp(`^<(${name})`).exec(text.slice(position));
    if (!opening || opening[1] === undefined) {
      return fail("invalid markup");
    }
    if (stack.length === 0 && rootSeen) {
      fail("second root element");
    }
    rootSeen = true;
    position += opening[0].length;
    const seen = new Set<string>();
    for (;;) {
      const match = attribute.exec(text.slice(position));
      if (!match || match[1] === undefined || match[2] === undefined) {
        break;
      }
      if (seen.has(match[1])) {
        fail(`attribute ${match[1]} given twice`);
      }
      seen.add(match[1]);
      checkEntities(match[2]);
      position += match[0].length;
    }
    const end = /^\s*(\/?)>/.exec(text.slice(position));
    if (!end) {
      return fail(`invalid attribute or unterminated tag <${opening[1]}>`);
    }
    elements.push(opening[1]);
    if (end[1] !== "/") {
      stack.push(opening[1]);
    }
    position += end[0].length;
  }
  if (stack.length > 0) {
    fail(`unclosed element <${stack.at(-1) ?? ""}>`);
  }
  if (!rootSeen) {
    fail("no root element");
  }
  return { elements, texts };
}

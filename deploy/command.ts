/**
 * A gcloud command as an argument vector, and how it reads as shell text.
 *
 * Arguments may name a variable found at run time (`${PROJECT_NUMBER}`, a
 * subscription name): the runner substitutes them, and the printed form keeps
 * them inside double quotes so the dry-run text still reads as a shell script.
 */

export type Command = readonly string[];

const VARIABLE = /\$\{([A-Z][A-Z0-9_]*)\}/g;
const HAS_VARIABLE = /\$\{[A-Z][A-Z0-9_]*\}/;
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function variablesIn(command: Command): string[] {
  const names = new Set<string>();
  for (const arg of command) {
    for (const m of arg.matchAll(VARIABLE)) {
      names.add(m[1]);
    }
  }
  return [...names];
}

/** Replaces `${NAME}` with its value; throws if a value is missing. */
export function substitute(
  command: Command,
  values: ReadonlyMap<string, string>,
): string[] {
  return command.map(arg =>
    arg.replace(VARIABLE, (_, name: string) => {
      const value = values.get(name);
      if (value === undefined) {
        throw new Error(
          `Internal error: \${${name}} is used before a lookup step set it.`,
        );
      }
      return value;
    }),
  );
}

/** Like substitute, for text shown to people: unknown variables stay as they are. */
export function substituteText(
  text: string,
  values: ReadonlyMap<string, string>,
): string {
  return text.replace(
    VARIABLE,
    (whole, name: string) => values.get(name) ?? whole,
  );
}

function quote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) {
    return arg;
  }
  if (HAS_VARIABLE.test(arg)) {
    // Keep ${VAR} expandable; escape what double quotes would otherwise interpret.
    const escaped = arg
      .replace(/[\\"`]/g, c => `\\${c}`)
      .replace(/\$(?!\{[A-Z][A-Z0-9_]*\})/g, '\\$');
    return `"${escaped}"`;
  }
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

/** Shell text for a command, one that bash would split back into the same arguments. */
export function renderCommand(command: Command): string {
  return command.map(quote).join(' ');
}

import type { ArgDef } from "citty";

/** A command's name, one-line description, and its flags (long names, with short aliases). */
export interface CompletionCommand {
  readonly name: string;
  readonly description: string;
  readonly flags: readonly { readonly long: string; readonly short?: string; readonly description: string; readonly takesValue: boolean }[];
}

/** Transport prefixes offered where an image reference goes (skopeo's spelling). */
export const transportPrefixes = ["docker://", "oci:", "oci-archive:", "dir:", "docker-archive:", "static:"] as const;

export function completionCommand(name: string, description: string, args: Record<string, ArgDef>): CompletionCommand {
  const flags = Object.entries(args)
    .filter(([, def]) => def.type !== "positional")
    .map(([long, def]) => ({
      long,
      ...("alias" in def && typeof def.alias === "string" ? { short: def.alias } : {}),
      description: def.description ?? "",
      takesValue: def.type === "string",
    }));
  return { name, description, flags };
}

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** bash: subcommands, each command's flags, transport prefixes and file names for everything else. */
export function bashCompletion(commands: readonly CompletionCommand[]): string {
  const cases = commands.map((c) => `    ${c.name}) flags=${quote(c.flags.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]).join(" "))} ;;`).join("\n");
  return `# stevedore completion for bash: source it, or save it as /etc/bash_completion.d/stevedore
_stevedore() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" command="\${COMP_WORDS[1]}" flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quote(commands.map((c) => c.name).join(" "))} -- "$cur"))
    return
  fi
  case "$command" in
${cases}
  esac
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$flags" -- "$cur")) ;;
    *) compopt -o nospace 2>/dev/null
       COMPREPLY=($(compgen -W ${quote(transportPrefixes.join(" "))} -- "$cur") $(compgen -f -- "$cur")) ;;
  esac
}
complete -F _stevedore stevedore
`;
}

/** zsh: the bash function through zsh's bashcompinit, which every zsh ships. */
export function zshCompletion(commands: readonly CompletionCommand[]): string {
  return `# stevedore completion for zsh: source it from ~/.zshrc
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(commands).split("\n").slice(1).join("\n")}`;
}

/** fish: subcommands with their descriptions, then each command's flags. */
export function fishCompletion(commands: readonly CompletionCommand[]): string {
  const lines = ["# stevedore completion for fish: save it as ~/.config/fish/completions/stevedore.fish", "complete -c stevedore -f"];
  for (const c of commands) lines.push(`complete -c stevedore -n __fish_use_subcommand -a ${c.name} -d ${quote(c.description)}`);
  for (const c of commands) {
    for (const f of c.flags) {
      lines.push(`complete -c stevedore -n ${quote(`__fish_seen_subcommand_from ${c.name}`)} -l ${f.long}${f.short ? ` -s ${f.short}` : ""}${f.takesValue ? " -r" : ""} -d ${quote(f.description)}`);
    }
  }
  lines.push(`complete -c stevedore -n 'not __fish_use_subcommand' -a ${quote(transportPrefixes.join(" "))} -F`);
  return `${lines.join("\n")}\n`;
}

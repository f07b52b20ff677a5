import { type ArgDef, defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { commonArgs, required } from "../args.ts";
import { bashCompletion, completionCommand, fishCompletion, zshCompletion } from "../completion.ts";
import { printLines } from "../render.ts";
import { commandNames, loadCommand } from "../root.ts";

export const examples = [
  "source <(stevedore completion bash)",
  "stevedore completion zsh > ~/.zsh-stevedore && echo 'source ~/.zsh-stevedore' >> ~/.zshrc",
  "stevedore completion fish > ~/.config/fish/completions/stevedore.fish",
];

const shells = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion };

export default defineCommand({
  meta: { name: "completion", description: "Print a shell completion script (bash, zsh or fish): commands, flags, transports, files" },
  args: { shell: { type: "positional", description: "bash, zsh or fish" }, ...commonArgs },
  async run({ args }) {
    const shell = required(args.shell, "SHELL");
    if (!Object.hasOwn(shells, shell)) throw new UsageError(`no completion for "${shell}": choose bash, zsh or fish`);
    const commands = await Promise.all(
      commandNames.map(async (name) => {
        const { default: def } = (await loadCommand(name))!;
        const meta = (typeof def.meta === "function" ? await def.meta() : await def.meta) ?? {};
        const defArgs = (typeof def.args === "function" ? await def.args() : await def.args) ?? {};
        return completionCommand(name, meta.description ?? "", defArgs as Record<string, ArgDef>);
      }),
    );
    printLines([shells[shell as keyof typeof shells](commands).trimEnd()]);
  },
});

import { MergelabError } from "../../kernel/errors.js";

export async function run(_argv: string[]): Promise<number> {
  throw new MergelabError("'kernel' is not built yet");
}

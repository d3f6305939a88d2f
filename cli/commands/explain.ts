import { MergelabError } from "../../kernel/errors.js";

export async function run(_argv: string[]): Promise<number> {
  throw new MergelabError("'explain' is not built yet");
}

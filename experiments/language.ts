/** Runs experiments/what-matters.merge with the merge language (filled in when dsl/ provides Session). */
import type { Profile } from "../stdlib/eval/study.js";
import type { GridResult } from "./grid.js";
import { MergelabError } from "../kernel/errors.js";

export async function runGridLanguage(script: string, profile: Profile, cacheDir: string, log: (l: string) => void): Promise<GridResult> {
  void script; void profile; void cacheDir; void log;
  throw new MergelabError("the merge language driver is not available yet; use --driver typescript");
}

/** Every built-in merge method's spec (the registry lists these). */
import type { FunctionSpec } from "../spec.js";
import { specs as gta } from "./gta.js";
import { specs as linear } from "./linear.js";
import { specs as slerp } from "./slerp.js";
import { specs as modelStock } from "./model_stock.js";
import { specs as passthrough } from "./passthrough.js";
import { specs as nearswap } from "./nearswap.js";
import { specs as multislerp } from "./multislerp.js";
import { specs as sce } from "./sce.js";
import { specs as ram } from "./ram.js";
import { specs as nuslerp } from "./nuslerp.js";
import { specs as karcher } from "./karcher.js";
import { specs as arceeFusion } from "./arcee_fusion.js";

export const specs: FunctionSpec[] = [...linear, ...gta, ...slerp, ...modelStock, ...passthrough, ...nearswap, ...multislerp, ...sce, ...ram, ...nuslerp, ...karcher, ...arceeFusion];
